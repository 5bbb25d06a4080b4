import { describeLeg, type Health } from "../core/health";
import { summariseArray, type ArrayState } from "../core/md-state";
import { describeQueueing, judgeQueueing, type Queueing } from "../core/multipath";
import { describeOwner, phaseOf, type AttachmentRecord } from "../core/records";
import { guardJson, judge, STATUS_EXIT, STATUS_SCHEMA, worst, type AttachmentJson, type MultipathStatus, type StatusJson, type Verdict } from "../core/status";
import { Deadline } from "../host/clock";
import { holderAlive } from "../host/locks";
import { shown } from "../host/paths";
import type { Host } from "./host";
import { findOurArray, healthOfArray } from "./arrays";
import { writerAlive } from "./orphans";

const NO_PATH: Readonly<Record<Queueing["kind"], MultipathStatus["noPath"]>> = { fails: "fail", forever: "queue", bounded: "bounded" };

async function multipathOf(host: Host, r: AttachmentRecord): Promise<{ json: MultipathStatus; says: string | null } | null> {
  if (r.iscsi === null || r.iqn === null) return null;
  const map = await host.mpath.map(r.iscsi.name);
  if (!map) return null;
  const bySession = new Map((await host.iscsi.lunPaths(r.iqn, r.lun)).map((p) => [p.name, p.session]));
  const paths = await Promise.all(
    map.paths.map(async (name) => {
      const session = bySession.get(name) ?? null;
      return { device: shown(host.paths, `${host.paths.dev}/${name}`), session, state: session === null ? null : await host.iscsi.sessionState(session) };
    }),
  );
  const report = await host.mpath.report(map.name, new Deadline(5000));
  const q = report ? judgeQueueing(report) : null;
  return { json: { name: map.name, wwid: map.wwid, paths, noPath: q ? NO_PATH[q.kind] : null }, says: q ? describeQueueing(q) : null };
}

/** Everything `status` shows of one attachment, with the words for people kept aside. */
interface Collected {
  readonly json: AttachmentJson;
  readonly owner: string;
  readonly arraySummary: string | null;
  readonly queueing: string | null;
  readonly health: Health | null;
}

async function statusOf(host: Host, r: AttachmentRecord): Promise<Collected> {
  const a = r.label !== null ? await findOurArray(host, r) : null;
  const judged = a && r.label !== null ? await healthOfArray(host, r, a, r.label) : null;
  const phase = phaseOf(r, await writerAlive(host, r));
  const sessions = r.iqn !== null ? await host.iscsi.sessions(r.iqn) : [];
  const guard = r.label !== null ? await host.guard.get(r.label) : null;
  const mp = await multipathOf(host, r);
  const state: ArrayState | null = judged?.state ?? null;
  const h = judged?.health ?? null;
  const { verdict, reasons } = judge({ spec: r.spec, label: r.label, phase, hasIscsi: r.iqn !== null, sessions: sessions.length, array: state, health: h, guard });
  const leg = (l: Health["iscsi"]) => ({ state: l.state, progress: l.progress, device: l.device === null ? null : shown(host.paths, `${host.paths.dev}/${l.device}`) });
  const o = r.owner;
  const json: AttachmentJson = {
    id: r.id,
    spec: r.spec,
    iqn: r.iqn,
    lun: r.lun,
    label: r.label,
    owner: {
      kind: o.kind,
      domid: o.kind === "xen" ? o.domid : null,
      backend: o.kind === "xen" ? o.backend : null,
      vm: o.kind === "xen" ? o.vm : null,
      until: o.kind === "prepared" ? o.until : null,
    },
    mode: r.writable ? "w" : "r",
    phase,
    pid: phase === "adding" || phase === "removing" ? r.pid : null,
    device: r.device !== null && r.devicePath !== null ? { path: shown(host.paths, r.devicePath), number: r.device } : null,
    iscsi:
      r.iqn === null
        ? null
        : {
            device: r.iscsi ? shown(host.paths, r.iscsi.path) : null,
            wwid: r.iscsiWwid ?? null,
            sessions: await Promise.all(sessions.map(async (id) => ({ id, state: await host.iscsi.sessionState(id) }))),
            multipath: mp?.json ?? null,
          },
    local: r.local ? { device: shown(host.paths, r.local.path) } : null,
    array: state
      ? {
          name: state.md,
          arrayState: state.arrayState,
          syncAction: state.syncAction,
          progress: state.progress,
          degraded: state.degraded,
          members: state.legs.map((l) => ({ device: shown(host.paths, `${host.paths.dev}/${l.device}`), role: l.role, flags: l.flags })),
        }
      : null,
    health: h ? { iscsi: leg(h.iscsi), local: leg(h.local), current: h.current } : null,
    guard: guard ? guardJson(guard) : null,
    verdict,
    reasons,
  };
  return { json, owner: describeOwner(r.owner), arraySummary: state ? summariseArray(state) : null, queueing: mp?.says ?? null, health: h };
}

export interface HostStatus {
  readonly json: StatusJson;
  readonly collected: readonly Collected[];
}

/**
 * The status of every attachment, every direction guard and the monitor, judged. Records are read
 * strictly: what cannot be read is an error (status then says "unknown"), never "no attachments".
 */
