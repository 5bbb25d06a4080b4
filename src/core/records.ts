import type { LocalIdentity } from "./local-leg";

/** What the program keeps under /run/block-iscsimple about each attachment it made. */

export type Owner =
  | { readonly kind: "xen"; readonly domid: number; readonly devid: number; readonly backend: string; readonly vm: string | null }
  | { readonly kind: "manual" }
  /** `prepare` (before a migration): a session and the LUN's device, for an add that comes soon. */
  | { readonly kind: "prepared"; readonly until: string };

export interface AttachmentRecord {
  readonly id: string;
  readonly spec: string;
  readonly iqn: string | null;
  readonly lun: number;
  readonly label: string | null;
  readonly writable: boolean;
  readonly owner: Owner;
  /** pid of the add that wrote this record (to kill its children if it was SIGKILLed). */
  readonly pid: number;
  /** Its start time (/proc/PID/stat), so that a reused pid is not taken for it. */
  readonly pidStart?: string | null;
  readonly started: string;
  /** This attachment counts as a user of its target (set before login). */
  readonly claimsTarget: boolean;
  /** This attachment counts as a user of the md array of its label. */
  readonly claimsArray: boolean;
  /** Child processes of the add while they run: [pid, argv0, its start time (/proc/PID/stat) when read]. */
  readonly children: readonly (readonly [number, string, string?])[];
  /** The iSCSI leg, once found. */
  readonly iscsi: DevRef | null;
  /** The local leg, once checked. */
  readonly local: DevRef | null;
  /** The md array, once built (its kernel name is not stable: always check it by its members). */
  readonly md: DevRef | null;
  /** The LUN's WWID (multipath form), when the kernel gives one: the direction guard names it. */
  readonly iscsiWwid?: string | null;
  /** Which disk the local leg is (stable id), for the direction guard. */
  readonly localId?: (LocalIdentity & { readonly device: string }) | null;
  /** Set when the add finished: hex major:minor and the path given to the guest. */
  readonly device: string | null;
  readonly devicePath: string | null;
  /** Set when a remove (or the rollback of a failed add) began undoing this attachment. */
  readonly removing?: string;
}

/**
 * Where an attachment stands: its add runs, it is attached, its add was interrupted (its process
 * is gone: remove undoes what it did), or a remove (or a rollback) is undoing it.
 */
export type Phase = "adding" | "attached" | "interrupted" | "removing";

export function phaseOf(r: AttachmentRecord, writerAlive: boolean): Phase {
  if (r.removing !== undefined) return "removing";
  if (r.device !== null) return "attached";
  return writerAlive ? "adding" : "interrupted";
}

/** A block device as seen at attach time. */
export interface DevRef {
  readonly path: string;
  readonly name: string;
  readonly major: number;
  readonly minor: number;
}

export function devRef(path: string, name: string, dev: { major: number; minor: number }): DevRef {
  return { path, name, major: dev.major, minor: dev.minor };
}

/** One per target we hold: whether our program logged in (and so may log out). */
export interface TargetRecord {
  readonly iqn: string;
  readonly loggedInByUs: boolean;
}

export function describeOwner(owner: Owner): string {
  if (owner.kind === "xen") return `domain ${owner.domid} (${owner.backend}${owner.vm ? `, vm ${owner.vm}` : ""})`;
  return owner.kind === "prepared" ? `a prepared session (until ${owner.until})` : "a manual attachment";
}

export function sameVm(a: Owner, b: Owner): boolean {
  return a.kind === "xen" && b.kind === "xen" && a.vm !== null && a.vm === b.vm;
}

export function attachmentId(owner: Owner, spec: { iqn: string | null; lun: number; label: string | null }): string {
  if (owner.kind === "xen") return `vbd-${owner.domid}-${owner.devid}`;
  if (owner.kind === "prepared") return `prepared-${spec.iqn ?? "MISSING"}-lun${spec.lun}`;
  return spec.label !== null ? `manual-label-${spec.label}` : `manual-${spec.iqn ?? "MISSING"}-lun${spec.lun}`;
}
