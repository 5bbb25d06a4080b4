import { InputError } from "./errors";
import { iscsiNameProblem } from "./iqn";

/** A parsed target spec: `[iscsimple:][lunN@]IQN[+LABEL]`. */
export interface TargetSpec {
  /** The spec as written, without the optional `iscsimple:` prefix. */
  readonly text: string;
  /** null when the IQN part begins with MISSING: no iSCSI leg. */
  readonly iqn: string | null;
  readonly lun: number;
  /** The mirror label (tab.conf key, /dev/md/LABEL), or null for a plain iSCSI disk. */
  readonly label: string | null;
}

export const LEGACY_PREFIX = "iscsimple:";
export const LABEL_RE = /^[A-Za-z0-9_-]{1,64}$/;
export const MAX_LUN = 16383;
const MAX_SPEC = 400;

export function isMissing(word: string): boolean {
  return word.startsWith("MISSING");
}

/** Returns null when LABEL is acceptable, else why not. */
export function labelProblem(label: string): string | null {
  if (label.length === 0) return "it is empty";
  if (label.length > 64) return "it is longer than 64 characters";
  const bad = /[^A-Za-z0-9_-]/.exec(label);
  if (bad) return `character '${bad[0]}' is not allowed (only A-Z a-z 0-9 _ -)`;
  return null;
}

export function parseSpec(input: string): TargetSpec {
  const show = JSON.stringify(input.length > 80 ? `${input.slice(0, 80)}…` : input);
  const fail = (why: string): never => {
    throw new InputError(`bad target spec ${show}: ${why}`);
  };
  if (input.length > MAX_SPEC) fail(`longer than ${MAX_SPEC} characters`);
  let text = input.trim();
  if (text.startsWith(LEGACY_PREFIX)) text = text.slice(LEGACY_PREFIX.length);
  if (text.length === 0) fail("it is empty (expected [lunN@]IQN[+LABEL])");
  if (/\s/.test(text)) fail("it contains white space");

  let rest = text;
  let lun = 0;
  const at = rest.indexOf("@");
  if (at >= 0) {
    const lunPart = rest.slice(0, at);
    const m = /^lun(0|[1-9][0-9]{0,4})$/.exec(lunPart);
    if (!m) fail(`LUN part '${lunPart}' is not lunN (N a decimal number without leading zeros)`);
    lun = Number(m![1]);
    if (lun > MAX_LUN) fail(`LUN ${lun} is above ${MAX_LUN}`);
    rest = rest.slice(at + 1);
    if (rest.includes("@")) fail("more than one '@'");
  }

  let label: string | null = null;
  const plus = rest.indexOf("+");
  if (plus >= 0) {
    label = rest.slice(plus + 1);
    rest = rest.slice(0, plus);
    if (label.includes("+")) fail("more than one '+'");
    const why = labelProblem(label);
    if (why) fail(`label '${label}': ${why}`);
  }

  if (rest.length === 0) fail("the IQN part is empty");
  let iqn: string | null = rest;
  if (isMissing(rest)) {
    iqn = null;
    if (label === null) fail(`'${rest}' means no iSCSI leg, so a +LABEL for the local leg is required`);
  } else {
    const why = iscsiNameProblem(rest);
    if (why) fail(`IQN '${rest.length > 60 ? `${rest.slice(0, 60)}…` : rest}': ${why}`);
  }
  return { text, iqn, lun, label };
}

/** The canonical text of a spec (what `status` shows and what records key on). */
export function formatSpec(spec: TargetSpec): string {
  const lun = `lun${spec.lun}@`;
  const iqn = spec.iqn ?? "MISSING";
  return `${lun}${iqn}${spec.label ? `+${spec.label}` : ""}`;
}
