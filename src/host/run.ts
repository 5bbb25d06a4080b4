import { redactArgv } from "../core/chap";
import type { Argv } from "../core/commands";
import { FailedError, oneLine } from "../core/errors";
import type { Deadline } from "./clock";
import type { Log } from "./log";
import { toolPath } from "./paths";
import { spawnExecutor, type Executor } from "./executor";

export type { Executor, Exited } from "./executor";

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
  private readonly t0: number;
  constructor(private readonly now: () => number = () => performance.now()) {
    this.t0 = now();
  }
  private readonly open = new Map<string, { n: number; since: number }>();
  add(what: string, ms: number): void {
    this.ms.set(what, (this.ms.get(what) ?? 0) + ms);
  }
  /** Times one call of WHAT; calls of the same kind that overlap count their wall time once. */
  begin(what: string): () => void {
    const o = this.open.get(what) ?? { n: 0, since: 0 };
    this.open.set(what, o);
    if (o.n++ === 0) o.since = this.now();
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      if (--o.n === 0) this.add(what, this.now() - o.since);
    };
  }
  /**
   * "timing: total T ms, outside T ms, iscsiadm a ms, ...; start-up S ms": outside = host commands,
   * xenstore and waits; start-up = from the process's start to the first of them (performance.now()
   * counts from the process's start), before `total`.
   */
  summary(): string {
    const outside = [...this.ms.values()].reduce((a, b) => a + b, 0);
    const parts = [...this.ms].map(([k, v]) => `${k} ${Math.round(v)} ms`);
    return `timing: total ${Math.round(this.now() - this.t0)} ms, outside ${Math.round(outside)} ms${parts.length ? `, ${parts.join(", ")}` : ""}; start-up ${Math.round(this.t0)} ms`;
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
    private readonly exec: Executor = spawnExecutor,
  ) {}

  async run(argv: Argv, deadline: Deadline, okCodes: readonly number[] = [0], opts: { readonly live?: boolean } = {}): Promise<RunResult> {
    const [file] = argv;
    const shownCmd = redactArgv(argv).join(" ");
    const timeout = Math.max(1, Math.floor(deadline.remainingMs()));
    if (deadline.expired()) throw new CommandError(`${shownCmd}: not started, the deadline has passed`, argv, null);
    const t0 = performance.now();
    const timed = this.timings.begin(file);
    const child = this.exec(argv, { timeoutMs: timeout, env: { LC_ALL: "C", PATH: this.path }, live: opts.live === true });
    if (child.pid !== undefined) this.watcher?.started(child.pid, file);
    const r = await child.done;
    if (child.pid !== undefined) this.watcher?.ended(child.pid);
    const ms = performance.now() - t0;
    timed();
    if (r.timedOut) {
      this.log.command(`ran ${shownCmd}: killed after ${Math.round(ms)} ms (deadline)`);
      throw new CommandError(`${shownCmd}: did not finish within ${(timeout / 1000).toFixed(1)} s and was killed`, argv, null);
    }
    const code = r.status ?? -1;
    this.log.command(`ran ${shownCmd}: ${r.notFound ? "not installed" : r.status === null ? (r.error ?? "killed") : `exit ${code}`} in ${Math.round(ms)} ms`);
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
