import { describeIdentity, sameDisk, type LocalIdentity } from "./local-leg";
import type { ArrayState } from "./md-state";

/** The state of one leg of a mirror, from md's view of it. */
export type LegHealthState = "in_sync" | "recovering" | "faulty" | "missing" | "none";

export interface LegHealth {
  readonly state: LegHealthState;
  /** Resync progress in %, while recovering. */
  readonly progress: number | null;
  readonly device: string | null;
}

export interface Health {
  readonly iscsi: LegHealth;
  readonly local: LegHealth;
  /** Which leg holds current data. */
  readonly current: "both" | "iscsi" | "local" | "none";
  /** A plain warning when the iSCSI leg is not current (the VM must not run elsewhere). */
  readonly warning: string | null;
}

/** "in_sync", "recovering 42.0%", "faulty"...: one leg's state for a person. */
export function describeLeg(l: LegHealth): string {
  return l.state === "recovering" && l.progress !== null ? `recovering ${l.progress.toFixed(1)}%` : l.state;
}

function leg(a: ArrayState, role: "iscsi" | "local", expected: boolean): LegHealth {
  if (!expected) return { state: "none", progress: null, device: null };
  const l = a.legs.find((x) => x.role === role);
  if (!l) return { state: "missing", progress: null, device: null };
  if (l.flags.includes("faulty")) return { state: "faulty", progress: null, device: l.device };
  if (l.flags.includes("in_sync")) return { state: "in_sync", progress: null, device: l.device };
  return { state: "recovering", progress: a.syncAction === "recover" ? a.progress : null, device: l.device };
}

/** Judges an array of ours: which leg is current, and whether the VM may move. */
export function assessHealth(a: ArrayState, hasIscsi: boolean, hasLocal: boolean, label: string): Health {
  const iscsi = leg(a, "iscsi", hasIscsi);
  const local = leg(a, "local", hasLocal);
  const iscsiOk = iscsi.state === "in_sync";
  const localOk = local.state === "in_sync";
  const current = iscsiOk && localOk ? "both" : iscsiOk ? "iscsi" : localOk ? "local" : "none";
  let warning: string | null = null;
  if (hasIscsi && !iscsiOk && current === "local") {
    warning = `the iSCSI leg of ${label} is ${iscsi.state}${iscsi.progress !== null ? ` (${iscsi.progress.toFixed(1)}%)` : ""}: only the local leg is current. Do not migrate this VM or start it on another host until it is healed (block-iscsimple heal ${label})`;
  } else if (current === "none") {
    warning = `no leg of ${label} is in sync`;
  }
  return { iscsi, local, current, warning };
}

/** What an add does when the local leg of a label is recorded as the only current copy. */
export type StalePolicy = "refuse" | "prefer-local" | "prefer-iscsi";

/** Recorded (persistently) when the local leg is the only current copy of a label. */
export interface StaleRecord {
  readonly label: string;
  readonly spec: string;
  readonly since: string;
  readonly reason: string;
  /** The disks the guard is about (absent in guards written by 0.1.0). */
  readonly iqn?: string | null;
  readonly lun?: number;
  /** The SCSI or multipath WWID of the LUN, when the kernel gave one. */
  readonly wwid?: string | null;
  readonly local?: (LocalIdentity & { readonly device: string }) | null;
  /** The administrator's choice for the next add of this label only (`resolve`). */
  readonly decision?: "prefer-local" | "prefer-iscsi";
  /** Set when the guard file could not be read or parsed: it counts as set, and no choice applies. */
  readonly broken?: string;
}

export function staleRefusal(r: StaleRecord, spec: string): string {
  if (r.broken !== undefined) {
    return `the direction guard of ${r.label} cannot be read (${r.broken}), so it counts as set: the local leg may hold the only current data. Check the disks, then fix the file or run: block-iscsimple resolve ${r.label} --forget`;
  }
  return (
    `the local leg of ${r.label} holds the only current data since ${r.since} (${r.reason}); its iSCSI LUN is stale and ` +
    `attaching as usual would copy it over the local data. To keep the local data: block-iscsimple add --prefer-local ${spec}, ` +
    `or for xl: block-iscsimple resolve ${r.label} --prefer-local (the next add only); to discard it: --prefer-iscsi`
  );
}

/** The disks an add names, to compare with a guard's. */
export interface NamedDisks {
  readonly iqn: string | null;
  readonly lun: number;
  /** The LUN's WWID as found (null: the kernel gives none), undefined before the LUN was found. */
  readonly wwid: string | null | undefined;
  readonly local: (LocalIdentity & { readonly device: string }) | null;
}

/** Why a guard is not about the disks this add names (null: it is, or it cannot tell). */
export function guardMismatch(g: StaleRecord, d: NamedDisks): string | null {
  const lun = (iqn: string | null | undefined, n: number | undefined): string => (iqn ? `lun${n ?? 0}@${iqn}` : "no iSCSI leg");
  // a guard written while the array ran without an iSCSI leg (MISSING) holds against any LUN
  if (g.iqn !== undefined && g.iqn !== null && (g.iqn !== d.iqn || g.lun !== d.lun)) {
    return `the guard is about ${lun(g.iqn, g.lun)}, this add names ${lun(d.iqn, d.lun)}`;
  }
  // a LUN is known by its WWID: whichever way the mirror is built, a LUN that cannot be proven the
  // guard's (another volume mapped at its number, or no WWID to tell) must not be copied to or from
  if (g.wwid && d.wwid !== undefined) {
    if (d.wwid === null) return `the guard is about the LUN with WWID ${g.wwid}, and the WWID of the LUN this add found cannot be read: nothing proves it is the same volume`;
    if (d.wwid !== g.wwid) return `the guard is about the LUN with WWID ${g.wwid}, this add found WWID ${d.wwid}: another volume is mapped at that LUN number`;
  }
  if (g.local && d.local && !sameDisk(g.local, d.local)) {
    return `the guard is about the local device ${g.local.device} (${describeIdentity(g.local)}), tab.conf now names ${d.local.device} (${describeIdentity(d.local)})`;
  }
  if (g.local && d.local === null) return `the guard is about the local device ${g.local.device}, this add has no local leg`;
  return null;
}

export function noWwidRefusal(g: StaleRecord): string {
  return (
    `the direction guard of ${g.label} (since ${g.since}: ${g.reason}) recorded no WWID for lun${g.lun ?? 0}@${g.iqn ?? "?"}: ` +
    `nothing proves that the LUN this add found is that volume, so the local leg is not copied over it. ` +
    `Check the filer's mapping; to keep the local data, copy it by hand (attach MISSING+${g.label}), or once sure: block-iscsimple resolve ${g.label} --forget`
  );
}

export function mismatchRefusal(g: StaleRecord, why: string): string {
  return (
    `the direction guard of ${g.label} (since ${g.since}: ${g.reason}) is about other disks than this add: ${why}. ` +
    `Put back the disks it names; if their data is known lost or no longer wanted: block-iscsimple resolve ${g.label} --forget`
  );
}
