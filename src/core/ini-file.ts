import { InputError, Problems } from "./errors";

/**
 * A strict reader for our two ini files (the config and the CHAP credentials). The `ini` package
 * used before cut a value at `#` or `;` (a secret `Abc#def` became `Abc`), let a repeated key or
 * section silently win, and read a UTF-8 byte order mark into the first section's name. Here:
 * - `[section]` and `key = value` lines; a line whose first non-blank character is `#` or `;` is a
 *   comment; there are no inline comments: the value is everything after the first `=`, with the
 *   blanks around it removed, byte for byte;
 * - a repeated section or key is an error that names both lines; a byte order mark is skipped.
 */
export interface IniEntry {
  readonly key: string;
  readonly value: string;
  readonly line: number;
}

export interface IniSection {
  /** null for the keys before the first section. */
  readonly name: string | null;
  readonly line: number;
  readonly entries: readonly IniEntry[];
}

const KEY_RE = /^[A-Za-z0-9_.-]{1,64}$/;

export function parseIniFile(text: string, file: string): IniSection[] {
  const sections: { name: string | null; line: number; entries: IniEntry[] }[] = [{ name: null, line: 0, entries: [] }];
  const seen = new Map<string, number>();
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  const problems = new Problems();
  body.split("\n").forEach((raw, i) => problems.run(() => {
    const line = i + 1;
    const where = `${file}:${line}`;
    const content = raw.replace(/\r$/, "").trim();
    if (content === "" || content.startsWith("#") || content.startsWith(";")) return;
    if (content.startsWith("[")) {
      const m = /^\[([^\][]+)\]$/.exec(content);
      if (!m) throw new InputError(`${where}: a section line is [NAME], nothing after it`);
      const name = (m[1] as string).trim();
      const before = seen.get(name);
      if (before !== undefined) throw new InputError(`${where}: section [${safeName(name)}] is already defined on line ${before}`);
      seen.set(name, line);
      sections.push({ name, line, entries: [] });
      return;
    }
    const eq = content.indexOf("=");
    if (eq < 0) throw new InputError(`${where}: expected 'key = value' or [section]`);
    const key = content.slice(0, eq).trim();
    if (!KEY_RE.test(key)) throw new InputError(`${where}: '${safeName(key)}' is not a key (letters, digits, _ . -)`);
    const current = sections[sections.length - 1] as (typeof sections)[number];
    const dup = current.entries.find((e) => e.key === key);
    if (dup) throw new InputError(`${where}: key '${key}' is already set on line ${dup.line}${current.name !== null ? ` in [${safeName(current.name)}]` : ""}`);
    current.entries.push({ key, value: content.slice(eq + 1).trim(), line });
  }));
  problems.done();
  return sections.filter((s) => s.name !== null || s.entries.length > 0);
}

/** A name from the file, safe to show (control characters escaped, bounded). */
function safeName(s: string): string {
  const shown = s.length > 80 ? `${s.slice(0, 80)}…` : s;
  return shown.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}
