import { rm } from "node:fs/promises";
import { closeSync, constants, fsyncSync, openSync } from "node:fs";
import path from "node:path";
import { replaceFile } from "./safe-files";

/**
 * Replaces FILE with TEXT so that a power cut leaves either the old or the new content, never a
 * mix or nothing (a new file, fsynced, renamed over FILE, the folder fsynced), never through a link
 * and only in a folder only root can write (safe-files.ts).
 */
export function writeDurable(file: string, text: string, mode = 0o600): Promise<void> {
  replaceFile(file, text, { mode, durable: true });
  return Promise.resolve();
}

/** Removes FILE durably (the folder is fsynced after the unlink). */
export async function removeDurable(file: string): Promise<void> {
  await rm(file, { force: true });
  try {
    const fd = openSync(path.dirname(file), constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* the removal itself happened */
  }
}
