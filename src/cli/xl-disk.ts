import { copyFileSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { EXIT, InputError } from "../core/errors";
import { convertConfigText, convertLine } from "../core/xl-disk";

/** `xl-disk LINE` prints the xl spelling; `xl-disk --in-place FILE` rewrites a domU config (FILE.bak kept). */
export function xlDisk(line: string | undefined, opts: { inPlace?: string }): number {
  if (opts.inPlace !== undefined) {
    const file = opts.inPlace;
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      throw new InputError(`${file}: cannot be read: ${(err as Error).message}`);
    }
    let result;
    try {
      result = convertConfigText(text);
    } catch (err) {
      throw new InputError(`${file}: ${(err as Error).message}`);
    }
    if (result.changed === 0) {
      process.stdout.write(`${file}: no 'iscsimple:' disk entry, nothing changed\n`);
      return EXIT.ok;
    }
    const tmp = `${file}.block-iscsimple.tmp`;
    copyFileSync(file, `${file}.bak`);
    writeFileSync(tmp, result.text, { mode: statSync(file).mode & 0o7777 });
    renameSync(tmp, file);
    process.stdout.write(`${file}: converted ${result.changed} disk entr${result.changed === 1 ? "y" : "ies"} (original kept as ${file}.bak)\n`);
    return EXIT.ok;
  }
  if (line === undefined) throw new InputError("xl-disk needs a disk entry or --in-place FILE");
  process.stdout.write(`'${convertLine(line)}'\n`);
  return EXIT.ok;
}
