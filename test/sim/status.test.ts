// `status` for monitoring: exit codes 0 ok, 1 warning, 2 critical, 3 unknown, and `--json` with a
// schema version and machine values; never "all clear" when it could not look.
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BIN, IQN, type SimHost } from "./simhost";
import { useSimHosts } from "./use-sim";

const sim = useSimHosts();
const SPEC = `lun1@${IQN}+my-vm-disk`;

/** A monitor "runs": the record names this test process (alive) with its start time. */
function monitorRuns(h: SimHost): void {
  const start = readFileSync("/proc/self/stat", "utf8").split(") ")[1]!.split(" ")[19];
  writeFileSync(h.file("run/block-iscsimple/monitor.json"), JSON.stringify({ pid: process.pid, start, rounds: 3, lastRound: new Date().toISOString() }));
}

interface Json {
  schema: number;
  verdict: string;
  exitCode: number;
  reasons: string[];
  attachments: Record<string, unknown>[];
  guards: { label: string; reason: string }[];
  monitor: { running: boolean };
}
const json = async (h: SimHost): Promise<{ code: number | null; js: Json }> => {
  const r = await h.run(["status", "--json"]);
  return { code: r.code, js: JSON.parse(r.stdout) as Json };
};

describe("status: exit codes a monitoring check can use", () => {
  it.concurrent("0 with nothing attached; 1 while the local leg is rebuilt; 0 in sync; 2 with a failed iSCSI leg; 2 for a guard left by a stopped array", async () => {
    const h = sim();
    const empty = await h.run(["status"]);
    expect(empty.code).toBe(0);
    expect(empty.stdout).toMatch(/^no attachments\n/);
    expect(empty.stdout).toMatch(/verdict {2}OK\n/);
    const be = h.backend(4, 51712, SPEC);
    expect((await h.run(["add"], { xenbus: be })).code).toBe(0);
    monitorRuns(h);
    const rebuilding = await h.run(["status"]);
    expect(rebuilding.code).toBe(1);
    expect(rebuilding.stdout).toMatch(/verdict {2}WARNING: lun1@\S+: its local leg is recovering/);
    h.finishRecovery("my-vm-disk");
    expect((await h.run(["status"])).code).toBe(0);
    h.failLeg("my-vm-disk", "iscsi");
    const failed = await json(h);
    expect(failed.code).toBe(2);
    expect(failed.js).toMatchObject({ schema: 1, verdict: "critical", exitCode: 2 });
    expect(failed.js.reasons).toContain(`${SPEC}: its iSCSI leg is faulty`);
    expect((await h.run(["remove"], { xenbus: be })).code).toBe(0);
    const guarded = await json(h);
    expect(guarded.code).toBe(2);
    expect(guarded.js.attachments).toEqual([]);
    expect(guarded.js.guards.map((g) => g.label)).toEqual(["my-vm-disk"]);
    expect(guarded.js.reasons[0]).toMatch(/my-vm-disk: the direction guard is set .*resolve my-vm-disk/);
  });

  it.concurrent("a mirror without the monitor running is a warning", async () => {
    const h = sim();
    expect((await h.run(["add", SPEC])).code).toBe(0);
    h.finishRecovery("my-vm-disk");
    const r = await h.run(["status"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/monitor {2}not running/);
    expect(r.stdout).toMatch(/block-iscsimple monitor does not run/);
  });

  it.concurrent("3, never 'no attachments', when it cannot look: a record that cannot be read, or not root", async () => {
    const h = sim();
    expect((await h.run(["add", SPEC])).code).toBe(0);
    writeFileSync(h.file("run/block-iscsimple/attach/manual-label-my-vm-disk.json"), "{ half a reco");
    const r = await h.run(["status"]);
    expect(r.code).toBe(3);
    expect(r.stdout).not.toMatch(/no attachments/);
    expect(r.stderr).toMatch(/status: cannot tell: \S+manual-label-my-vm-disk.json: not a readable attachment record/);
    const js = JSON.parse((await h.run(["status", "--json"])).stdout) as Json;
    expect(js).toMatchObject({ schema: 1, verdict: "unknown", exitCode: 3 });
    // a user who is not root
    const user = spawnSync(BIN, ["status", "--json"], { env: h.env, uid: 65534, gid: 65534, encoding: "utf8" });
    expect(user.status).toBe(3);
    expect(user.stderr).toMatch(/status must be run as root/);
    expect((JSON.parse(user.stdout) as Json).verdict).toBe("unknown");
  });
});

describe("status --json: an interface", () => {
  it.concurrent("schema 1: the same fields for every attachment, machine values, one name for a leg's device", async () => {
    const h = sim({ multipath: {} });
    expect((await h.run(["add", SPEC])).code).toBe(0);
    expect((await h.run(["add", `lun0@${IQN}`])).code).toBe(0);
    const { js } = await json(h);
    expect(Object.keys(js).sort()).toEqual(["attachments", "exitCode", "guards", "monitor", "reasons", "schema", "verdict"]);
    for (const a of js.attachments) {
      expect(Object.keys(a).sort()).toEqual(["array", "device", "guard", "health", "id", "iqn", "iscsi", "label", "local", "lun", "mode", "owner", "phase", "pid", "reasons", "spec", "verdict"]);
      expect(a.owner).toEqual({ kind: "manual", domid: null, backend: null, vm: null, until: null });
      expect(a.phase).toBe("attached");
    }
    const mirror = js.attachments.find((a) => a.label === "my-vm-disk") as Record<string, Record<string, unknown>>;
    const mp = mirror.iscsi!.multipath as { name: string; noPath: string; paths: { device: string; session: number; state: string }[] };
    expect(mp.name).toMatch(/^mpath[a-z]$/);
    expect(mp.noPath).toBe("fail");
    expect(mp.paths).toHaveLength(1);
    expect(mp.paths[0]!.device).toMatch(/^\/dev\/sd/);
    expect(mp.paths[0]).toMatchObject({ session: 1, state: "LOGGED_IN" });
    const health = mirror.health as { iscsi: { state: string; device: string }; local: { state: string }; current: string };
    expect(health.iscsi.device).toMatch(/^\/dev\/dm-\d$/);
    expect(health).toMatchObject({ iscsi: { state: "in_sync" }, local: { state: "recovering" }, current: "iscsi" });
    expect(mirror.local).toEqual({ device: "/dev/vg0/my-vm-disk" });
    expect(mirror.device).toEqual({ path: "/dev/md/my-vm-disk", number: "9:7f" });
    const plain = js.attachments.find((a) => a.label === null) as Record<string, unknown>;
    expect(plain).toMatchObject({ array: null, health: null, local: null, verdict: "ok" });
  });
});

describe("check tells the truth", () => {
  it.concurrent("every problem once, on stderr, all of a file's bad lines; 'absent (the defaults)' for a missing optional file", async () => {
    const h = sim();
    const ok = await h.run(["check"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/config {3}\/etc\/xen\/scripts\/block-iscsimple.conf: absent \(the defaults\)/);
    expect(ok.stdout).toMatch(/chap {5}\/etc\/xen\/scripts\/block-iscsimple-chap.conf: absent \(no CHAP\)/);
    expect(ok.stdout).toMatch(/tools {4}iscsiadm ok, mdadm ok, blkid ok/);
    h.put("etc/xen/scripts/block-iscsimple-tab.conf", "bad-line\nmy-vm-disk /dev/vg0/my-vm-disk\nx y z\nlabel! /dev/x\n");
    h.put("etc/xen/scripts/block-iscsimple.conf", "[attach]\ndeadline = 99\n[md]\non-stale-iscsi = maybe\n");
    const r = await h.run(["check", `lun1@${IQN}+my-vm-disk`]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toEqual([...new Set(lines)]);
    for (const want of [/conf:2: \[attach\] deadline: '99' is not a whole number/, /conf:4: \[md\] on-stale-iscsi: 'maybe'/]) expect(r.stderr).toMatch(want);
    for (const want of [/tab.conf:1: expected 'LABEL DEVICE'/, /tab.conf:3: expected 'LABEL DEVICE', found 3 fields/, /tab.conf:4: label 'label!'/]) expect(r.stderr).toMatch(want);
    expect(r.stdout).not.toMatch(/ERROR/);
    expect(r.stderr.split("\n").every((l) => l === "" || l.startsWith("block-iscsimple: check: "))).toBe(true);
  });

  it.concurrent("a tool the program needs that is not installed: 'not installed', exit 4", async () => {
    const h = sim();
    rmSync(h.file("bin/mdadm"));
    const r = await h.run(["check"]);
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/mdadm not installed/);
    expect(r.stderr).toMatch(/check: warning: mdadm is not installed \(every mirror/);
    expect(r.stderr).not.toMatch(/exit -1/);
  });

  it.concurrent("a local disk smaller than its LUN: check says so, and an add refuses it", async () => {
    const h = sim();
    h.blockDevice("/dev/vg0/small", 120, 7, { uuid: "LVM-simvgsmall", sectors: 65536 });
    h.put("etc/xen/scripts/block-iscsimple-tab.conf", "my-vm-disk /dev/vg0/small\n");
    expect((await h.run(["add", `lun0@${IQN}`])).code).toBe(0); // a session: lun1 is visible now
    const c = await h.run(["check", `lun1@${IQN}+my-vm-disk`]);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/label 'my-vm-disk': the local leg \/dev\/vg0\/small \(32 MiB\) is smaller than its LUN \(128 MiB\)/);
    const r = await h.run(["add", `lun1@${IQN}+my-vm-disk`]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/is smaller than its LUN/);
    expect(h.calls().filter((x) => x.startsWith("mdadm --build"))).toEqual([]);
  });
});

describe("the conventions of the command line", () => {
  it.concurrent("one error style (commander's errors too), no command: the usage on stderr and exit 2", async () => {
    const h = sim();
    const none = await h.run([]);
    expect(none.code).toBe(2);
    expect(none.stdout).toBe("");
    expect(none.stderr).toMatch(/^Usage: block-iscsimple/);
    for (const [args, want] of [
      [["add"], /^block-iscsimple: missing required argument 'spec' \(block-iscsimple add --help shows the usage\)\n$/],
      [["frobnicate"], /^block-iscsimple: unknown command 'frobnicate' \(block-iscsimple --help shows the usage\)\n$/],
      [["status", "--bogus"], /^block-iscsimple: unknown option '--bogus' \(block-iscsimple status --help shows the usage\)\n$/],
    ] as const) {
      const r = await h.run([...args]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(want);
    }
  });

  it.concurrent("a command run by a user who is not root says so", () => {
    const h = sim();
    const r = spawnSync(BIN, ["add", SPEC], { env: h.env, uid: 65534, gid: 65534, encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("block-iscsimple: add must be run as root\n");
  });

  it.concurrent("-v says 'not installed' for a tool that is not, not 'exit -1'", async () => {
    const h = sim();
    rmSync(h.file("bin/mdadm")); // (the machine running the tests has no mdadm of its own either)
    const r = await h.run(["-v", "add", SPEC]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ran mdadm --build \S+ .*: not installed in \d+ ms/);
    expect(r.stderr).not.toMatch(/exit -1/);
  });

  it.concurrent("xl-disk -i names the line of a bad entry and changes nothing", async () => {
    const h = sim();
    const cfg = h.file("etc/xen/vm.cfg");
    const text = `name = "vm"\ndisk = [ 'iscsimple:lun0@${IQN}+my-vm-disk,xvda2,w',\n  'iscsimple:lun0@${IQN},nonsense,w' ]\n`;
    h.put("etc/xen/vm.cfg", text);
    const r = await h.run(["xl-disk", "-i", cfg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/vm.cfg:3: disk entry 'iscsimple:lun0@\S+,nonsense,w': 'nonsense' is not a virtual device name/);
    expect(readFileSync(cfg, "utf8")).toBe(text);
    const missing = await h.run(["xl-disk", "-i", h.file("etc/xen/nope.cfg")]);
    expect(missing.stderr).toMatch(/nope.cfg: cannot be read: no such file\n$/);
    expect(missing.stderr).not.toMatch(/ENOENT/);
  });
});
