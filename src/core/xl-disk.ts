import { InputError, Problems } from "./errors";
import { LEGACY_PREFIX, parseSpec } from "./spec";

/**
 * Converts the legacy xm disk entry `iscsimple:SPEC,VDEV,MODE` into the stock-xl spelling
 * `vdev=VDEV,access=MODE,script=block-iscsimple,target=SPEC` (target= last: it takes the rest).
 */
export function convertDiskEntry(entry: string): string {
  const parts = entry.split(",").map((p) => p.trim());
  if (parts.length < 2 || parts.length > 3) {
    throw new InputError(`disk entry '${entry}': expected 'iscsimple:SPEC,VDEV[,MODE]'`);
  }
  const [target, vdev, mode = "w"] = parts as [string, string, string?];
  if (!target.startsWith(LEGACY_PREFIX)) throw new InputError(`disk entry '${entry}': does not start with '${LEGACY_PREFIX}'`);
  const spec = parseSpec(target);
  if (!/^(?:(?:xvd|hd|sd)[a-z]+\d*|\d+)(?::(?:disk|cdrom))?$/.test(vdev)) {
    throw new InputError(`disk entry '${entry}': '${vdev}' is not a virtual device name such as xvda2`);
  }
  const access = ({ w: "rw", rw: "rw", r: "ro", ro: "ro" } as Record<string, string>)[mode];
  if (!access) throw new InputError(`disk entry '${entry}': mode '${mode}' is not r or w`);
  const [vd, devtype] = vdev.split(":");
  const kind = devtype === "cdrom" ? ",devtype=cdrom" : "";
  return `vdev=${vd},access=${access}${kind},script=block-iscsimple,target=${spec.text}`;
}

export interface Conversion {
  readonly text: string;
  readonly changed: number;
}

/**
 * Converts every quoted legacy entry in a domU config file; other text is kept as it is. A bad
 * entry is an error naming FILE and its line (every bad one: InputErrors).
 */
export function convertConfigText(text: string, file = "config"): Conversion {
  let changed = 0;
  const problems = new Problems();
  const out = text.replace(/(['"])(iscsimple:[^'"\n]*)\1/g, (whole: string, quote: string, entry: string, offset: number) => {
    const line = text.slice(0, offset).split("\n").length;
    const converted = problems.run(() => convertDiskEntry(entry));
    if (converted === undefined) {
      const last = problems.list.length - 1;
      problems.list[last] = `${file}:${line}: ${problems.list[last] as string}`;
      return whole;
    }
    changed += 1;
    return `${quote}${converted}${quote}`;
  });
  problems.done();
  return { text: out, changed };
}

/** Accepts a bare entry or a quoted one (as copied from a config line). */
export function convertLine(line: string): string {
  const trimmed = line.trim();
  const quoted = /^(['"])(.*)\1,?$/.exec(trimmed);
  return convertDiskEntry(quoted ? (quoted[2] ?? "") : trimmed);
}
