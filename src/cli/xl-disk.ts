import { realpathSync, statSync } from "node:fs";
import path from "node:path";
import { EXIT, InputError } from "../core/errors";
import { convertConfigText, convertLine } from "../core/xl-disk";
import { dirProblem, readNoFollow, replaceFile } from "../host/safe-files";

/**
 * `xl-disk --in-place FILE`: rewrites a domU config (FILE.bak keeps the original). Run as root on
 * a file an administrator names: the real file (links resolved once, here) must live in a folder
 * only root can change, and both new files are created there without following links (a user who
 * can write the folder could otherwise make root overwrite any file, or hand one to that user).
 */
function convertInPlace(given: string): number {
  let file: string;
  try {
    file = realpathSync(given);
  } catch (err) {
    throw new InputError(`${given}: cannot be read: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
  const why = dirProblem(path.dirname(file));
  if (why) throw new InputError(`${given}: refusing to rewrite it in ${path.dirname(file)}: ${why} (copy it to a folder of root's first)`);
  let text: string | null;
  try {
    text = readNoFollow(file);
  } catch (err) {
    throw new InputError(`${given}: cannot be read: ${(err as Error).message}`);
  }
  if (text === null) throw new InputError(`${given}: no such file`);
  // a bad entry names the file and its line; nothing is written then
  const result = convertConfigText(text, given);
  if (result.changed === 0) {
    process.stdout.write(`${given}: no 'iscsimple:' disk entry, nothing changed\n`);
    return EXIT.ok;
  }
  // the permission bits of the original (no set-id bits); the owner is root's, never copied
  const mode = statSync(file).mode & 0o777;
  replaceFile(`${file}.bak`, text, { mode, durable: true });
  replaceFile(file, result.text, { mode, durable: true });
  process.stdout.write(`${given}: converted ${result.changed} disk entr${result.changed === 1 ? "y" : "ies"} (original kept as ${file}.bak)\n`);
  return EXIT.ok;
}

/** `xl-disk LINE` prints the xl spelling; `xl-disk --in-place FILE` rewrites a domU config (FILE.bak kept). */
export function xlDisk(line: string | undefined, opts: { inPlace?: string }): number {
  if (opts.inPlace !== undefined) {
    if (line !== undefined) throw new InputError("xl-disk: give either a disk entry or --in-place FILE, not both");
    return convertInPlace(opts.inPlace);
  }
  if (line === undefined) throw new InputError("xl-disk needs a disk entry or --in-place FILE");
  process.stdout.write(`'${convertLine(line)}'\n`);
  return EXIT.ok;
}
