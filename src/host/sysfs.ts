import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";

/** Small helpers to read sysfs and /dev; a missing file reads as null. */
export async function readText(file: string): Promise<string | null> {
  try {
    return (await readFile(file, "utf8")).trim();
  } catch {
    return null;
  }
}

export async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch {
    return [];
  }
}

export interface BlockDev {
  readonly major: number;
  readonly minor: number;
}

/** stat() a path (following links): its device numbers if it is a block device, else null. */
export async function statBlock(p: string): Promise<BlockDev | null> {
  try {
    const st = await stat(p);
    if (!st.isBlockDevice()) return null;
    return { major: Math.floor(st.rdev / 256) & 0xfff, minor: (st.rdev & 0xff) | ((Math.floor(st.rdev / 4096) & 0xfff00) >>> 0) };
  } catch {
    return null;
  }
}

/** What stat() says a path is, for error messages. */
export async function describePath(p: string): Promise<string> {
  try {
    const st = await stat(p);
    if (st.isBlockDevice()) return "a block device";
    if (st.isDirectory()) return "a directory";
    if (st.isFile()) return "a regular file";
    return "not a block device";
  } catch {
    return "missing";
  }
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

export function join(...parts: string[]): string {
  return path.join(...parts);
}
