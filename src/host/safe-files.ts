import { randomBytes } from "node:crypto";
import { closeSync, constants, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import path from "node:path";
import { RefusedError } from "../core/errors";

/**
 * Every file the program creates or replaces as root goes through here. A planted link must never
 * redirect a write (root would overwrite the link's target), and a folder someone else can write is
 * a place where such links can be planted, or a file swapped between a check and its use. So:
 * - files are created with O_CREAT|O_EXCL|O_NOFOLLOW (a link in their place fails the create), and
 *   replaced by a rename of such a new file over them (a rename replaces a link, never follows it);
 * - appends open with O_NOFOLLOW and must find a regular file of ours;
 * - the folder must be the one its path names (no link on the way), owned by root (by us), and
 *   writable by nobody else (no write bit for the group or others: with a POSIX ACL the group bits
 *   are the ACL's mask, so a named user's write would show there); the work happens inside it (see
 *   inPrivateDir), so a folder above it that someone else owns (/var/lib/prometheus is the
 *   prometheus user's) cannot redirect it.
 * New files belong to their creator (root), with the mode asked for: ownership is never copied.
 */

const ME = (): number => (typeof process.getuid === "function" ? process.getuid() : 0);

/** Why the folder (already entered: ".") is no place for root to create files in, or null. */
function hereProblem(): string | null {
  const st = lstatSync(".");
  if (!st.isDirectory()) return "it is not a folder";
  if (st.uid !== ME()) return `it belongs to uid ${st.uid}, not to root`;
  if ((st.mode & 0o022) !== 0) return `others than root can write to it (mode ${(st.mode & 0o7777).toString(8)})`;
  return null;
}

/**
 * Runs FN inside DIR, the process's working folder for that moment: the folder is entered once
 * (chdir), then known by what the kernel holds, not by its path. It must be the folder its path
 * names (getcwd: no link on the way), root's, and writable by nobody else. What FN does with
 * names relative to "." happens in that folder, whatever someone does to the folders above it
 * meanwhile (Node has no openat; every call here is synchronous, so nothing else runs meanwhile).
 */
function inPrivateDir<T>(dir: string, shownDir: string, fn: () => T): T {
  let prev: string;
  try {
    prev = process.cwd();
  } catch {
    prev = "/";
  }
  try {
    process.chdir(dir);
  } catch (err) {
    throw new RefusedError(`refusing to create files in ${shownDir}: it cannot be entered (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    const want = path.resolve(prev, dir);
    if (process.cwd() !== want) throw new RefusedError(`refusing to create files in ${shownDir}: its path goes through a symbolic link (it is ${process.cwd()})`);
    const why = hereProblem();
    if (why) throw new RefusedError(`refusing to create files in ${shownDir}: ${why}`);
    return fn();
  } finally {
    process.chdir(prev);
  }
}

/** Why DIR is no place for root to create files in, or null (for a message before any work). */
export function dirProblem(dir: string): string | null {
  try {
    inPrivateDir(dir, dir, () => undefined);
    return null;
  } catch (err) {
    return err instanceof RefusedError ? err.message.replace(/^refusing to create files in [^:]*: /, "") : (err as Error).message;
  }
}

/** Throws (refused: nothing written) unless DIR is a folder only root can change. */
export function checkPrivateDir(dir: string, shownDir = dir): void {
  inPrivateDir(dir, shownDir, () => undefined);
}

/** Makes DIR (and missing parents) with MODE, then checks it as checkPrivateDir does. */
export function ensurePrivateDir(dir: string, mode = 0o700, shownDir = dir): void {
  mkdirSync(dir, { recursive: true, mode });
  checkPrivateDir(dir, shownDir);
}

/** Creates FILE, which must not exist (not even as a link), with DATA. */
export function createExclusive(file: string, data: string | Buffer, mode: number, sync = false): void {
  const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    const buf = typeof data === "string" ? Buffer.from(data) : data;
    for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off);
    if (sync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Replaces FILE with DATA: a new file with a name of its own in FILE's folder (checked first), then
 * a rename over FILE. DURABLE: fsync of the file and the folder, so that a power cut leaves the old
 * or the new content. The temporary file carries the pid (a writer SIGKILLed before its rename
 * leaves one; the state store's cleaner removes those of dead pids).
 */
export function replaceFile(file: string, data: string | Buffer, o: { mode: number; durable?: boolean; shownDir?: string }): void {
  const dir = path.dirname(file);
  const base = path.basename(file);
  inPrivateDir(dir, o.shownDir ?? dir, () => {
    const tmp = `.${base}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
    try {
      createExclusive(tmp, data, o.mode, o.durable === true);
      renameSync(tmp, base);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
    if (o.durable === true) fsyncDir(".");
  });
}

/** Opens FILE for appending (creating it with MODE): a regular file of ours in a private folder, never through a link. */
export function openAppend(file: string, mode = 0o640): number {
  return inPrivateDir(path.dirname(file), path.dirname(file), () => {
    const fd = openSync(path.basename(file), constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, mode);
    const st = fstatSync(fd);
    if (!st.isFile() || st.uid !== ME()) {
      closeSync(fd);
      throw new RefusedError(`refusing to append to ${file}: it is not a regular file of root's`);
    }
    return fd;
  });
}

/** Reads FILE without following a link at its place: null when it does not exist. */
export function readNoFollow(file: string): string | null {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  try {
    return readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
}
