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

/** How a host command ended. */
export interface Exited {
  /** The exit status; null when it did not exit by itself (killed, or not started). */
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Killed because its time ran out. */
  readonly timedOut: boolean;
  /** The program is not installed. */
  readonly notFound: boolean;
  /** Why it could not run, when it could not. */
  readonly error: string | null;
  readonly cause?: unknown;
}

/**
 * Starts a host command and tells how it ended: the one seam between the program and the host's
 * processes. Production runs execa; the in-process engine tests put the simulated host's tools here
 * (as os-brick's connectors take an injected executor).
 */
export type Executor = (argv: Argv, o: { readonly timeoutMs: number; readonly env: Readonly<Record<string, string>> }) => { readonly pid: number | undefined; readonly done: Promise<Exited> };

/** Never through a shell, stdin closed, SIGKILL when the time is up. */
export const execaExecutor: Executor = (argv, o) => {
  const [file, ...args] = argv;
  const child = execa(file, args, { reject: false, timeout: o.timeoutMs, killSignal: "SIGKILL", env: o.env, stdin: "ignore", maxBuffer: 4 * 1024 * 1024 });
  const done = child.then(
    (r): Exited => ({
      status: typeof r.exitCode === "number" ? r.exitCode : null,
      stdout: typeof r.stdout === "string" ? r.stdout : "",
      stderr: typeof r.stderr === "string" ? r.stderr : "",
      timedOut: r.timedOut,
      notFound: r.code === "ENOENT",
      error: r.failed && r.exitCode === undefined && !r.timedOut ? oneLine(r.shortMessage ?? "could not run") : null,
      cause: r.cause,
    }),
  );
  return { pid: child.pid, done };
};

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
    private readonly exec: Executor = execaExecutor,
  ) {}

  async run(argv: Argv, deadline: Deadline, okCodes: readonly number[] = [0]): Promise<RunResult> {
    const [file] = argv;
    const shownCmd = redactArgv(argv).join(" ");
    const timeout = Math.max(1, Math.floor(deadline.remainingMs()));
    if (deadline.expired()) throw new CommandError(`${shownCmd}: not started, the deadline has passed`, argv, null);
    const t0 = performance.now();
    const child = this.exec(argv, { timeoutMs: timeout, env: { LC_ALL: "C", PATH: this.path } });
    if (child.pid !== undefined) this.watcher?.started(child.pid, file);
    const r = await child.done;
    if (child.pid !== undefined) this.watcher?.ended(child.pid);
    const ms = performance.now() - t0;
    this.timings.add(file, ms);
    if (r.timedOut) {
      this.log.command(`ran ${shownCmd}: killed after ${Math.round(ms)} ms (deadline)`);
      throw new CommandError(`${shownCmd}: did not finish within ${(timeout / 1000).toFixed(1)} s and was killed`, argv, null);
    }
    const code = r.status ?? -1;
    this.log.command(`ran ${shownCmd}: exit ${code} in ${Math.round(ms)} ms`);
    if (r.error !== null) {
      throw new CommandError(`${file}: ${r.notFound ? "command not found" : r.error}`, argv, null, r.notFound, { cause: r.cause });
    }
    if (!okCodes.includes(code)) {
      const detail = oneLine(r.stderr || r.stdout, 300);
      throw new CommandError(`${shownCmd} failed (exit ${code})${detail ? `: ${detail}` : ""}`, argv, code);
    }
    return { code, stdout: r.stdout, stderr: r.stderr };
  }
}
