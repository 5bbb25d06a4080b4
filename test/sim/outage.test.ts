import { existsSync, readFileSync, rmSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { iscsiadm as iscsiadmArgv } from "../../src/core/commands";
import { IQN, processesUnder, SimHost, waitFor } from "./simhost";
import { useSimHosts } from "./use-sim";

const sim = useSimHosts();

const SPEC = `lun1@${IQN}+my-vm-disk`;
const guardFile = (h: SimHost): string => h.file("var/lib/block-iscsimple/stale/my-vm-disk.json");

async function attached(h: SimHost, domid = 4): Promise<string> {
  const be = h.backend(domid, 51712, SPEC);
  const r = await h.run(["add"], { xenbus: be });
  expect(r.code, r.stderr).toBe(0);
  return be;
}

const CONF = "etc/xen/scripts/block-iscsimple.conf";
/**
 * A heal that must give up (the target stays away) waits its whole deadline: a short one keeps the
 * test short. Set after the add, whose success must never depend on the machine's speed.
 */
const shortDeadline = (h: SimHost): void => h.put(CONF, "[attach]\ndeadline = 3\n[iscsi]\nlogin-timeout = 1\n");

/** An attached, synced mirror whose iSCSI leg md then failed, with the target's session in STATE. */
async function iscsiLegLost(h: SimHost, state: string): Promise<void> {
  await attached(h);
  h.finishRecovery("my-vm-disk");
  h.failLeg("my-vm-disk", "iscsi");
  h.sessionState(IQN, state);
}

describe("fast failover", () => {
  it.concurrent("sets the replacement timeout on the node record before login, and on the session", async () => {
    const h = sim({ config: "[iscsi]\nreplacement-timeout = 12\n" });
    await attached(h);
    // written into the record files (no iscsiadm -o update): the login read it from there
    expect(h.nodeSettings(IQN)["node.session.timeo.replacement_timeout"]).toBe("12");
    expect(h.calls().filter((c) => c.includes(" -o update "))).toEqual([]);
    expect(readFileSync(h.file("sys/class/iscsi_session/session1/recovery_tmo"), "utf8").trim()).toBe("12");
  });
  it.concurrent("a target's next attach finds the settings in its node record: no iscsiadm update, no node listing (the record files tell the portals): one iscsiadm, the login", async () => {
    const h = sim({ config: "[iscsi]\nreplacement-timeout = 12\n" });
    const be = await attached(h);
    expect((await h.run(["remove"], { xenbus: be })).code).toBe(0);
    const before = h.calls().length;
    await attached(h, 5);
    const iscsiadm = h.calls().slice(before).filter((c) => c.startsWith("iscsiadm "));
    expect(iscsiadm).toEqual([h.argv(iscsiadmArgv.login(IQN))]);
    expect(h.nodeSettings(IQN)["node.session.timeo.replacement_timeout"]).toBe("12");
    // a changed config is written again, and only what changed
    h.put("etc/xen/scripts/block-iscsimple.conf", "[iscsi]\nreplacement-timeout = 14\n");
    expect((await h.run(["remove"], { xenbus: "backend/vbd/5/51712" })).code).toBe(0);
    await attached(h, 6);
    const setLines = readFileSync(h.file("var/log/xen/xen-hotplug.log"), "utf8").split("\n").filter((l) => l.includes("add backend/vbd/6/51712: set node."));
    expect(setLines.map((l) => l.replace(/.*: set /, ""))).toEqual([`node.session.timeo.replacement_timeout=14 for ${IQN}`]);
    expect(h.nodeSettings(IQN)["node.session.timeo.replacement_timeout"]).toBe("14");
  });
  it.concurrent("where the target's node records are not files under /etc/iscsi/nodes, iscsiadm lists and updates them", async () => {
    const h = sim();
    rmSync(h.file("etc/iscsi/nodes"), { recursive: true, force: true });
    await attached(h);
    const iscsiadm = h.calls().filter((c) => c.startsWith("iscsiadm "));
    expect(iscsiadm.slice(0, 4)).toEqual([
      h.argv(iscsiadmArgv.nodes()),
      h.argv(iscsiadmArgv.setNode(IQN, "node.conn[0].timeo.login_timeout", "5")),
      h.argv(iscsiadmArgv.setNode(IQN, "node.session.initial_login_retry_max", "1")),
      h.argv(iscsiadmArgv.setNode(IQN, "node.session.timeo.replacement_timeout", "15")),
    ]);
    expect(h.world().nodes[IQN]?.settings["node.session.timeo.replacement_timeout"]).toBe("15");
  });
  it.concurrent("defaults to 15 s and validates the value", async () => {
    const h = sim();
    await attached(h);
    expect(h.nodeSettings(IQN)["node.session.timeo.replacement_timeout"]).toBe("15");
    const bad = sim({ config: "[iscsi]\nreplacement-timeout = 0\n" });
    const r = await bad.run(["add", SPEC]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[iscsi\] replacement-timeout: '0' is not a whole number from 1 to 600/);
  });
});

describe("health, heal and the monitor", () => {
  it.concurrent("a session iscsid gave up on (FREE, its device gone): heal logs out and in again, and re-adds the new device", async () => {
    const h = sim();
    await iscsiLegLost(h, "FREE");
    const before = Object.keys(h.world().disks);
    const r = await h.run(["heal", "my-vm-disk"]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(h.file("var/log/xen/xen-hotplug.log"), "utf8")).toMatch(/every session of .* stayed FREE for 5 s \(iscsid gave up on it\): logging out and in again/);
    const logout = h.calls().findIndex((c) => /^iscsiadm -m node -T \S+ --logout$/.test(c));
    expect(logout).toBeGreaterThan(-1);
    expect(h.calls().findIndex((c, i) => i > logout && /^iscsiadm -m node -T \S+ --login$/.test(c))).toBeGreaterThan(logout);
    const now = Object.keys(h.world().disks);
    expect(now.some((d) => !before.includes(d))).toBe(true);
    expect(r.stdout).toMatch(new RegExp(`re-added the iSCSI leg /dev/${now[now.length - 1]} \\(write-mostly\\)`));
    expect(h.legs("my-vm-disk")).toEqual(["iscsi:spare", "local:in_sync"]);
  });
  it.concurrent("a FAILED session (open-iscsi still recovering) is waited for, never logged out", async () => {
    const h = sim();
    await iscsiLegLost(h, "FAILED");
    shortDeadline(h);
    const r = await h.run(["heal", "my-vm-disk"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/not reachable yet \(session 1 FAILED\)/);
    expect(h.calls().some((c) => /^iscsiadm -m node -T \S+ --logout$/.test(c))).toBe(false);
  });
  it.concurrent("status warns when the iSCSI leg failed; heal re-adds it write-mostly once the target is back; idempotent", async () => {
    const h = sim();
    await iscsiLegLost(h, "FAILED");
    const st = await h.run(["status"]);
    expect(st.stdout).toMatch(/health {3}iSCSI leg faulty, local leg in_sync; current data: local/);
    expect(st.stdout).toMatch(/WARNING {2}the iSCSI leg of my-vm-disk is faulty: only the local leg is current. Do not migrate this VM/);
    const js = JSON.parse((await h.run(["status", "--json"])).stdout) as { verdict: string; attachments: { health: { current: string }; reasons: string[] }[] };
    expect(js.attachments[0]?.health.current).toBe("local");
    expect(js.verdict).toBe("critical");
    expect(js.attachments[0]?.reasons).toContain(`lun1@${IQN}+my-vm-disk: its iSCSI leg is faulty`);
    // the target is still away: a clear error, nothing changed
    shortDeadline(h);
    const early = await h.run(["heal", "my-vm-disk"]);
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/the target .* is not reachable yet \(session 1 FAILED\); heal again when it is/);
    expect(h.legs("my-vm-disk")).toEqual(["iscsi:faulty", "local:in_sync"]);
    // the target is back
    h.put(CONF, "");
    h.sessionState(IQN, "LOGGED_IN");
    const healed = await h.run(["heal", "my-vm-disk"]);
    expect(healed.code, healed.stderr).toBe(0);
    expect(healed.stdout).toMatch(/re-added the iSCSI leg \/dev\/sd\S+ \(write-mostly\): md copies local -> iSCSI/);
    expect(h.calls().filter((c) => /^mdadm \S+ --remove /.test(c) || /^mdadm \S+ --add /.test(c)).slice(-2)).toEqual([
      expect.stringMatching(/^mdadm \S+\/dev\/md127 --remove failed$/),
      expect.stringMatching(/^mdadm \S+\/dev\/md127 --add \S+\/dev\/sd\S+$/),
    ]);
    expect(readFileSync(h.file(`sys/block/md127/md/dev-${h.world().md.md127!.members.at(-1)!.name}/state`), "utf8")).toBe("writemostly\n");
    expect(existsSync(guardFile(h))).toBe(true);
    const again = await h.run(["heal", "my-vm-disk"]);
    expect(again.stdout).toMatch(/my-vm-disk: nothing to heal/);
    h.finishRecovery("my-vm-disk");
    const done = await h.run(["heal", "my-vm-disk", "--wait"]);
    expect(done.code).toBe(0);
    expect(done.stdout).toMatch(/the direction guard is cleared/);
    expect(existsSync(guardFile(h))).toBe(false);
  });

  it.concurrent("a failed local leg: the VM runs on iSCSI, status says so, heal re-adds the (replaced) local disk", async () => {
    const h = sim();
    await attached(h);
    h.finishRecovery("my-vm-disk");
    h.failLeg("my-vm-disk", "local");
    const st = await h.run(["status"]);
    expect(st.stdout).toMatch(/iSCSI leg in_sync, local leg faulty; current data: iscsi/);
    expect(st.stdout).not.toMatch(/WARNING/);
    const r = await h.run(["heal", SPEC]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/re-added the local leg \/dev\/vg0\/my-vm-disk: md rebuilds it from iSCSI/);
    expect(existsSync(guardFile(h))).toBe(false);
  });

  it.concurrent("heal of something not attached is a clear error", async () => {
    const h = sim();
    const r = await h.run(["heal", "my-vm-disk"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/my-vm-disk is not attached/);
  });

  it.concurrent("the monitor records the failure, heals when the target is back, clears the guard once in sync; other arrays untouched", async () => {
    const h = sim();
    await attached(h);
    h.finishRecovery("my-vm-disk");
    h.setWorld((w) => {
      w.md.md100 = { label: "not-ours", members: [{ name: "sdz", major: 8, minor: 999, state: "faulty" }] };
    });
    h.failLeg("my-vm-disk", "iscsi");
    h.sessionState(IQN, "FAILED");
    expect((await h.run(["monitor", "--once"])).code).toBe(0);
    expect(existsSync(guardFile(h))).toBe(true);
    expect(h.legs("my-vm-disk")).toEqual(["iscsi:faulty", "local:in_sync"]);
    h.sessionState(IQN, "LOGGED_IN");
    expect((await h.run(["monitor", "--once"])).code).toBe(0);
    expect(h.legs("my-vm-disk")).toEqual(["iscsi:spare", "local:in_sync"]);
    h.finishRecovery("my-vm-disk");
    expect((await h.run(["monitor", "--once"])).code).toBe(0);
    expect(existsSync(guardFile(h))).toBe(false);
    expect(h.calls().filter((c) => c.includes("md100"))).toEqual([]);
    // logger finishes writing on its own, after the monitor exits
    const syslog = (): string => (existsSync(h.file("fake/syslog.log")) ? readFileSync(h.file("fake/syslog.log"), "utf8") : "");
    await waitFor(() => /my-vm-disk: healed: the iSCSI leg is in sync again/.test(syslog()));
    expect(syslog()).toMatch(/my-vm-disk: iSCSI leg faulty, local leg in_sync/);
  });

  it.concurrent("the monitor stops on SIGTERM", async () => {
    const h = sim({ config: "[monitor]\ninterval = 1\n" });
    const child = h.start(["monitor"]);
    // it records itself once it runs (its signal handlers are set before): not a guess of how long that takes
    await waitFor(() => existsSync(h.file("run/block-iscsimple/monitor.json")));
    const code = new Promise((r) => child.on("exit", (c) => r(c)));
    child.kill("SIGTERM");
    expect(await code).toBe(0);
  });
});

describe("the monitor's mdadm --monitor", () => {
  it.concurrent("on a host without arrays mdadm stops at once: not started again (nor a warning) until a mirror of ours is recorded; another end is a warning", { timeout: 90_000 }, async () => {
    const log = (h: SimHost): string => h.hotplugLog();
    const runs = (h: SimHost): number => h.calls().filter((c) => c.startsWith("mdadm --monitor")).length;
    const rounds = (h: SimHost): number => (JSON.parse(readFileSync(h.file("run/block-iscsimple/monitor.json"), "utf8")) as { rounds: number }).rounds;
    const idle = sim({ config: "[monitor]\ninterval = 1\n" });
    idle.faults({ "mdadm monitor": { exit: 0, stderr: "mdadm: No array with redundancy detected, stopping" } });
    const a = idle.start(["monitor"]);
    await waitFor(() => existsSync(idle.file("run/block-iscsimple/monitor.json")) && runs(idle) === 1);
    // twelve rounds of a second each: more than twice the 5 s after which mdadm used to be started again
    const seen = rounds(idle);
    await waitFor(() => rounds(idle) >= seen + 12, 60_000);
    expect(runs(idle)).toBe(1);
    // a mirror of ours: mdadm --monitor is started again (within its 5 s), to watch it
    await attached(idle);
    await waitFor(() => runs(idle) >= 2, 30_000);
    // an idle monitor ends on SIGTERM (it looks at its stop flag each second), and leaves nothing
    const exitA = new Promise((r) => a.once("exit", r));
    a.kill("SIGTERM");
    expect(await exitA).toBe(0);
    expect(log(idle)).not.toMatch(/mdadm --monitor ended/);
    const broken = sim({ config: "[monitor]\ninterval = 1\n" });
    broken.faults({ "mdadm monitor": { exit: 1, stderr: "mdadm: something else went wrong" } });
    const b = broken.start(["monitor"]);
    await waitFor(() => /warning: monitor: mdadm --monitor ended \(exit 1: mdadm: something else went wrong\)/.test(log(broken)), 30_000);
    const exitB = new Promise((r) => b.once("exit", r));
    b.kill("SIGTERM");
    expect(await exitB).toBe(0);
    await waitFor(() => processesUnder(idle.root).length === 0 && processesUnder(broken.root).length === 0);
  });
});

describe("the direction guard", () => {
  it.concurrent("stopped while the iSCSI leg is faulty: recorded across a reboot; add refuses; --prefer-local rebuilds iSCSI from local", async () => {
    const h = sim();
    const be = await attached(h);
    h.finishRecovery("my-vm-disk");
    h.failLeg("my-vm-disk", "iscsi");
    expect((await h.run(["remove"], { xenbus: be })).code).toBe(0);
    const g = JSON.parse(readFileSync(guardFile(h), "utf8")) as { reason: string };
    expect(g.reason).toMatch(/stopped while its iSCSI leg was faulty/);
    // reboot: /run is empty again, /var/lib is kept
    rmSync(h.file("run"), { recursive: true, force: true });
    h.setWorld((w) => {
      for (const k of Object.keys(w.xenstore)) if (k.includes("/local/domain/0/backend")) delete w.xenstore[k];
    });
    const be2 = h.backend(7, 51712, SPEC);
    const refused = await h.run(["add"], { xenbus: be2 });
    expect(refused.code).toBe(1);
    expect(h.xs(`${be2}/hotplug-error`)).toMatch(/the local leg of my-vm-disk holds the only current data since .*--prefer-local/);
    expect(Object.keys(h.world().md)).toEqual([]);
    expect(h.leftovers()).toEqual([]);
    const manual = await h.run(["add", "--prefer-local", SPEC]);
    expect(manual.code, manual.stderr).toBe(0);
    expect(h.calls().find((c) => c.startsWith("mdadm --build ") && c.includes("+") === false && c.endsWith("missing"))).toMatch(/--raid-devices=2 \S+\/dev\/vg0\/my-vm-disk missing$/);
    expect(h.calls().filter((c) => /^mdadm \S+ --add /.test(c)).at(-1)).toMatch(/--add \S+\/dev\/sd\S+$/);
    expect(existsSync(guardFile(h))).toBe(true);
    expect((await h.run(["status"])).stdout).toMatch(/iSCSI leg recovering.*current data: local/);
    h.finishRecovery("my-vm-disk");
    expect((await h.run(["remove", SPEC])).code).toBe(0);
    expect(existsSync(guardFile(h))).toBe(false);
    expect(h.leftovers()).toEqual([]);
  });

  it.concurrent("--prefer-iscsi discards the local data; on-stale-iscsi = prefer-local works for xl", async () => {
    const h = sim();
    const be = await attached(h);
    h.finishRecovery("my-vm-disk");
    h.failLeg("my-vm-disk", "iscsi");
    await h.run(["remove"], { xenbus: be });
    const r = await h.run(["add", "--prefer-iscsi", SPEC]);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(guardFile(h))).toBe(false);
    expect(h.calls().filter((c) => c.startsWith("mdadm --build ")).at(-1)).toMatch(/missing --write-mostly \S+\/dev\/sd\S+$/);
    expect((await h.run(["add", "--prefer-iscsi", "--prefer-local", SPEC])).code).toBe(2);
    await h.run(["remove", SPEC]);

    const x = sim({ config: "[md]\non-stale-iscsi = prefer-local\n" });
    const be3 = await attached(x);
    x.finishRecovery("my-vm-disk");
    x.failLeg("my-vm-disk", "iscsi");
    await x.run(["remove"], { xenbus: be3 });
    x.setWorld((w) => {
      for (const k of Object.keys(w.xenstore)) if (k.includes("physical-device") || k.includes("hotplug")) delete w.xenstore[k];
    });
    const again = await x.run(["add"], { xenbus: be3 });
    expect(again.code, again.stderr).toBe(0);
    expect(x.legs("my-vm-disk")).toEqual(["iscsi:spare", "local:in_sync"]);
    expect(x.calls().filter((c) => c.startsWith("mdadm --build ")).at(-1)).toMatch(/\/dev\/vg0\/my-vm-disk missing$/);
  });

  it.concurrent("stopped while in sync: no guard; check shows the refusal without changing anything", async () => {
    const h = sim();
    const be = await attached(h);
    h.finishRecovery("my-vm-disk");
    await h.run(["remove"], { xenbus: be });
    expect(existsSync(guardFile(h))).toBe(false);
    const g = sim();
    const b2 = await attached(g);
    g.finishRecovery("my-vm-disk");
    g.failLeg("my-vm-disk", "iscsi");
    await g.run(["remove"], { xenbus: b2 });
    const c = await g.run(["check", SPEC]);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/check: the local leg of my-vm-disk holds the only current data/);
    expect((await g.run(["status"])).stdout).toMatch(/STALE {4}my-vm-disk: the local leg holds the only current data since/);
  });
});
