import { describeLeg, type Health, type StaleRecord } from "../core/health";
import { summariseArray, type ArrayState } from "../core/md-state";
import { describeQueueing, judgeQueueing } from "../core/multipath";
import { describeOwner, phaseOf, type AttachmentRecord, type Phase } from "../core/records";
import { Deadline } from "../host/clock";
import { shown } from "../host/paths";
import type { Host } from "./host";
import { findOurArray, healthOfArray } from "./arrays";
import { writerAlive } from "./orphans";

export interface AttachmentStatus {
  readonly id: string;
  readonly spec: string;
  readonly owner: string;
  readonly domain: number | null;
  readonly mode: "w" | "r";
  readonly complete: boolean;
  /** adding, attached, interrupted (its add's process is gone: run remove), removing. */
  readonly phase: Phase;
  /** The process of the add or remove that is at work on it (adding, removing). */
  readonly pid: number | null;
  readonly device: string | null;
  readonly devicePath: string | null;
  readonly sessions: readonly number[];
  readonly iscsiDevice: string | null;
  readonly localDevice: string | null;
  readonly array: ArrayState | null;
  readonly health: Health | null;
  /** The iSCSI leg's multipath map, when it is one. */
  readonly multipath: MultipathStatus | null;
  /** The local leg is recorded as the only current copy (the direction guard). */
  readonly stale: StaleRecord | null;
}

export interface MultipathStatus {
  readonly name: string;
  readonly wwid: string;
  /** Each path device with its session and that session's state. */
  readonly paths: readonly { readonly name: string; readonly session: number | null; readonly state: string }[];
  /** What multipathd says the map does with no path left (null: multipathd did not answer). */
  readonly queueing: string | null;
}

async function multipathOf(host: Host, r: AttachmentRecord): Promise<MultipathStatus | null> {
  if (r.iscsi === null || r.iqn === null) return null;
  const map = await host.mpath.map(r.iscsi.name);
  if (!map) return null;
  const bySession = new Map((await host.iscsi.lunPaths(r.iqn, r.lun)).map((p) => [p.name, p.session]));
  const paths = await Promise.all(
    map.paths.map(async (name) => {
      const session = bySession.get(name) ?? null;
      return { name, session, state: session === null ? "not a session of the target" : ((await host.iscsi.sessionState(session)) ?? "?") };
    }),
  );
  const report = await host.mpath.report(map.name, new Deadline(5000));
  return { name: map.name, wwid: map.wwid, paths, queueing: report ? describeQueueing(judgeQueueing(report)) : null };
}

export async function collectStatus(host: Host): Promise<AttachmentStatus[]> {
  const out: AttachmentStatus[] = [];
  for (const r of await host.store.attachments()) out.push(await statusOf(host, r));
  return out;
}

async function statusOf(host: Host, r: AttachmentRecord): Promise<AttachmentStatus> {
  const a = r.label !== null ? await findOurArray(host, r) : null;
  const judged = a && r.label !== null ? await healthOfArray(host, r, a, r.label) : null;
  const phase = phaseOf(r, await writerAlive(host, r));
  return {
    phase,
    pid: phase === "adding" || phase === "removing" ? r.pid : null,
    id: r.id,
    spec: r.spec,
    owner: describeOwner(r.owner),
    domain: r.owner.kind === "xen" ? r.owner.domid : null,
    mode: r.writable ? "w" : "r",
    complete: r.device !== null,
    device: r.device,
    devicePath: r.devicePath === null ? null : shown(host.paths, r.devicePath),
    sessions: r.iqn !== null ? await host.iscsi.sessions(r.iqn) : [],
    iscsiDevice: r.iscsi ? shown(host.paths, r.iscsi.path) : null,
    localDevice: r.local ? shown(host.paths, r.local.path) : null,
    multipath: await multipathOf(host, r),
    array: judged?.state ?? null,
    health: judged?.health ?? null,
    stale: r.label !== null ? await host.guard.get(r.label) : null,
  };
}

const PHASE_NOTE: Readonly<Record<Phase, (pid: number | null) => string>> = {
  adding: (pid) => `  (being added, pid ${pid ?? "?"})`,
  attached: () => "",
  interrupted: () => "  (add not finished, its process is gone: run remove)",
  removing: (pid) => `  (being removed, pid ${pid ?? "?"})`,
};

export function formatStatus(list: readonly AttachmentStatus[]): string {
  if (list.length === 0) return "no attachments\n";
  const lines: string[] = [];
  for (const s of list) {
    lines.push(`${s.spec}  [${s.mode}] ${s.owner}${PHASE_NOTE[s.phase](s.pid)}`);
    if (s.devicePath) lines.push(`  device   ${s.devicePath} (${s.device})`);
    if (!s.spec.includes("@MISSING")) {
      lines.push(`  iSCSI    ${s.iscsiDevice ?? "-"}, session ${s.sessions.length ? s.sessions.join(", ") : "none"}`);
      const m = s.multipath;
      if (m) {
        lines.push(`           multipath map ${m.name} (WWID ${m.wwid}), ${m.queueing ?? "queueing unknown (multipathd did not answer)"}`);
        for (const p of m.paths) lines.push(`    path   ${p.name} ${p.session === null ? p.state : `session ${p.session} ${p.state}`}`);
      } else if (s.sessions.length > 1) {
        lines.push(`           one path of ${s.sessions.length}: the iSCSI leg uses the lowest session's device (no multipath)`);
      }
    }
    if (s.array) {
      lines.push(`  md       ${summariseArray(s.array)}`);
      for (const leg of s.array.legs) lines.push(`    ${leg.role.padEnd(6)} ${leg.device} ${leg.flags.join(",")}`);
    }
    if (s.localDevice) lines.push(`  local    ${s.localDevice}`);
    if (s.health) {
      lines.push(`  health   iSCSI leg ${describeLeg(s.health.iscsi)}, local leg ${describeLeg(s.health.local)}; current data: ${s.health.current}`);
      if (s.health.warning) lines.push(`  WARNING  ${s.health.warning}`);
    } else if (s.spec.includes("+") && s.phase !== "adding") {
      // a mirror without a running array: one line that says why, never silence
      lines.push(
        s.phase === "removing"
          ? "  health   stopping: a remove is stopping the array (no health to read)"
          : s.phase === "interrupted"
            ? "  health   no array (the add was interrupted before it built one, or after it stopped): run remove"
            : "  health   NO ARRAY: the mirror is attached but no array of its legs runs (stopped outside block-iscsimple?)",
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

export function formatStale(list: readonly StaleRecord[]): string {
  return list.map((r) => `STALE    ${r.label}: the local leg holds the only current data since ${r.since} (${r.reason})\n`).join("");
}
