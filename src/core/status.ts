import { describeLeg, type Health, type LegHealth, type StaleRecord } from "./health";
import type { ArrayState } from "./md-state";
import type { Phase } from "./records";

/**
 * `status` for people and for monitoring: one verdict per attachment and for the host, with the
 * exit codes of a monitoring plugin (Nagios, Icinga, Zabbix's and Prometheus' script checks all
 * read them): 0 ok, 1 warning, 2 critical, 3 unknown (status could not tell). Pure: the engine
 * collects what it judges.
 */
export type Verdict = "ok" | "warning" | "critical" | "unknown";

export const STATUS_EXIT: Readonly<Record<Verdict, number>> = { ok: 0, warning: 1, critical: 2, unknown: 3 };

const RANK: Readonly<Record<Verdict, number>> = { ok: 0, warning: 1, critical: 2, unknown: 3 };

export function worst(vs: readonly Verdict[]): Verdict {
  return vs.reduce<Verdict>((a, b) => (RANK[b] > RANK[a] ? b : a), "ok");
}

/** The version of `status --json`'s shape; it changes only when a field changes meaning or goes. */
export const STATUS_SCHEMA = 1;

/** One leg of a mirror, as `status --json` gives it. */
export interface LegStatus {
  /** in_sync, recovering, faulty, missing (md has no such member), none (the mirror has no such leg). */
  readonly state: LegHealth["state"];
  /** Resync progress in % while recovering, else null. */
  readonly progress: number | null;
  /** The device of the leg (the multipath map when the iSCSI leg is one), or null. */
  readonly device: string | null;
}

export interface MultipathPath {
  readonly device: string;
  readonly session: number | null;
  /** The session's state (LOGGED_IN, FAILED, FREE...), or null when the path is not one of the target's sessions. */
  readonly state: string | null;
}

export interface MultipathStatus {
  readonly name: string;
  readonly wwid: string;
  readonly paths: readonly MultipathPath[];
  /** What the map does with no path left: fail (I/O fails), queue (forever), bounded (for a while), null (multipathd did not answer). */
  readonly noPath: "fail" | "queue" | "bounded" | null;
}

export interface ArrayStatus {
  /** Kernel name (md127...): not stable across attaches. */
  readonly name: string;
  readonly arrayState: string;
  readonly syncAction: string;
  readonly progress: number | null;
  readonly degraded: number;
  readonly members: readonly { readonly device: string; readonly role: "iscsi" | "local" | "other"; readonly flags: readonly string[] }[];
}

export interface AttachmentJson {
  readonly id: string;
  readonly spec: string;
  readonly iqn: string | null;
  readonly lun: number;
  readonly label: string | null;
  readonly owner: { readonly kind: "xen" | "manual" | "prepared"; readonly domid: number | null; readonly backend: string | null; readonly vm: string | null; readonly until: string | null };
  readonly mode: "w" | "r";
  readonly phase: Phase;
  /** The process at work on it (adding, removing), else null. */
  readonly pid: number | null;
  /** What the guest (or the caller) was given: the device path and its hex major:minor. */
  readonly device: { readonly path: string; readonly number: string } | null;
  readonly iscsi: {
    readonly device: string | null;
    readonly wwid: string | null;
    readonly sessions: readonly { readonly id: number; readonly state: string | null }[];
    readonly multipath: MultipathStatus | null;
  } | null;
  readonly local: { readonly device: string } | null;
  readonly array: ArrayStatus | null;
  readonly health: { readonly iscsi: LegStatus; readonly local: LegStatus; readonly current: Health["current"] } | null;
  readonly guard: GuardJson | null;
  readonly verdict: Verdict;
  /** Why the verdict is not ok, one line each. */
  readonly reasons: readonly string[];
}

export interface GuardJson {
  readonly label: string;
  readonly since: string;
  readonly reason: string;
  readonly wwid: string | null;
  /** The administrator's choice for the next add (resolve), if any. */
  readonly decision: "prefer-local" | "prefer-iscsi" | null;
  /** Set when the guard file cannot be read (it counts as set). */
  readonly unreadable: string | null;
}

export interface StatusJson {
  readonly schema: number;
  readonly verdict: Verdict;
  readonly exitCode: number;
  readonly reasons: readonly string[];
  readonly attachments: readonly AttachmentJson[];
  /** Every direction guard on the host, also those of labels not attached now. */
  readonly guards: readonly GuardJson[];
  readonly monitor: { readonly running: boolean; readonly pid: number | null; readonly lastRound: string | null };
}

export function guardJson(g: StaleRecord): GuardJson {
  return { label: g.label, since: g.since, reason: g.reason, wwid: g.wwid ?? null, decision: g.decision ?? null, unreadable: g.broken ?? null };
}

/** What is judged of one attachment. */
export interface Judged {
  readonly spec: string;
  readonly label: string | null;
  readonly phase: Phase;
  /** It has an iSCSI leg (not MISSING). */
  readonly hasIscsi: boolean;
  readonly sessions: number;
  readonly array: ArrayState | null;
  readonly health: Health | null;
  readonly guard: StaleRecord | null;
}

/**
 * ok: attached, every leg it has in sync. warning: a leg being rebuilt from the other (the local
 * leg after an attach), or an add or remove at work. critical: a leg failed or missing, no leg
 * current, the direction guard set (the local leg holds the only current data: the VM must not
 * move), an interrupted add, a mirror without its array, a LUN without a session.
 */
export function judge(a: Judged): { verdict: Verdict; reasons: string[] } {
  const reasons: string[] = [];
  let v: Verdict = "ok";
  const say = (level: Verdict, why: string): void => {
    v = worst([v, level]);
    reasons.push(why);
  };
  if (a.phase === "interrupted") say("critical", `${a.spec}: its add was interrupted: run remove`);
  if (a.phase === "adding") say("warning", `${a.spec}: being added`);
  if (a.phase === "removing") say("warning", `${a.spec}: being removed`);
  if (a.phase === "attached") {
    if (a.hasIscsi && a.sessions === 0) say("critical", `${a.spec}: no iSCSI session to its target`);
    if (a.label !== null) {
      const h = a.health;
      if (h === null) say("critical", `${a.spec}: no array of its legs runs`);
      else {
        for (const [name, leg] of [["iSCSI", h.iscsi], ["local", h.local]] as const) {
          if (leg.state === "faulty" || leg.state === "missing") say("critical", `${a.spec}: its ${name} leg is ${leg.state}`);
          else if (leg.state === "recovering") say(name === "iSCSI" ? "critical" : "warning", `${a.spec}: its ${name} leg is ${describeLeg(leg)}${name === "iSCSI" ? ": only the local leg is current" : ""}`);
        }
        if (h.current === "none") say("critical", `${a.spec}: no leg is in sync`);
      }
    }
  }
  if (a.guard) say("critical", `${a.label ?? a.spec}: the direction guard is set (${a.guard.broken !== undefined ? "unreadable" : a.guard.reason}): the local leg holds the only current data`);
  return { verdict: v, reasons };
}
