import { createHmac, randomBytes } from "node:crypto";
import { closeSync, constants, fstatSync, linkSync, openSync, readFileSync, readlinkSync, readSync, rmSync, writeSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { FailedError, InternalError } from "../core/errors";
import { sleepMs, type Deadline } from "./clock";
import type { Log } from "./log";
import { join, listDir, readText } from "./sysfs";

/**
 * Locks the kernel releases when their holder dies: each lock is an abstract unix socket that the
 * holder listens on. Only one process can bind a name; the kernel frees it with the holder's last
 * descriptor, whatever ends the holder (SIGKILL by libxl included). So there is no takeover of a
 * dead holder's lock, and no moment where two processes hold one: the lock never lives in a file
 * that someone must judge stale and move aside (the scheme used before: a pid and start time in a
 * file, whose takeover could let a third process in while a holder had just taken it back).
 * Xen's own locking.sh uses flock(2) for the same property; Node has no flock, and flock(1) as a
 * child would cost a process start per lock (seconds of a migrating VM's downtime under emulation).
 *
 * The names: a local user could bind a guessable abstract name first and block every add. The name
 * of each lock is an HMAC of its name with a random key that only root can read
 * (/run/block-iscsimple/lock-key, 0600): nobody else can compute it. (Names that are bound show in
 * /proc/net/unix: one seen there could be bound by another user after it is released; a lock held
 * too long says who holds it, so such a squatter is named.)
 * Abstract names belong to the network namespace: every block-iscsimple must run in the host's
 * (pid 1's), as iscsiadm must to reach iscsid; `take` refuses to run in another.
 * Order: the disk's lock (label, or target+LUN) first, then the target's.
 */
export interface Lock {
  readonly name: string;
  /** Throws when the lock is not held any more (it cannot be taken from a live holder: a check of our own state). */
  check(): Promise<void>;
  release(): Promise<void>;
}

/**
 * The start time of a process (field 22 of /proc/PID/stat, clock ticks since boot), or null if it is
 * gone. A zombie (dead, not yet reaped by its parent) is gone: it holds no file and no lock.
 */
export function processStart(proc: string, pid: number | "self"): Promise<string | null> {
  return Promise.resolve(processStartNow(pid, proc));
}

/** processStart, synchronously (readText reads synchronously anyway). */
export function processStartNow(pid: number | "self", proc = "/proc"): string | null {
  let stat: string;
  try {
    stat = readFileSync(join(proc, String(pid), "stat"), "utf8");
  } catch {
    return null;
  }
  // the command name (field 2) is in parentheses and may hold spaces: count from after it
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  if (fields[0] === "Z" || fields[0] === "X") return null;
  return fields[19] ?? null;
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

/** A process known by its pid and its start time (a reused pid is another process). */
export interface Holder {
  readonly pid: number;
  readonly start: string;
}

/** Whether the process recorded as HOLDER still runs. */
export async function holderAlive(proc: string, h: Holder): Promise<boolean> {
  if (!Number.isInteger(h.pid) || h.pid <= 0) return false;
  if (h.pid === process.pid) return true;
  return (await processStart(proc, h.pid)) === h.start;
}

const KEY_BYTES = 32;

/**
 * The lock key: made once (random, 0600, root's), by a temporary file linked into place, so that a
 * reader never sees it half written and two makers agree on one. Read without following links.
 */
function lockKey(file: string): Buffer {
  const read = (): Buffer | null => {
    let fd: number;
    try {
      fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw new FailedError(`${file}: cannot be read: ${(err as Error).message}`, { cause: err });
    }
    try {
      const st = fstatSync(fd);
      const uid = typeof process.getuid === "function" ? process.getuid() : 0;
      if (!st.isFile() || st.uid !== uid || (st.mode & 0o077) !== 0) throw new FailedError(`${file}: not a private file of ours (uid ${st.uid}, mode ${(st.mode & 0o777).toString(8)}); refusing to use it as the lock key`);
      const buf = Buffer.alloc(KEY_BYTES * 2);
      const n = readSync(fd, buf, 0, buf.length, 0);
      if (n !== buf.length || !/^[0-9a-f]+$/.test(buf.toString("latin1"))) throw new FailedError(`${file}: not a lock key (${n} bytes); remove it (no block-iscsimple may run meanwhile)`);
      return buf;
    } finally {
      closeSync(fd);
    }
  };
  const found = read();
  if (found) return found;
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, randomBytes(KEY_BYTES).toString("hex"));
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
  const made = read();
  if (!made) throw new InternalError(`${file}: the lock key vanished`);
  return made;
}

/** The abstract socket name of lock NAME (without the leading NUL). */
export function lockAddress(key: Buffer, name: string): string {
  return `block-iscsimple/${createHmac("sha256", key).update(name).digest("hex").slice(0, 40)}`;
}

/**
 * Binds the abstract name, or says it is taken. Anyone may connect to an abstract socket: a
 * connection is closed at once (it must not keep the holder alive, nor delay the release).
 */
function bind(address: string): Promise<Server | null> {
  return new Promise((resolve, reject) => {
    const server = createServer({ pauseOnConnect: true }, (conn) => conn.destroy());
    server.once("error", (err: NodeJS.ErrnoException) => {
      server.close();
      if (err.code === "EADDRINUSE") resolve(null);
      else reject(err);
    });
    server.listen({ path: `\0${address}`, exclusive: true }, () => {
      server.unref();
      resolve(server);
    });
  });
}

export class Locks {
  private key: Buffer | null = null;
  private dirMade = false;
  private readonly held = new Set<string>();
  private netChecked = false;
  constructor(
    /** The lock key's file, in a folder only root can write (/run/block-iscsimple/lock-key). */
    private readonly keyFile: string,
    /** Makes that folder (once, before the key is first needed). */
    private readonly ensureDir: () => Promise<void>,
    private readonly log: Log,
    /** Told how long each wait for a held lock took (for the timings). */
    private readonly waitedMs: (ms: number) => void = () => undefined,
    private readonly proc = "/proc",
  ) {}

  /** Abstract names are per network namespace: a process in another one would not see our locks. */
  private checkNamespace(): void {
    if (this.netChecked) return;
    let mine: string;
    let host: string;
    try {
      mine = readlinkSync(join(this.proc, "self/ns/net"));
      host = readlinkSync(join(this.proc, "1/ns/net"));
    } catch {
      this.netChecked = true; // cannot tell (no /proc, not allowed): as before namespaces
      return;
    }
    if (mine !== host) {
      throw new FailedError(
        "block-iscsimple runs in another network namespace than the host's (pid 1's): its locks, like iscsiadm's connection to iscsid, live in the host's; run it there",
      );
    }
    this.netChecked = true;
  }

  async take(name: string, deadline: Deadline): Promise<Lock> {
    this.checkNamespace();
    // the key as it is now, read at each lock (a few bytes): a long-running process (the monitor)
    // whose key file was replaced (the state folder wiped) must not go on with names nobody else uses
    if (!this.dirMade) {
      await this.ensureDir();
      this.dirMade = true;
    }
    this.key = lockKey(this.keyFile);
    const address = lockAddress(this.key, name);
    const t0 = performance.now();
    let waited = false;
    let server: Server | null;
    for (;;) {
      // another task of this process (the monitor's md events and its rounds) waits as another process would
      server = this.held.has(name) ? null : await bind(address);
      if (server) break;
      waited = true;
      if (deadline.remainingMs() < 20) {
        const holder = this.held.has(name) ? "this process (another of its tasks)" : await this.describeHolder(address);
        throw new FailedError(`lock ${name} is held by ${holder} and was not freed in time`);
      }
      await sleepMs(Math.min(20, deadline.remainingMs()));
    }
    if (waited) {
      const ms = performance.now() - t0;
      this.waitedMs(ms);
      this.log.step(`lock ${name} taken after ${Math.round(ms)} ms`);
    }
    this.held.add(name);
    const bound = server;
    return {
      name,
      check: () => {
        if (!bound.listening || !this.held.has(name)) return Promise.reject(new InternalError(`lock ${name} is not held any more: stopping`));
        return Promise.resolve();
      },
      // close() stops listening at once (the name is free for the next holder); nothing waits for
      // connections someone else may hold open
      release: () => {
        this.held.delete(name);
        if (bound.listening) bound.close();
        return Promise.resolve();
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

  /** Who listens on the lock's name (for the message of a lock that was not freed in time). */
  private async describeHolder(address: string): Promise<string> {
    const table = (await readText(join(this.proc, "net/unix"))) ?? "";
    const line = table.split("\n").find((l) => l.trim().endsWith(` @${address}`));
    const inode = line?.trim().split(/\s+/)[6];
    if (!inode) return "another process (gone meanwhile)";
    const target = `socket:[${inode}]`;
    for (const pid of await listDir(this.proc)) {
      if (!/^\d+$/.test(pid)) continue;
      for (const fd of await listDir(join(this.proc, pid, "fd"))) {
        let link: string;
        try {
          link = readlinkSync(join(this.proc, pid, "fd", fd));
        } catch {
          continue;
        }
        if (link !== target) continue;
        // ours: the same executable, run by the same user
        const exe = readlinkOrNull(join(this.proc, pid, "exe"));
        const uid = /^Uid:\s+(\d+)/m.exec((await readText(join(this.proc, pid, "status"))) ?? "")?.[1] ?? "?";
        const myUid = typeof process.getuid === "function" ? String(process.getuid()) : "0";
        if (uid === myUid && exe !== null && exe === readlinkOrNull(join(this.proc, "self/exe"))) return `another block-iscsimple (pid ${pid}, still running)`;
        const prog = (exe ?? "?").split("/").pop()?.replace(/[^\x20-\x7e]/g, "?") ?? "?";
        return `a process that is not block-iscsimple (pid ${pid}, ${prog}, uid ${uid}): it blocks every add of this disk; stop it`;
      }
    }
    return "another process";
  }
}

function readlinkOrNull(p: string): string | null {
  try {
    return readlinkSync(p);
  } catch {
    return null;
  }
}

export function diskLockName(spec: { iqn: string | null; lun: number; label: string | null }): string {
  return spec.label !== null ? `label-${spec.label}` : `lun-${spec.iqn ?? "MISSING"}-${spec.lun}`;
}

export function targetLockName(iqn: string): string {
  return `target-${iqn}`;
}
