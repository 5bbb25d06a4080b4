import { spawn } from "node:child_process";
import { oneLine } from "../core/errors";
import type { Argv } from "../core/commands";

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
 * processes. Production runs `spawnExecutor` below; the in-process engine tests put the simulated
 * host's tools here (as os-brick's connectors take an injected executor).
 */
export type Executor = (
  argv: Argv,
  /** live: its output goes to ours as it comes (xl migrate's progress), not kept */
  o: { readonly timeoutMs: number; readonly env: Readonly<Record<string, string>>; readonly live?: boolean },
) => { readonly pid: number | undefined; readonly done: Promise<Exited> };

const MAX_OUTPUT = 4 * 1024 * 1024;

const text = (chunks: Buffer[]): string => Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");

/**
 * A host command through node:child_process: never a shell, the program's environment with the
 * given variables over it, stdin closed, stdout and stderr kept (up to 4 MiB together, one final
 * newline dropped), SIGKILL when its time is up.
 *
 * This replaced execa, which did the same for us: the program uses one shape of call, and execa with
 * its dependencies was 114 KB of the 205 KB script that every hotplug call compiles, about a third
 * of a start-up on hardware (50 -> 36 ms a `remove` with nothing to do) and more under emulation,
 * where a start-up was over a second of each add: a second of a migrating VM's downtime.
 */
export const spawnExecutor: Executor = (argv, o) => {
  const [file, ...args] = argv;
  const live = o.live === true;
  // a process group of its own (not for a live command, which may need our terminal: ssh's
  // password prompt): its children die with it at the deadline, whatever they hold
  const child = spawn(file, args, { shell: false, detached: !live, env: { ...process.env, ...o.env }, stdio: ["ignore", live ? "inherit" : "pipe", live ? "inherit" : "pipe"] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let size = 0;
  let why: "time" | "output" | null = null;
  let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  let settle: (() => void) | null = null;
  const killGroup = (): void => {
    if (child.pid === undefined) return;
    try {
      if (!live) process.kill(-child.pid, "SIGKILL");
    } catch {
      /* the group is gone */
    }
    child.kill("SIGKILL");
  };
  const kill = (reason: "time" | "output"): void => {
    // a command that ended by itself is not "killed at its deadline" because its pipes were still held
    if (!(reason === "time" && exited !== null)) why ??= reason;
    killGroup();
    // a child that left the group (setsid) may keep our pipes open: do not wait for them
    setTimeout(() => settle?.(), PIPE_GRACE_MS).unref();
  };
  // our own timer, not spawn's `timeout`: that one outlives a program that could not start (and
  // keeps the process alive until it fires)
  const timer = setTimeout(() => kill("time"), o.timeoutMs);
  const keep = (into: Buffer[]) => (c: Buffer) => {
    size += c.length;
    if (size <= MAX_OUTPUT) into.push(c);
    else kill("output");
  };
  child.stdout?.on("data", keep(out));
  child.stderr?.on("data", keep(err));
  const done = new Promise<Exited>((resolve) => {
    let resolved = false;
    const finish = (r: Exited): void => {
      if (resolved) return;
      resolved = true;
      clearTimeout(timer);
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve(r);
    };
    settle = () => {
      const code = exited?.code ?? null;
      const signal = exited?.signal ?? null;
      const error = why === "output" ? `more than ${MAX_OUTPUT} bytes of output` : code === null && why === null ? `killed by ${signal ?? "a signal"}` : null;
      finish({ status: code, stdout: text(out), stderr: text(err), timedOut: why === "time", notFound: false, error });
    };
    child.once("error", (e: NodeJS.ErrnoException) => {
      if (child.pid !== undefined) return; // the close that follows tells
      finish({ status: null, stdout: "", stderr: "", timedOut: false, notFound: e.code === "ENOENT", error: oneLine(e.message), cause: e });
    });
    child.once("exit", (code, signal) => {
      exited = { code, signal };
      // what it left running in its group and that still holds our pipes ends with it
      const grace = setTimeout(() => {
        killGroup();
        setTimeout(() => settle?.(), PIPE_GRACE_MS).unref();
      }, EXITED_GRACE_MS);
      grace.unref();
      child.once("close", () => clearTimeout(grace));
    });
    child.once("close", (code, signal) => {
      if (child.pid === undefined) return; // could not start: told by the error above
      exited ??= { code, signal };
      settle?.();
    });
  });
  return { pid: child.pid, done };
};

/** After a kill, how long its output may keep coming before we stop waiting for the pipes. */
const PIPE_GRACE_MS = 250;
/** After a command exited by itself, how long until what it left holding its pipes is killed. */
const EXITED_GRACE_MS = 2000;
