import { parseIniFile } from "./ini-file";
import { UserError } from "./errors";
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

/**
 * Parses the credentials file (ini): a section per target IQN, [discovery] for sendtargets, and
 * [default] for any other target. Keys: username, password, username_in, password_in.
 */
export function parseChap(text: string, file: string): ChapTable {
  const raw = parseIniFile(text, file);
  const targets = new Map<string, Chap>();
  let discovery: Chap | null = null;
  let fallback: Chap | null = null;
  for (const [section, body] of Object.entries(flattenSections(raw))) {
    if (typeof body !== "object" || body === null) throw new UserError(`${file}: key '${section}' is outside any section ([IQN], [discovery] or [default])`);
    const values = body as Record<string, unknown>;
    const get = (key: string): string | null => {
      const v = values[key];
      if (v === undefined) return null;
      // never echo a value: it may be a secret
      if (typeof v !== "string" || !VALUE_RE.test(v)) throw new UserError(`${file}: [${section}] ${key}: must be 1 to 255 printable characters without spaces`);
      return v;
    };
    for (const k of Object.keys(values)) {
      if (!["username", "password", "username_in", "password_in"].includes(k)) throw new UserError(`${file}: [${section}] unknown key '${k}'`);
    }
    const username = get("username");
    const password = get("password");
    if (username === null || password === null) throw new UserError(`${file}: [${section}] needs both username and password`);
    const usernameIn = get("username_in");
    const passwordIn = get("password_in");
    if ((usernameIn === null) !== (passwordIn === null)) throw new UserError(`${file}: [${section}] mutual CHAP needs both username_in and password_in`);
    const chap: Chap = { username, password, usernameIn, passwordIn };
    if (section === "discovery") discovery = chap;
    else if (section === "default") fallback = chap;
    else {
      const why = iscsiNameProblem(section);
      if (why) throw new UserError(`${file}: section [${section}] is not [discovery], [default] or a target's IQN: ${why}`);
      targets.set(section, chap);
    }
  }
  return { targets, discovery, fallback };
}

/**
 * The ini package nests a section whose name has dots ([iqn.2014-06.fr.example:x] becomes
 * iqn -> 2014-06 -> ...): rebuild the section names (an IQN) from that nesting.
 */
function flattenSections(raw: Record<string, unknown>, prefix = ""): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    const name = prefix === "" ? k : `${prefix}.${k}`;
    if (typeof v !== "object" || v === null) {
      if (prefix === "") out[k] = v;
      continue;
    }
    const own = Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([, x]) => typeof x !== "object" || x === null));
    if (Object.keys(own).length > 0) out[name] = own;
    Object.assign(out, flattenSections(Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([, x]) => typeof x === "object" && x !== null)), name));
  }
  return out;
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
