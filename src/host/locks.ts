import { InternalError, FailedError } from "../core/errors";
import { randomBytes } from "node:crypto";
import { link, readFile, rename, rm, writeFile } from "node:fs/promises";
import { sleepMs, type Deadline } from "./clock";
import type { Log } from "./log";
import { join } from "./sysfs";

/**
 * Locks under /run/block-iscsimple/locks, judged by their holder's life, never by the clock: the
 * lock file names the holder (pid, its start time in /proc/PID/stat, a random nonce). A lock is
 * taken over only when that process is gone (or the pid now belongs to a process started at
 * another time): a holder that is merely slow or stopped (SIGSTOP) keeps it; one that was
 * SIGKILLed loses it to the next caller at once. A holder checks that its lock is still its own
 * before each step (`check`), and stops if it is not.
 * (proper-lockfile, used before, judged a lock stale after 5 s without an mtime update: a paused
 * holder lost its lock while it still worked.)
 * Order: the disk's lock (label, or target+LUN) first, then the target's.
 */
export interface Holder {
  readonly pid: number;
  readonly start: string;
  readonly nonce: string;
}

export class LockLost extends Error {
  constructor(name: string, now: string) {
    super(`lock ${name} is not ours any more (${now}): stopping`);
    this.name = "LockLost";
  }
}

export interface Lock {
  readonly name: string;
  /** Throws LockLost when the lock file no longer names us. */
  check(): Promise<void>;
  release(): Promise<void>;
}

/** The start time of a process (field 22 of /proc/PID/stat, clock ticks since boot), or null if it is gone. */
export async function processStart(proc: string, pid: number | "self"): Promise<string | null> {
  try {
    const stat = await readFile(join(proc, String(pid), "stat"), "utf8");
    // the command name (field 2) is in parentheses and may hold spaces: count from after it
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

/** Whether a process with this pid exists (EPERM: it does, owned by another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether the process that wrote this holder still runs. */
export async function holderAlive(proc: string, h: Holder): Promise<boolean> {
  if (!Number.isInteger(h.pid) || h.pid <= 0) return false;
  if (h.pid === process.pid) return true;
  return (await processStart(proc, h.pid)) === h.start;
}

function parseHolder(text: string): Holder | null {
  try {
    const v = JSON.parse(text) as Holder;
    return Number.isInteger(v.pid) && typeof v.start === "string" && typeof v.nonce === "string" ? v : null;
  } catch {
    return null;
  }
}

async function readOrNull(file: string): Promise<string | null> {
  try {
    return await readFile(file, "utf8");
  } catch {
    return null;
  }
}

export class Locks {
  private me: Promise<string> | null = null;
  constructor(
    private readonly dir: string,
    private readonly log: Log,
    /** Told how long each wait for a held lock took (for the timings). */
    private readonly waitedMs: (ms: number) => void = () => undefined,
    private readonly proc = "/proc",
  ) {}

  private myStart(): Promise<string> {
    this.me ??= processStart(this.proc, "self").then((s) => s ?? "?");
    return this.me;
  }

  async take(name: string, deadline: Deadline): Promise<Lock> {
    const file = join(this.dir, name);
    const me: Holder = { pid: process.pid, start: await this.myStart(), nonce: randomBytes(8).toString("hex") };
    const mine = JSON.stringify(me);
    const t0 = performance.now();
    let waitedFor: Holder | null = null;
    const tmp = join(this.dir, `.${name}.${process.pid}.${me.nonce}.tmp`);
    await writeFile(tmp, mine, { mode: 0o600 });
    try {
      for (;;) {
        try {
          await link(tmp, file); // atomic: fails if the lock file exists
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        }
        const seen = await readOrNull(file);
        if (seen === null) continue; // released meanwhile
        const holder = parseHolder(seen);
        if (holder === null || !(await holderAlive(this.proc, holder))) {
          await this.breakDead(file, seen, me.nonce);
          this.log.step(`lock ${name} was left by ${holder ? `pid ${holder.pid}, which is gone` : "an unreadable holder"}: taken over`);
          continue;
        }
        if (holder.pid === process.pid && holder.nonce !== me.nonce) throw new InternalError(`lock ${name} taken twice by this process`);
        waitedFor = holder;
        if (deadline.remainingMs() < 50) throw new FailedError(`lock ${name} is held by another block-iscsimple (pid ${holder.pid}, still running) and was not freed in time`);
        await sleepMs(Math.min(50, deadline.remainingMs()));
      }
    } finally {
      await rm(tmp, { force: true });
    }
    if (waitedFor) {
      const ms = performance.now() - t0;
      this.waitedMs(ms);
      this.log.step(`lock ${name} taken after ${Math.round(ms)} ms (held by pid ${waitedFor.pid})`);
    }
    return {
      name,
      check: async () => {
        const now = await readOrNull(file);
        if (now !== mine) throw new LockLost(name, now === null ? "its file is gone" : `held by pid ${parseHolder(now)?.pid ?? "?"}`);
      },
      release: async () => {
        if ((await readOrNull(file)) === mine) await rm(file, { force: true });
      },
    };
  }

  /** Runs FN holding the lock NAME. */
  async with<T>(name: string, deadline: Deadline, fn: (lock: Lock) => Promise<T>): Promise<T> {
    const lock = await this.take(name, deadline);
    try {
      return await fn(lock);
    } finally {
      await lock.release();
    }
  }

  /**
   * Removes a lock whose holder is dead. The file is renamed away first (atomic), then checked: if
   * what was moved is not the dead holder's lock (a live process took it in between), it is put back.
   */
  private async breakDead(file: string, seen: string, nonce: string): Promise<void> {
    const moved = `${file}.dead.${nonce}`;
    try {
      await rename(file, moved);
    } catch {
      return; // gone already: someone else broke it
    }
    if ((await readOrNull(moved)) !== seen) await link(moved, file).catch(() => undefined);
    await rm(moved, { force: true });
  }
}

export function diskLockName(spec: { iqn: string | null; lun: number; label: string | null }): string {
  return spec.label !== null ? `label-${spec.label}` : `lun-${spec.iqn ?? "MISSING"}-${spec.lun}`;
}

export function targetLockName(iqn: string): string {
  return `target-${iqn}`;
}
