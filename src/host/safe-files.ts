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
 * - the folder must be a real folder (not a link) owned by root (by us) that nobody else can write:
 *   no write bit for others, and for the group only when it is root's group.
 * New files belong to their creator (root), with the mode asked for: ownership is never copied.
 */

const ME = (): number => (typeof process.getuid === "function" ? process.getuid() : 0);

/** Why DIR is no place for root to create files in, or null. */
export function dirProblem(dir: string): string | null {
  let st;
  try {
    st = lstatSync(dir);
  } catch (err) {
    return `it cannot be examined (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  }
  if (st.isSymbolicLink()) return "it is a symbolic link";
  if (!st.isDirectory()) return "it is not a folder";
  if (st.uid !== ME()) return `it belongs to uid ${st.uid}, not to root`;
  if ((st.mode & 0o002) !== 0 || ((st.mode & 0o020) !== 0 && st.gid !== 0)) {
    return `others than root can write to it (mode ${(st.mode & 0o7777).toString(8)}, group ${st.gid})`;
  }
  return null;
}

/** Throws (refused: nothing written) unless DIR is a folder only root can change. */
export function checkPrivateDir(dir: string, shownDir = dir): void {
  const why = dirProblem(dir);
  if (why) throw new RefusedError(`refusing to create files in ${shownDir}: ${why}`);
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
  checkPrivateDir(dir, o.shownDir ?? dir);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    createExclusive(tmp, data, o.mode, o.durable === true);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  if (o.durable === true) fsyncDir(dir);
}

/** Opens FILE for appending (creating it with MODE): a regular file of ours in a private folder, never through a link. */
export function openAppend(file: string, mode = 0o640): number {
  checkPrivateDir(path.dirname(file));
  const fd = openSync(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, mode);
  const st = fstatSync(fd);
  if (!st.isFile() || st.uid !== ME()) {
    closeSync(fd);
    throw new RefusedError(`refusing to append to ${file}: it is not a regular file of root's`);
  }
  return fd;
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
