import type { LegHealthState } from "./health";

/**
 * The metrics the monitor writes each round, in Prometheus' text format, for node_exporter's
 * textfile collector (docs/monitoring.md lists them). Pure: the monitor gathers the values.
 */
export interface MirrorMetrics {
  readonly label: string;
  readonly spec: string;
  readonly iscsi: { readonly state: LegHealthState; readonly progress: number | null };
  readonly local: { readonly state: LegHealthState; readonly progress: number | null };
  readonly guard: boolean;
  /** Seconds since the iSCSI leg was last seen current (0 while it is). */
  readonly iscsiStaleSeconds: number;
  /** 0 ok, 1 warning, 2 critical (as status). */
  readonly verdict: number;
}

export interface HostMetrics {
  readonly mirrors: readonly MirrorMetrics[];
  /** Labels whose guard is set but that are not attached now. */
  readonly guardsDetached: readonly string[];
  readonly attachments: number;
  readonly monitorStart: number;
  readonly lastRound: number;
  readonly rounds: number;
  readonly heals: number;
  readonly refusals: number;
}

const STATES: readonly LegHealthState[] = ["in_sync", "recovering", "faulty", "missing", "none"];

/** A label value as the text format wants it: backslash, double quote and newline escaped. */
export function labelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function metric(lines: string[], name: string, type: "gauge" | "counter", help: string, samples: readonly [Readonly<Record<string, string>>, number][]): void {
  lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  for (const [labels, value] of samples) {
    const l = Object.entries(labels).map(([k, v]) => `${k}="${labelValue(v)}"`).join(",");
    lines.push(`${name}${l ? `{${l}}` : ""} ${Number.isFinite(value) ? String(value) : "NaN"}`);
  }
}

const progressOf = (l: MirrorMetrics["iscsi"]): number => (l.state === "in_sync" ? 1 : l.state === "recovering" && l.progress !== null ? l.progress / 100 : 0);

export function formatMetrics(m: HostMetrics): string {
  const lines: string[] = [];
  const legs = m.mirrors.flatMap((x) => [["iscsi", x.iscsi, x] as const, ["local", x.local, x] as const]);
  metric(lines, "block_iscsimple_leg_state", "gauge", "1 for the state each leg of a mirror is in (in_sync, recovering, faulty, missing, none), 0 for the others.",
    legs.flatMap(([leg, l, x]) => STATES.map((s) => [{ label: x.label, leg, state: s }, l.state === s ? 1 : 0] as [Record<string, string>, number])));
  metric(lines, "block_iscsimple_leg_sync_ratio", "gauge", "How much of the leg is in sync: 1 in sync, the resync's progress (0 to 1) while it is rebuilt, 0 failed or missing.",
    legs.map(([leg, l, x]) => [{ label: x.label, leg }, progressOf(l)]));
  metric(lines, "block_iscsimple_guard_set", "gauge", "1 when the direction guard of the label is set: its local leg holds the only current data (the VM must not move).",
    [...m.mirrors.map((x) => [{ label: x.label }, x.guard ? 1 : 0] as [Record<string, string>, number]), ...m.guardsDetached.map((l) => [{ label: l }, 1] as [Record<string, string>, number])]);
  metric(lines, "block_iscsimple_iscsi_stale_seconds", "gauge", "Seconds since the iSCSI leg of the mirror was last current (0 while it is; since the monitor started when it never saw it current).",
    m.mirrors.map((x) => [{ label: x.label }, Math.round(x.iscsiStaleSeconds)]));
  metric(lines, "block_iscsimple_mirror_verdict", "gauge", "The mirror's verdict as status gives it: 0 ok, 1 warning, 2 critical.",
    m.mirrors.map((x) => [{ label: x.label, spec: x.spec }, x.verdict]));
  metric(lines, "block_iscsimple_attachments", "gauge", "Attachments on this host (mirrors and plain LUNs).", [[{}, m.attachments]]);
  metric(lines, "block_iscsimple_monitor_start_time_seconds", "gauge", "When the monitor started (Unix time).", [[{}, Math.round(m.monitorStart)]]);
  metric(lines, "block_iscsimple_monitor_last_round_time_seconds", "gauge", "When the monitor last looked at the arrays (Unix time): the monitor's liveness.", [[{}, Math.round(m.lastRound)]]);
  metric(lines, "block_iscsimple_monitor_rounds_total", "counter", "Rounds the monitor made since it started.", [[{}, m.rounds]]);
  metric(lines, "block_iscsimple_heals_total", "counter", "Legs the monitor brought back since it started.", [[{}, m.heals]]);
  metric(lines, "block_iscsimple_refusals_total", "counter", "Heals the monitor refused since it started (the LUN is not the one the array had...).", [[{}, m.refusals]]);
  return `${lines.join("\n")}\n`;
}
