import type { Config } from "./config";
import type { Chap } from "./chap";
import { InputError, InternalError, RefusedError } from "./errors";
import { guardMismatch, mismatchRefusal, noWwidRefusal, staleRefusal, type NamedDisks, type StalePolicy, type StaleRecord } from "./health";
import type { AttachmentRecord, Owner } from "./records";
import { checkSharing } from "./sharing";
import type { TargetSpec } from "./spec";

/**
 * A plan is data: the steps of an attach, in order. The engine runs them with the host adapters;
 * steps marked with an undo get it pushed on the rollback stack before they run, so that a step
 * killed half-way is undone too (every undo is idempotent and looks at the host first).
 */
export type Step =
  | { readonly kind: "discover"; readonly iqn: string; readonly portals: readonly string[]; readonly chap?: Chap | null }
  | { readonly kind: "set-node"; readonly iqn: string; readonly name: string; readonly value: string }
  /** CHAP credentials into the target's node records (files, not argv: they are secrets). */
  /** With `onlyTo`, the [default] credentials: offered only when every node portal is one of these. */
  | { readonly kind: "set-chap"; readonly iqn: string; readonly chap: Chap; readonly onlyTo: readonly string[] | null }
  | { readonly kind: "claim-target"; readonly iqn: string; readonly login: boolean }
  | { readonly kind: "login"; readonly iqn: string }
  | { readonly kind: "rescan"; readonly iqn: string }
  | { readonly kind: "set-recovery"; readonly iqn: string; readonly seconds: number }
  /** refresh: the session existed before this add, so the device's identity is read again first. */
  | { readonly kind: "find-lun"; readonly iqn: string; readonly lun: number; readonly refresh: boolean }
  /** Use multipathd's map of the LUN as the iSCSI leg when there is (or will be) one. */
  | { readonly kind: "multipath"; readonly iqn: string; readonly lun: number; readonly use: "auto" | "no"; readonly waitS: number; readonly queueing: "disable" | "warn" }
  | { readonly kind: "check-local"; readonly device: string }
  /** The first leg is the source: "iscsi" (write-mostly, the usual way) or "local". */
  | { readonly kind: "md-build"; readonly label: string; readonly first: "iscsi" | "local" }
  | { readonly kind: "md-speed"; readonly label: string; readonly min: number | null; readonly max: number | null }
  /** The second leg, rebuilt from the first (the iSCSI leg is always write-mostly). */
  | { readonly kind: "md-add"; readonly label: string; readonly leg: "iscsi" | "local" }
  | { readonly kind: "clear-stale"; readonly label: string }
  /** The administrator's one-time choice (`resolve`) was used: forget it. */
  | { readonly kind: "forget-decision"; readonly label: string }
  | { readonly kind: "join-array"; readonly label: string; readonly from: string }
  | { readonly kind: "use-iscsi"; readonly iqn: string; readonly lun: number }
  | { readonly kind: "publish" };

export type StepKind = Step["kind"];

/** The undo each step registers (before it runs), if any. */
export type Undo =
  | { readonly kind: "release-target"; readonly iqn: string }
  | { readonly kind: "stop-array"; readonly label: string };

/** What the engine observed on the host, under the target lock. */
export interface TargetView {
  /** Portals of the node records of this target. */
  readonly nodePortals: readonly string[];
  /** The settings in each node record file of the target (none known: every setting is written). */
  readonly nodeRecords?: readonly Readonly<Record<string, string>>[];
  /** Session ids of this target. */
  readonly sessions: readonly number[];
  /** Whether the LUN's block device is visible now. */
  readonly lunVisible: boolean;
  readonly records: readonly AttachmentRecord[];
}

