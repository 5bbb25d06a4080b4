import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

/**
 * Small helpers to read sysfs, /proc and /dev; a missing file reads as null. They read synchronously
 * (behind an async signature): these are the kernel's own in-memory files, and an add reads
 * thousands of them (the safety checks scan every process's open files). Each asynchronous read is
 * a round trip through libuv's thread pool, about 15 times the cost (measured: a scan of /proc/PID/fd
 * of 84 processes took 35 ms asynchronously, 2.2 ms synchronously); under the lab's emulation that
 * is seconds of an add.
 */
export function readText(file: string): Promise<string | null> {
  try {
    return Promise.resolve(readFileSync(file, "utf8").trim());
  } catch {
    return Promise.resolve(null);
  }
}

export function listDir(dir: string): Promise<string[]> {
  try {
    return Promise.resolve(readdirSync(dir).sort());
  } catch {
    return Promise.resolve([]);
  }
}

export interface BlockDev {
  readonly major: number;
  readonly minor: number;
}

/** stat() a path (following links): its device numbers if it is a block device, else null. */
export function statBlock(p: string): Promise<BlockDev | null> {
  return Promise.resolve(statBlockNow(p));
}

function statBlockNow(p: string): BlockDev | null {
  try {
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st?.isBlockDevice()) return null;
    return { major: Math.floor(st.rdev / 256) & 0xfff, minor: (st.rdev & 0xff) | ((Math.floor(st.rdev / 4096) & 0xfff00) >>> 0) };
  } catch {
    return null;
  }
}

/** What stat() says a path is, for error messages. */
export function describePath(p: string): Promise<string> {
  let what = "missing";
  try {
    const st = statSync(p);
    what = st.isBlockDevice() ? "a block device" : st.isDirectory() ? "a directory" : st.isFile() ? "a regular file" : "not a block device";
  } catch {
    /* missing */
  }
  return Promise.resolve(what);
}

/** `major:minor` in hex, as blkback parses physical-device (%x:%x). */
export function hexDev(d: BlockDev): string {
  return `${d.major.toString(16)}:${d.minor.toString(16)}`;
}

/** Parses a sysfs `dev` file ("8:16"). */
export function parseDevFile(text: string | null): BlockDev | null {
  const m = text ? /^(\d+):(\d+)$/.exec(text) : null;
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : null;
}

export function sameDev(a: BlockDev | null, b: BlockDev | null): boolean {
  return a !== null && b !== null && a.major === b.major && a.minor === b.minor;
}

/** Needs path.join's normalisation: an empty or absolute part, a "." or "..", a doubled or trailing "/". */
const NOT_PLAIN = /(^|\/)\.\.?(\/|$)|\/\/|\/$|^$/;

/**
 * path.join, without its normalisation when the parts are plain names (the scans of sysfs and /proc
 * join thousands of them: path.normalize was a tenth of an add's own time in the lab).
 */
export function join(...parts: string[]): string {
  const s = parts.join("/");
  return NOT_PLAIN.test(s) || parts.includes("") ? path.join(...parts) : s;
}
