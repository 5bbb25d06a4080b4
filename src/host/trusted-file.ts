import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync } from "node:fs";
import path from "node:path";
import { InputError } from "../core/errors";

/**
 * Reads a file that steers a program running as root, as sshd's StrictModes would: it must be a
 * regular file (not a symlink), owned by root, that neither its group nor others can write (with
 * `secret`: nor read), in a folder that only root can change (or a sticky one). The checks and the
 * read go through one file descriptor opened with O_NOFOLLOW: nothing can be swapped in between.
 * Returns null when the file does not exist.
 */
export function readTrusted(file: string, shownName: string, o: { secret?: boolean } = {}): string | null {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NOCTTY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    if (code === "ELOOP") throw new InputError(`${shownName}: is a symbolic link; refusing to read it (point the program at the real file)`);
    throw new InputError(`${shownName}: cannot be read: ${(err as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new InputError(`${shownName}: is not a regular file`);
    const what = o.secret ? "secrets" : "settings";
    if (st.uid !== 0) throw new InputError(`${shownName}: refusing to read ${what} from a file not owned by root (uid ${st.uid})`);
    const mask = o.secret ? 0o077 : 0o022;
    if ((st.mode & mask) !== 0) {
      const who = o.secret ? "group or others can read" : "group or others can write";
      throw new InputError(`${shownName}: refusing to read ${what} from a file that ${who} (mode ${(st.mode & 0o777).toString(8)}): chmod ${o.secret ? "600" : "go-w"} ${shownName}`);
    }
    const dir = lstatSync(path.dirname(file));
    if (dir.uid !== 0 || ((dir.mode & 0o022) !== 0 && (dir.mode & 0o1000) === 0)) {
      throw new InputError(`${shownName}: its folder can be changed by others than root (owner uid ${dir.uid}, mode ${(dir.mode & 0o7777).toString(8)}); refusing to read it`);
    }
    return readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
}
