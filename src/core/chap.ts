import { parseIniFile } from "./ini-file";
import { InputError, Problems } from "./errors";
import { iscsiNameProblem } from "./iqn";

/** CHAP credentials: the initiator's (username/password) and, for mutual CHAP, the target's (_in). */
export interface Chap {
  readonly username: string;
  readonly password: string;
  readonly usernameIn: string | null;
  readonly passwordIn: string | null;
}

/** Per target (by IQN), for sendtargets discovery, and a default for targets not named. */
export interface ChapTable {
  readonly targets: ReadonlyMap<string, Chap>;
  readonly discovery: Chap | null;
  readonly fallback: Chap | null;
}

export const NO_CHAP: ChapTable = { targets: new Map(), discovery: null, fallback: null };

/** What iscsiadm accepts as a CHAP name or secret on its command line (no white space, no quotes). */
const VALUE_RE = /^[\x21-\x7e]{1,255}$/;

export function chapFor(table: ChapTable, iqn: string): Chap | null {
  return table.targets.get(iqn) ?? table.fallback;
}

/** Whether the credentials for IQN are the [default] ones (no section of its own). */
export function chapIsDefault(table: ChapTable, iqn: string): boolean {
  return !table.targets.has(iqn) && table.fallback !== null;
}

/**
 * [default] credentials go only to portals the administrator named ([iscsi] portals, or discover's
 * command line): a filer's sendtargets answer may list any address, and a CHAP response sent there
 * could be attacked offline. A target with a section of its own is the administrator's choice.
 * Returns the portals that are not trusted (empty: the credentials may be offered).
 */
export function untrustedForDefault(portals: readonly string[], trusted: readonly string[]): string[] {
  return portals.filter((p) => !trusted.includes(p));
}

/**
 * Parses the credentials file (ini): a section per target IQN, [discovery] for sendtargets, and
 * [default] for any other target. Keys: username, password, username_in, password_in. A value is
 * taken byte for byte (`#`, `;`, `=` and quotes included); one that cannot be (blanks, non-ASCII,
 * control characters, or wrapped in quotes as other ini readers would strip) is refused, naming the
 * file, line and key, never the value.
 */
export function parseChap(text: string, file: string): ChapTable {
  const targets = new Map<string, Chap>();
  let discovery: Chap | null = null;
  let fallback: Chap | null = null;
  const problems = new Problems();
  for (const { name: section, line, entries } of parseIniFile(text, file)) {
    problems.run(() => {
      if (section === null) throw new InputError(`${file}:${entries[0]?.line ?? line}: key '${entries[0]?.key ?? "?"}' is outside any section ([IQN], [discovery] or [default])`);
      const get = (key: string): string | null => {
        const e = entries.find((x) => x.key === key);
        if (!e) return null;
        const where = `${file}:${e.line}: [${section}] ${key}`;
        // never echo a value: it may be a secret
        if (/^(["']).*\1$/.test(e.value)) throw new InputError(`${where}: quotes are not stripped (they would be part of the value): write it without them`);
        if (!VALUE_RE.test(e.value)) throw new InputError(`${where}: must be 1 to 255 printable ASCII characters without blanks (it is used byte for byte)`);
        return e.value;
      };
      for (const e of entries) {
        if (!["username", "password", "username_in", "password_in"].includes(e.key)) throw new InputError(`${file}:${e.line}: [${section}] unknown key '${e.key}'`);
      }
      const username = get("username");
      const password = get("password");
      if (username === null || password === null) throw new InputError(`${file}:${line}: [${section}] needs both username and password`);
      const usernameIn = get("username_in");
      const passwordIn = get("password_in");
      if ((usernameIn === null) !== (passwordIn === null)) throw new InputError(`${file}:${line}: [${section}] mutual CHAP needs both username_in and password_in`);
      const chap: Chap = { username, password, usernameIn, passwordIn };
      if (section === "discovery") discovery = chap;
      else if (section === "default") fallback = chap;
      else {
        const why = iscsiNameProblem(section);
        if (why) throw new InputError(`${file}:${line}: section [${section.replace(/[^\x20-\x7e]/g, "?")}] is not [discovery], [default] or a target's IQN: ${why}`);
        targets.set(section, chap);
      }
    });
  }
  problems.done();
  return { targets, discovery, fallback };
}

/** The node-record settings that turn CHAP on (values are secrets: never log them). */
export function chapSettings(prefix: "node.session.auth" | "discovery.sendtargets.auth", c: Chap): [string, string][] {
  const s: [string, string][] = [
    [`${prefix}.authmethod`, "CHAP"],
    [`${prefix}.username`, c.username],
    [`${prefix}.password`, c.password],
  ];
  if (c.usernameIn !== null && c.passwordIn !== null) s.push([`${prefix}.username_in`, c.usernameIn], [`${prefix}.password_in`, c.passwordIn]);
  return s;
}

/** Hides the value after "-v" when the setting named by "-n" is a password. */
export function redactArgv(argv: readonly string[]): string[] {
  return argv.map((a, i) => (i >= 2 && argv[i - 1] === "-v" && /password/.test(argv[i - 2] ?? "") ? "********" : a));
}