export interface Request {
  readonly id: string;
  readonly spec: TargetSpec;
  readonly writable: boolean;
  readonly owner: Owner;
  /** The local leg: a device, null for MISSING, undefined when the spec has no label. */
  readonly local: string | null | undefined;
  readonly config: Config;
  /** CHAP credentials for this target (from the credentials file), if any. */
  readonly chap?: Chap | null;
  /** They are the file's [default] credentials, not the target's own section. */
  readonly chapIsDefault?: boolean;
  /** CHAP for sendtargets discovery, if any. */
  readonly discoveryChap?: Chap | null;
  /** --prefer-local / --prefer-iscsi given on the command line (else the config's on-stale-iscsi). */
  readonly prefer?: StalePolicy | null;
  /** --new-local-disk: the administrator confirms that the local leg may be overwritten. */
  readonly newLocalDisk?: boolean;
}

export const NODE_SETTINGS = {
  loginTimeout: "node.conn[0].timeo.login_timeout",
  loginRetries: "node.session.initial_login_retry_max",
  replacementTimeout: "node.session.timeo.replacement_timeout",
} as const;

/**
 * The node settings written before every login (add, heal, discover --luns): open-iscsi's defaults
 * (15 s x 8 logins, 120 s replacement) would outlast libxl's 40 s.
 */
export function loginSettings(config: Config): readonly (readonly [string, string])[] {
  return [
    [NODE_SETTINGS.loginTimeout, String(config.loginTimeoutS)],
    [NODE_SETTINGS.loginRetries, String(config.loginRetries)],
    [NODE_SETTINGS.replacementTimeout, String(config.replacementTimeoutS)],
  ];
}

/** Checks the request itself (before any lock or observation). */
export function validateRequest(req: Request): void {
  if (req.spec.label !== null && req.local === undefined) {
    throw new InternalError(`label ${req.spec.label} was not looked up`);
  }
  if (req.spec.iqn === null && req.local === null) {
    throw new InputError(`spec ${req.spec.text}: both legs are MISSING (no iSCSI target and no local device for label '${req.spec.label}')`);
  }
}

/** The iSCSI half of an attach: discovery, node settings, login or rescan, the LUN's device. */
export function planTarget(req: Request, view: TargetView): Step[] {
  const iqn = req.spec.iqn;
  if (iqn === null) return [];
  checkSharing({ ...req.spec, label: null }, req.writable, req.owner, req.id, view.records);
  const steps: Step[] = [];
  const loggedIn = view.sessions.length > 0;
  if (!loggedIn) {
    if (view.nodePortals.length === 0) {
      if (req.config.portals.length === 0) {
        throw new InputError(`no iSCSI node record for ${iqn} and no discovery portals in the config ([iscsi] portals)`);
      }
      steps.push({ kind: "discover", iqn, portals: req.config.portals, chap: req.discoveryChap ?? null });
    }
    // only what a record does not hold already: each update is an iscsiadm run, and a second attach
    // of a target finds the values the first one wrote
    const records = view.nodePortals.length > 0 ? (view.nodeRecords ?? []) : [];
    for (const [name, value] of loginSettings(req.config)) {
      if (records.length === 0 || records.some((r) => r[name] !== value)) steps.push({ kind: "set-node", iqn, name, value });
    }
    if (req.chap) steps.push({ kind: "set-chap", iqn, chap: req.chap, onlyTo: req.chapIsDefault ? req.config.portals : null });
  }
  steps.push({ kind: "claim-target", iqn, login: !loggedIn });
  if (!loggedIn) steps.push({ kind: "login", iqn });
  else if (!view.lunVisible) steps.push({ kind: "rescan", iqn });
  // the node record only reaches new sessions: an existing one gets the timeout in sysfs
  steps.push({ kind: "set-recovery", iqn, seconds: req.config.replacementTimeoutS });
  steps.push({ kind: "find-lun", iqn, lun: req.spec.lun, refresh: loggedIn });
  const c = req.config;
  steps.push({ kind: "multipath", iqn, lun: req.spec.lun, use: c.multipathUse, waitS: c.multipathWaitS, queueing: c.multipathQueueing });
  return steps;
}

/**
 * The target plan in two parts: what needs the target lock (discovery, node records, the claim, the
 * login or rescan, the sessions' timeout) and what does not (finding the LUN's device and its
 * multipath map). Once the claim is recorded, a logout, which needs the lock, finds it and leaves
 * the session: so the next disk of the same target need not wait for this one's device.
 */
