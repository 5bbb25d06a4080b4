import { RefusedError } from "./errors";

/**
 * Who a local device is. Kernel numbers change across reboots (dm minors) and devices are renamed,
 * so a stable name from the kernel is compared when both sides have one, else major:minor.
 */
export interface LocalIdentity {
  readonly major: number;
  readonly minor: number;
  /** "dm-uuid:LVM-…", "wwid:naa.…", "serial:…", "loop:/path" (+ "/partN" for a partition); null: none. */
  readonly id: string | null;
}

/** Kept per label under /var/lib/block-iscsimple/local/LABEL.json: the disk its local leg is. */
export interface LocalRecord extends LocalIdentity {
  readonly label: string;
  /** The path tab.conf gave, as the administrator wrote it. */
  readonly device: string;
  readonly since: string;
  /** Recorded by `accept-local` or `add --new-local-disk`: the administrator confirmed this disk. */
  readonly accepted?: boolean;
}

export function sameDisk(a: LocalIdentity, b: LocalIdentity): boolean {
  if (a.id !== null && b.id !== null) return a.id === b.id;
  return a.major === b.major && a.minor === b.minor;
}

export function describeIdentity(i: LocalIdentity): string {
  return `${i.major}:${i.minor}${i.id !== null ? `, ${i.id}` : ""}`;
}

/** What the engine found out about the local leg of a label before writing to it. */
export interface LocalView {
  readonly label: string;
  /** The device as the administrator wrote it in tab.conf. */
  readonly device: string;
  readonly identity: LocalIdentity;
  /** Why the device, a partition of it, or the disk it is a partition of is in use now. */
  readonly uses: readonly string[];
  readonly recorded: LocalRecord | null;
  /** Signatures found on the device (probed only when nothing is recorded for the label). */
  readonly signatures: readonly string[];
}

/** known: the label's recorded disk; record: remember it as the label's; source: not written, not recorded. */
export type LocalVerdict = "known" | "record" | "source";

const confirmHow = (label: string): string => `block-iscsimple accept-local ${label} (for xl), or add --new-local-disk by hand`;

/**
 * Decides whether the local leg may be overwritten. In use: refused, always. A different disk than
 * the label used before, or a disk that holds data and was never used by this label: refused
 * unless the administrator confirmed it. "record": remember this disk as the label's local leg.
 */
export function judgeLocal(v: LocalView, confirmed: boolean, overwritten = true): LocalVerdict {
  const dev = `${v.device} (${describeIdentity(v.identity)})`;
  if (v.uses.length > 0) {
    throw new RefusedError(`label '${v.label}': the local leg ${dev} is in use: ${v.uses.join("; ")}; refusing to ${overwritten ? "overwrite" : "use"} it`);
  }
  // without an iSCSI leg (MISSING) the local leg is the array's only source: nothing copies over
  // it, and it is not recorded as the label's (a later add with a LUN asks again)
  if (!overwritten) return "source";
  if (v.recorded !== null && sameDisk(v.recorded, v.identity)) return confirmed ? "record" : "known";
  if (confirmed) return "record";
  if (v.recorded !== null) {
    throw new RefusedError(
      `label '${v.label}': tab.conf now names ${dev}, but this label's local leg has been ${v.recorded.device} (${describeIdentity(v.recorded)}) since ${v.recorded.since}; ` +
        `attaching would overwrite the new disk. If it replaces the old one on purpose: ${confirmHow(v.label)}`,
    );
  }
  if (v.signatures.length > 0) {
    throw new RefusedError(
      `label '${v.label}': the local leg ${dev} holds ${v.signatures.join(", ")} and was never used by this label; attaching would overwrite it with the iSCSI LUN. ` +
        `If that data may go: ${confirmHow(v.label)}`,
    );
  }
  return "record";
}

/** Two labels of tab.conf whose devices are the same disk (or one a partition of the other). */
export interface TabClash {
  readonly label: string;
  readonly line: number;
  readonly other: string;
  readonly otherLine: number;
}

export function clashMessage(file: string, c: TabClash, device: string): string {
  return `${file}:${c.line}: label '${c.label}' and label '${c.other}' (line ${c.otherLine}) name the same disk (${device}): one disk cannot be the local leg of two mirrors`;
}
