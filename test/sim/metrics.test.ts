// The monitor's metrics file, for node_exporter's textfile collector: parsed here by a real
// Prometheus text-format parser (parse-prometheus-text-format), not by a regular expression.
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { describe, expect, it } from "vitest";
import { IQN } from "./simhost";
import { useSimHosts } from "./use-sim";

const sim = useSimHosts();
const SPEC = `lun1@${IQN}+my-vm-disk`;
const PROM = "var/lib/prometheus/node-exporter/block_iscsimple.prom";

type Families = ReturnType<typeof parsePrometheusTextFormat>;
function value(fams: Families, name: string, labels: Record<string, string> = {}): number {
  const fam = fams.find((f) => f.name === name);
  if (!fam) throw new Error(`no metric ${name}`);
  const s = fam.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  if (!s) throw new Error(`no sample of ${name} with ${JSON.stringify(labels)}`);
  return Number(s.value);
}

describe("the monitor's metrics", () => {
  it.concurrent("each round: legs, resync, guard, staleness, verdict; the monitor's own liveness and counts", async () => {
    const h = sim({ config: "[monitor]\ninterval = 1\n" });
    mkdirSync(h.file("var/lib/prometheus/node-exporter"), { recursive: true });
    expect((await h.run(["add", SPEC])).code).toBe(0);
    expect((await h.run(["monitor", "--once"])).code).toBe(0);
    let fams = parsePrometheusTextFormat(readFileSync(h.file(PROM), "utf8"));
    expect((statSync(h.file(PROM)).mode & 0o777).toString(8)).toBe("644");
    for (const f of fams) expect(f.help.length, f.name).toBeGreaterThan(10);
    expect(value(fams, "block_iscsimple_leg_state", { label: "my-vm-disk", leg: "local", state: "recovering" })).toBe(1);
    expect(value(fams, "block_iscsimple_leg_state", { label: "my-vm-disk", leg: "local", state: "in_sync" })).toBe(0);
    expect(value(fams, "block_iscsimple_leg_sync_ratio", { label: "my-vm-disk", leg: "iscsi" })).toBe(1);
    expect(value(fams, "block_iscsimple_guard_set", { label: "my-vm-disk" })).toBe(0);
    expect(value(fams, "block_iscsimple_iscsi_stale_seconds", { label: "my-vm-disk" })).toBe(0);
    expect(value(fams, "block_iscsimple_mirror_verdict", { label: "my-vm-disk" })).toBe(1);
    expect(value(fams, "block_iscsimple_attachments")).toBe(1);
    expect(fams.find((f) => f.name === "block_iscsimple_monitor_rounds_total")?.type).toBe("COUNTER");
    expect(value(fams, "block_iscsimple_monitor_rounds_total")).toBe(1);
    expect(Math.abs(value(fams, "block_iscsimple_monitor_last_round_time_seconds") - Date.now() / 1000)).toBeLessThan(3600);
    // the iSCSI leg fails; the target's session is gone: the monitor records the guard and cannot heal yet
    h.finishRecovery("my-vm-disk");
    h.failLeg("my-vm-disk", "iscsi");
    h.sessionState(IQN, "FAILED");
    expect((await h.run(["monitor", "--once"])).code).toBe(0);
    fams = parsePrometheusTextFormat(readFileSync(h.file(PROM), "utf8"));
    expect(value(fams, "block_iscsimple_leg_state", { label: "my-vm-disk", leg: "iscsi", state: "faulty" })).toBe(1);
    expect(value(fams, "block_iscsimple_leg_sync_ratio", { label: "my-vm-disk", leg: "iscsi" })).toBe(0);
    expect(value(fams, "block_iscsimple_guard_set", { label: "my-vm-disk" })).toBe(1);
    expect(value(fams, "block_iscsimple_iscsi_stale_seconds", { label: "my-vm-disk" })).toBeGreaterThanOrEqual(0);
    expect(value(fams, "block_iscsimple_mirror_verdict", { label: "my-vm-disk" })).toBe(2);
    // the target is back: the monitor heals, and counts it
    h.sessionState(IQN, "LOGGED_IN");
    expect((await h.run(["monitor", "--once"])).code).toBe(0);
    fams = parsePrometheusTextFormat(readFileSync(h.file(PROM), "utf8"));
    expect(value(fams, "block_iscsimple_heals_total")).toBe(1);
    expect(value(fams, "block_iscsimple_leg_state", { label: "my-vm-disk", leg: "iscsi", state: "recovering" })).toBe(1);
  });

  it.concurrent("no node_exporter folder: no file, said once in the log; [monitor] metrics = none turns it off", async () => {
    const h = sim();
    expect((await h.run(["monitor", "--once"])).code).toBe(0);
    expect(existsSync(h.file(PROM))).toBe(false);
    expect(readFileSync(h.file("var/log/xen/xen-hotplug.log"), "utf8")).toMatch(/no metrics file: \/var\/lib\/prometheus\/node-exporter does not exist/);
    const off = sim({ config: "[monitor]\nmetrics = none\n" });
    mkdirSync(off.file("var/lib/prometheus/node-exporter"), { recursive: true });
    expect((await off.run(["monitor", "--once"])).code).toBe(0);
    expect(existsSync(off.file(PROM))).toBe(false);
    const bad = sim({ config: "[monitor]\nmetrics = relative.prom\n" });
    const r = await bad.run(["monitor", "--once"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[monitor\] metrics: 'relative.prom' is not an absolute path of a .prom file/);
  });
});
