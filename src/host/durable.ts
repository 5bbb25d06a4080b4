import { randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import path from "node:path";

/** fsync of a file or folder by path (a folder's fsync makes a rename in it durable). */
async function fsyncPath(p: string, flags: string): Promise<void> {
  const fh = await open(p, flags);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Replaces FILE with TEXT so that a power cut leaves either the old or the new content, never a
 * mix or nothing: write a temporary file with a unique name, fsync it, rename it over FILE, fsync
 * the folder. Two writers never share a temporary file.
 */
export async function writeDurable(file: string, text: string, mode = 0o600): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  const fh = await open(tmp, "wx", mode);
  try {
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncPath(path.dirname(file), "r");
}

/** Removes FILE durably (the folder is fsynced after the unlink). */
export async function removeDurable(file: string): Promise<void> {
  await rm(file, { force: true });
  await fsyncPath(path.dirname(file), "r").catch(() => undefined);
}