export async function collectStatus(host: Host): Promise<HostStatus> {
  const records = await host.store.attachmentsStrict();
  const collected: Collected[] = [];
  for (const r of records) collected.push(await statusOf(host, r));
  const guards = await host.guard.list();
  const m = await host.store.getMonitor();
  const running = m !== null && (await holderAlive(host.paths.proc, m));
  const reasons = collected.flatMap((c) => c.json.reasons);
  const verdicts: Verdict[] = collected.map((c) => c.json.verdict);
  const attachedLabels = new Set(records.map((r) => r.label));
  for (const g of guards) {
    if (attachedLabels.has(g.label)) continue;
    verdicts.push("critical");
    reasons.push(`${g.label}: the direction guard is set (${g.broken !== undefined ? "unreadable" : g.reason}): its next add refuses until the data is checked (block-iscsimple resolve ${g.label})`);
  }
  if (!running && records.some((r) => r.label !== null && r.iqn !== null && r.device !== null)) {
    verdicts.push("warning");
    reasons.push("block-iscsimple monitor does not run: a failed iSCSI leg is recorded only when its array stops, and nothing heals it");
  }
  const verdict = worst(verdicts);
  return {
    json: {
      schema: STATUS_SCHEMA,
      verdict,
      exitCode: STATUS_EXIT[verdict],
      reasons,
      attachments: collected.map((c) => c.json),
      guards: guards.map(guardJson),
      monitor: { running, pid: running && m ? m.pid : null, lastRound: running && m ? (m.lastRound ?? null) : null },
    },
    collected,
  };
}

const PHASE_NOTE: Readonly<Record<AttachmentJson["phase"], (pid: number | null) => string>> = {
  adding: (pid) => `  (being added, pid ${pid ?? "?"})`,
  attached: () => "",
  interrupted: () => "  (add not finished, its process is gone: run remove)",
  removing: (pid) => `  (being removed, pid ${pid ?? "?"})`,
};

/** The status for people: each attachment, then the guards and the verdict. */
export function formatStatus(s: HostStatus): string {
  const lines: string[] = [];
  if (s.collected.length === 0) lines.push("no attachments");
  for (const c of s.collected) {
    const a = c.json;
    lines.push(`${a.spec}  [${a.mode}] ${c.owner}${PHASE_NOTE[a.phase](a.pid)}`);
    if (a.device) lines.push(`  device   ${a.device.path} (${a.device.number})`);
    if (a.iscsi) {
      lines.push(`  iSCSI    ${a.iscsi.device ?? "-"}, session ${a.iscsi.sessions.length ? a.iscsi.sessions.map((x) => x.id).join(", ") : "none"}${a.iscsi.wwid ? `, WWID ${a.iscsi.wwid}` : ""}`);
      const m = a.iscsi.multipath;
      if (m) {
        lines.push(`           multipath map ${m.name} (WWID ${m.wwid}), ${c.queueing ?? "queueing unknown (multipathd did not answer)"}`);
        for (const p of m.paths) lines.push(`    path   ${p.device.replace(/^\/dev\//, "")} ${p.session === null ? "not a session of the target" : `session ${p.session} ${p.state ?? "?"}`}`);
      } else if (a.iscsi.sessions.length > 1) {
        lines.push(`           one path of ${a.iscsi.sessions.length}: the iSCSI leg uses the lowest session's device (no multipath)`);
      }
    }
    if (a.array && c.arraySummary) {
      lines.push(`  md       ${c.arraySummary}`);
      for (const leg of a.array.members) lines.push(`    ${leg.role.padEnd(6)} ${leg.device.replace(/^\/dev\//, "")} ${leg.flags.join(",")}`);
    }
    if (a.local) lines.push(`  local    ${a.local.device}`);
    if (c.health) {
      lines.push(`  health   iSCSI leg ${describeLeg(c.health.iscsi)}, local leg ${describeLeg(c.health.local)}; current data: ${c.health.current}`);
      if (c.health.warning) lines.push(`  WARNING  ${c.health.warning}`);
    } else if (a.label !== null && a.phase !== "adding") {
      // a mirror without a running array: one line that says why, never silence
      lines.push(
        a.phase === "removing"
          ? "  health   stopping: a remove is stopping the array (no health to read)"
          : a.phase === "interrupted"
            ? "  health   no array (the add was interrupted before it built one, or after it stopped): run remove"
            : "  health   NO ARRAY: the mirror is attached but no array of its legs runs (stopped outside block-iscsimple?)",
      );
    }
  }
  for (const g of s.json.guards) {
    lines.push(`STALE    ${g.label}: the local leg holds the only current data since ${g.since} (${g.unreadable !== null ? `the guard file cannot be read: ${g.unreadable}` : g.reason})`);
  }
  lines.push(`monitor  ${s.json.monitor.running ? `running (pid ${s.json.monitor.pid ?? "?"}${s.json.monitor.lastRound ? `, last look ${s.json.monitor.lastRound}` : ""})` : "not running"}`);
  lines.push(`verdict  ${s.json.verdict.toUpperCase()}${s.json.reasons.length ? `: ${s.json.reasons.join("; ")}` : ""}`);
  return `${lines.join("\n")}\n`;
}
