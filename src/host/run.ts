import { execa } from "execa";
import { redactArgv } from "../core/chap";
import type { Argv } from "../core/commands";
import { FailedError, oneLine } from "../core/errors";
import type { Deadline } from "./clock";
import type { Log } from "./log";
import { toolPath } from "./paths";

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A host command failed: its argv (secrets redacted in the message) and its exit status, if it ended. */
export class CommandError extends FailedError {
  constructor(
    message: string,
    readonly argv: Argv,
    /** The exit status; null when it was killed, could not start or was not started. */
    readonly status: number | null,
    /** The program is not installed (ENOENT). */
    readonly notFound = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Where time went, per program (iscsiadm, mdadm, ...) and for waits: for the lab's numbers. */
export class Timings {
  readonly ms = new Map<string, number>();
  private readonly t0 = performance.now();
  add(what: string, ms: number): void {
    this.ms.set(what, (this.ms.get(what) ?? 0) + ms);
  }
  /** "timing: total T ms, outside T ms, iscsiadm a ms, ...": outside = host commands and device waits. */
  summary(): string {
    const outside = [...this.ms.values()].reduce((a, b) => a + b, 0);
    const parts = [...this.ms].map(([k, v]) => `${k} ${Math.round(v)} ms`);
    return `timing: total ${Math.round(performance.now() - this.t0)} ms, outside ${Math.round(outside)} ms${parts.length ? `, ${parts.join(", ")}` : ""}`;
  }
}

export interface ChildWatcher {
  started(pid: number, argv0: string): void;
  ended(pid: number): void;
}

/**
 * Runs host commands: never through a shell, LC_ALL=C, stdin closed, and killed when the
 * operation's deadline (or the step's own limit) runs out.
 */
export class Runner {
  readonly timings = new Timings();
  watcher: ChildWatcher | null = null;
  constructor(
    private readonly log: Log,
    /** Where the tools are looked up: a fixed PATH, never the inherited one. */
    private readonly path: string = toolPath(),
  ) {}

  async run(argv: Argv, deadline: Deadline, okCodes: readonly number[] = [0]): Promise<RunResult> {
    const [file, ...args] = argv;
    const shownCmd = redactArgv(argv).join(" ");
    const timeout = Math.max(1, Math.floor(deadline.remainingMs()));
    if (deadline.expired()) throw new CommandError(`${shownCmd}: not started, the deadline has passed`, argv, null);
    const t0 = performance.now();
    const child = execa(file, args, {
      reject: false,
      timeout,
      killSignal: "SIGKILL",
      env: { LC_ALL: "C", PATH: this.path },
      stdin: "ignore",
      maxBuffer: 4 * 1024 * 1024,
    });
    if (child.pid !== undefined) this.watcher?.started(child.pid, file);
    const r = await child;
    if (child.pid !== undefined) this.watcher?.ended(child.pid);
    const ms = performance.now() - t0;
    this.timings.add(file, ms);
    const stdout = typeof r.stdout === "string" ? r.stdout : "";
    const stderr = typeof r.stderr === "string" ? r.stderr : "";
    if (r.timedOut) {
      this.log.command(`ran ${shownCmd}: killed after ${Math.round(ms)} ms (deadline)`);
      throw new CommandError(`${shownCmd}: did not finish within ${(timeout / 1000).toFixed(1)} s and was killed`, argv, null);
    }
    const code = typeof r.exitCode === "number" ? r.exitCode : -1;
    this.log.command(`ran ${shownCmd}: exit ${code} in ${Math.round(ms)} ms`);
    if (r.failed && r.exitCode === undefined) {
      const cause = r.code === "ENOENT" ? "command not found" : oneLine(r.shortMessage ?? "could not run");
      throw new CommandError(`${file}: ${cause}`, argv, null, r.code === "ENOENT", { cause: r.cause });
    }
    if (!okCodes.includes(code)) {
      const detail = oneLine(stderr || stdout, 300);
      throw new CommandError(`${shownCmd} failed (exit ${code})${detail ? `: ${detail}` : ""}`, argv, code);
    }
    return { code, stdout, stderr };
  }
}
