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
}

export function staleRefusal(r: StaleRecord, spec: string): string {
  return (
    `the local leg of ${r.label} holds the only current data since ${r.since} (${r.reason}); its iSCSI LUN is stale and ` +
    `attaching as usual would copy it over the local data. To keep the local data: block-iscsimple add --prefer-local ${spec} ` +
    `(for xl: on-stale-iscsi = prefer-local in block-iscsimple.conf); to discard it: --prefer-iscsi`
  );
}