export function splitAtLun(steps: readonly Step[]): { locked: Step[]; after: Step[] } {
  const i = steps.findIndex((s) => s.kind === "find-lun");
  return i < 0 ? { locked: [...steps], after: [] } : { locked: steps.slice(0, i), after: steps.slice(i) };
}

/** What the engine observed about the label, under the label lock. */
export interface MirrorView {
  readonly records: readonly AttachmentRecord[];
  /** An md array that is not ours answers to /dev/md/LABEL. */
  readonly foreignArray: string | null;
  /** The label's local leg is recorded as the only current copy. */
  readonly stale?: StaleRecord | null;
  /** The disks this add names (compared with the guard's). */
  readonly disks?: NamedDisks | null;
}

/**
 * The direction guard: when the label's local leg holds the only current data, which way the
 * mirror is built. A guard about other disks, or one that cannot be read, refuses the add whatever
 * the preference. Pure: the add runs it before login (without the LUN's WWID) and again after.
 */
export function judgeGuard(req: Request, g: StaleRecord | null, disks: NamedDisks | null): { first: "iscsi" | "local"; clearStale: boolean; usedDecision: boolean } {
  const { spec } = req;
  let first: "iscsi" | "local" = spec.iqn !== null ? "iscsi" : "local";
  if (!g || spec.iqn === null) return { first, clearStale: false, usedDecision: false };
  if (g.broken !== undefined) throw new RefusedError(staleRefusal(g, spec.text));
  const why = disks ? guardMismatch(g, disks) : null;
  if (why) throw new RefusedError(mismatchRefusal(g, why));
  const usedDecision = req.prefer == null && g.decision !== undefined;
  const policy = req.prefer ?? g.decision ?? req.config.onStaleIscsi;
  if (policy === "refuse") throw new RefusedError(staleRefusal(g, spec.text));
  if (policy === "prefer-local") {
    first = "local";
    // the local leg is copied over the LUN: the guard must say which volume that is (its WWID); one
    // that recorded none (the kernel gave none) proves nothing. (A guard of an array without an
    // iSCSI leg, MISSING, names no LUN: this add names it for the first time.)
    if (g.iqn != null && !g.wwid && disks?.wwid !== undefined) throw new RefusedError(noWwidRefusal(g));
  }
  return { first, clearStale: policy === "prefer-iscsi", usedDecision };
}

/** The md half: build the RAID1 (or join the same VM's array), then publish the device. */
export function planMirror(req: Request, view: MirrorView): Step[] {
  const { spec } = req;
  if (spec.label === null) {
    return [{ kind: "use-iscsi", iqn: spec.iqn as string, lun: spec.lun }, { kind: "publish" }];
  }
  const verdict = checkSharing(spec, req.writable, req.owner, req.id, view.records);
  if (verdict.joinArrayOf) {
    return [{ kind: "join-array", label: spec.label, from: verdict.joinArrayOf.id }, { kind: "publish" }];
  }
  if (view.foreignArray !== null) {
    throw new RefusedError(`/dev/md/${spec.label} already exists (${view.foreignArray}) and was not built by block-iscsimple; refusing to touch it`);
  }
  const steps: Step[] = [];
  const local = req.local ?? null;
  const both = spec.iqn !== null && local !== null;
  // the direction guard: the local leg may be the only current copy
  const { first, clearStale, usedDecision } = judgeGuard(req, view.stale ?? null, view.disks ?? null);
  if (local !== null) steps.push({ kind: "check-local", device: local });
  steps.push({ kind: "md-build", label: spec.label, first });
  if (req.config.syncSpeedMin !== null || req.config.syncSpeedMax !== null) {
    steps.push({ kind: "md-speed", label: spec.label, min: req.config.syncSpeedMin, max: req.config.syncSpeedMax });
  }
  if (both) steps.push({ kind: "md-add", label: spec.label, leg: first === "iscsi" ? "local" : "iscsi" });
  if (clearStale) steps.push({ kind: "clear-stale", label: spec.label });
  else if (usedDecision) steps.push({ kind: "forget-decision", label: spec.label });
  steps.push({ kind: "publish" });
  return steps;
}
