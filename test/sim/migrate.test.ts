import { existsSync, readdirSync, readFileSync, writeFileSync, chmodSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { BIN, IQN, IQN2, waitFor, type SimHost } from "./simhost";
import { useSimHosts } from "./use-sim";

const sim = useSimHosts();
const DISK = `lun0@${IQN}+my-vm-disk`;
const DATA = `lun1@${IQN}+my-vm-data`;

const logins = (h: SimHost): number => h.calls().filter((c) => /iscsiadm .*--login/.test(c)).length;
const attachFiles = (h: SimHost): string[] => (existsSync(h.file("run/block-iscsimple/attach")) ? readdirSync(h.file("run/block-iscsimple/attach")) : []);

function script(h: SimHost, name: string, text: string): void {
  const f = path.join(h.binDir, name);
  writeFileSync(f, `#!/bin/bash\n${text}\n`);
  chmodSync(f, 0o755);
}

/**
 * Two simulated hosts: A runs the domain (domid 3, name vm1), B is the destination. On A, `xl`
 * answers domid and records migrate (exit from fake/xl-exit); `fake-ssh HOST PROGRAM ARGS...` runs
 * the built program on B, as ssh would run the installed one there.
 */
function pair(): { a: SimHost; b: SimHost } {
  const a = sim();
  const b = sim();
  script(a, "xl", `case $1 in domid) [ "$2" = vm1 ] && echo 3 || { echo "no such domain" >&2; exit 1; };; domname) [ "$2" = 3 ] && echo vm1 || { echo "no such domain" >&2; exit 1; };; migrate) echo "$*" >> ${a.file("fake/xl.log")}; sleep $(cat ${a.file("fake/xl-sleep")} 2>/dev/null || echo 0); exit $(cat ${a.file("fake/xl-exit")} 2>/dev/null || echo 0);; esac`);
  script(a, "fake-ssh", `echo "$*" >> ${a.file("fake/ssh.log")}; host=$1; shift; shift\nexec env BLOCK_ISCSIMPLE_ROOT=${b.root} PATH=${b.binDir}:/usr/bin:/bin BLOCK_ISCSIMPLE_FAKEHOST=${b.env.BLOCK_ISCSIMPLE_FAKEHOST} ${BIN} "$@"`);
  return { a, b };
}

async function addVm(h: SimHost): Promise<string[]> {
  const be = [h.backend(3, 51714, DISK), h.backend(3, 51730, DATA)];
  for (const b of be) {
    const r = await h.run(["add"], { xenbus: b });
    expect(r.code, r.stderr).toBe(0);
  }
  return be;
}

describe("prepare: the destination's targets before a migration", () => {
  it("logs in and finds the LUNs; the VM's adds adopt the sessions (no login of their own); their removes log out", async () => {
    const h = sim();
    const p = await h.run(["prepare", DISK, DATA]);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/^prepared 2 LUN\(s\) in \d+ ms, kept 600 s/);
    expect(Object.keys(h.world().sessions)).toHaveLength(1);
    expect(logins(h)).toBe(1);
    expect(Object.keys(h.world().md)).toEqual([]); // only the iSCSI part: no array, the local legs untouched
    const st = (JSON.parse((await h.run(["status", "--json"])).stdout) as { attachments: { owner: { kind: string; until: string }; mode: string }[] }).attachments;
    expect(st.map((s) => s.owner.kind)).toEqual(["prepared", "prepared"]);
    expect(st.every((s) => Date.parse(s.owner.until) > Date.now())).toBe(true);
    expect(st.every((s) => s.mode === "r")).toBe(true);
    const be = [h.backend(3, 51714, DISK), h.backend(3, 51730, DATA)];
    const adds = await Promise.all(be.map((b) => h.run(["add"], { xenbus: b })));
    for (const r of adds) expect(r.code, r.stderr).toBe(0);
    expect(logins(h)).toBe(1);
    expect(h.hotplugLog()).toMatch(/adopted the prepared session of lun0@/);
    expect(h.hotplugLog()).toMatch(/adopted the prepared session of lun1@/);
    expect(attachFiles(h).sort()).toEqual(["vbd-3-51714.json", "vbd-3-51730.json"]);
    for (const b of be) expect((await h.run(["remove"], { xenbus: b })).code).toBe(0);
    expect(h.leftovers()).toEqual([]);
  });

  it("a prepared session counts as a user of its target, and is released when its time is up (prepare --expire, the monitor)", async () => {
    for (const how of [["prepare", "--expire"], ["monitor", "--once"]]) {
      const h = sim();
      expect((await h.run(["prepare", "--keep=60", `lun1@${IQN}`])).code).toBe(0);
      // another disk of the target comes and goes: the prepared session stays
      expect((await h.run(["add", `lun0@${IQN}`])).code).toBe(0);
      expect((await h.run(["remove", `lun0@${IQN}`])).code).toBe(0);
      expect(Object.keys(h.world().sessions)).toHaveLength(1);
      // not yet expired: nothing happens
      expect((await h.run(how)).code).toBe(0);
      expect(Object.keys(h.world().sessions)).toHaveLength(1);
      // its time is up (the record says until when)
      const f = h.file(`run/block-iscsimple/attach/${attachFiles(h)[0]}`);
      const rec = JSON.parse(readFileSync(f, "utf8")) as { owner: { until: string } };
      rec.owner.until = new Date(Date.now() - 1000).toISOString();
      writeFileSync(f, JSON.stringify(rec));
      const r = await h.run(how);
      expect(r.code, r.stderr).toBe(0);
      expect(h.leftovers(), how.join(" ")).toEqual([]);
    }
  });

  it("is all or nothing: a spec that cannot be prepared releases what this call prepared; bad input changes nothing", async () => {
    const h = sim();
    const r = await h.run(["prepare", `lun0@${IQN}`, `lun0@${IQN2}`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(new RegExp(`no iSCSI node record for ${IQN2.replace(/\./g, "\\.")}`));
    expect(h.leftovers()).toEqual([]);
    const before = h.calls().length;
    for (const bad of [["prepare"], ["prepare", "MISSING+my-vm-disk"], ["prepare", "--keep=5", DISK], ["prepare", "--keep=1e3", DISK], ["prepare", "--release", "--expire"]]) {
      const b = await h.run(bad);
      expect(b.code, bad.join(" ")).toBe(2);
      expect(b.stderr.trim().split("\n")).toHaveLength(1);
    }
    expect(h.calls().slice(before)).toEqual([]);
  });
});

describe("migrate: refuses a stale disk, prepares the destination, runs xl migrate", () => {
  it("prepares the destination through the transport, then runs xl migrate; the destination's adds adopt the sessions", async () => {
    const { a, b } = pair();
    const srcBe = await addVm(a);
    const r = await a.run(["migrate", "vm1", "hostb", "--ssh", "fake-ssh", "--", "--debug"]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(a.file("fake/ssh.log"), "utf8").trim()).toBe(`hostb /etc/xen/scripts/block-iscsimple prepare --keep=600 lun0@${IQN} lun1@${IQN}`);
    expect(readFileSync(a.file("fake/xl.log"), "utf8").trim()).toBe("migrate -s fake-ssh --debug vm1 hostb");
    expect(r.stdout).toMatch(/vm1 migrated to hostb: prepare \d+\.\d s, xl migrate \d+\.\d s/);
    expect(Object.keys(b.world().sessions)).toHaveLength(1);
    // libxl on B: the adds while the VM is suspended; then A's removes
    const dstBe = [b.backend(5, 51714, DISK), b.backend(5, 51730, DATA)];
    for (const be of dstBe) expect((await b.run(["add"], { xenbus: be })).code).toBe(0);
    expect(logins(b)).toBe(1);
    for (const be of srcBe) expect((await a.run(["remove"], { xenbus: be })).code).toBe(0);
    expect(a.leftovers()).toEqual([]);
    expect(a.hotplugLog()).not.toMatch(/crit/);
    for (const be of dstBe) expect((await b.run(["remove"], { xenbus: be })).code).toBe(0);
    expect(b.leftovers()).toEqual([]);
  });

  it("a domain given by its id is that domain (xl migrate takes a number as an id; xl domid resolves names only)", async () => {
    const { a } = pair();
    await addVm(a);
    const r = await a.run(["migrate", "3", "hostb", "--ssh", "fake-ssh"]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(a.file("fake/xl.log"), "utf8").trim()).toBe("migrate -s fake-ssh 3 hostb");
    expect(readFileSync(a.file("fake/ssh.log"), "utf8")).toContain(`prepare --keep=600 lun0@${IQN} lun1@${IQN}`);
    // xl reads an id modulo 2^32: 4294967299 would be domain 3, without its disks' checks
    const wrapped = await a.run(["migrate", "4294967299", "hostb", "--ssh", "fake-ssh"]);
    expect(wrapped.code).toBe(2);
    expect(wrapped.stderr).toMatch(/domain id 4294967299 is not one a domain can have \(1 to 32751\)/);
    const none = await a.run(["migrate", "5", "hostb", "--ssh", "fake-ssh"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/there is no domain 5/);
  });

  it("releases the destination's prepared sessions when xl migrate fails, also after a memory copy longer than the attach deadline; the VM stays", async () => {
    const { a, b } = pair();
    await addVm(a);
    writeFileSync(a.file("fake/xl-exit"), "1\n");
    // the copy outlasts the [attach] deadline (3 s): the release still gets a deadline of its own
    a.put("etc/xen/scripts/block-iscsimple.conf", "[attach]\ndeadline = 3\n[iscsi]\nlogin-timeout = 1\n");
    writeFileSync(a.file("fake/xl-sleep"), "4\n");
    const r = await a.run(["migrate", "vm1", "hostb", "--ssh", "fake-ssh"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/xl migrate vm1 hostb failed/);
    expect(readFileSync(a.file("fake/ssh.log"), "utf8")).toMatch(/prepare --release lun0@/);
    expect(b.leftovers()).toEqual([]);
    expect(Object.keys(a.world().md)).toHaveLength(2);
  });

  it("refuses while a disk's iSCSI leg is not current, naming the disk and the way out; --force goes on, saying what it risks", async () => {
    const { a, b } = pair();
    await addVm(a);
    a.failLeg("my-vm-data", "iscsi");
    const r = await a.run(["migrate", "vm1", "hostb", "--ssh", "fake-ssh"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/not migrating vm1: lun1@.*\+my-vm-data \(51730\): its iSCSI leg is faulty: the LUN is not current; run block-iscsimple heal my-vm-data --wait/);
    expect(r.stderr).not.toMatch(/my-vm-disk/);
    expect(existsSync(a.file("fake/ssh.log"))).toBe(false);
    expect(existsSync(a.file("fake/xl.log"))).toBe(false);
    expect(b.leftovers()).toEqual([]);
    const f = await a.run(["migrate", "vm1", "hostb", "--ssh", "fake-ssh", "--force"]);
    expect(f.code, f.stderr).toBe(0);
    expect(f.stderr).toMatch(/warning: --force: migrating vm1 although .*my-vm-data.*older than the VM's/);
    expect(existsSync(a.file("fake/xl.log"))).toBe(true);
  });

  it("bad input is one line, exit 2, and nothing runs", async () => {
    const { a } = pair();
    for (const bad of [
      ["migrate", "vm;1", "hostb"],
      ["migrate", "vm1", "host/b"],
      ["migrate", "vm1", "[hostb]"],
      ["migrate", "vm1", "host*"],
      ["migrate", "vm1", "hostb", "--ssh", ""],
      ["migrate", "vm1", "hostb", "--ssh", "ssh -o 'ProxyCommand x'"],
      ["migrate", "vm1", "hostb", "--", "-C", "/tmp/x.cfg"],
    ]) {
      const r = await a.run(bad);
      expect(r.code, bad.join(" ")).toBe(2);
      expect(r.stderr.trim().split("\n"), bad.join(" ")).toHaveLength(1);
    }
    expect(a.calls()).toEqual([]);
    expect(existsSync(a.file("fake/xl.log"))).toBe(false);
  });

  it("a source remove whose iSCSI leg is not current says so at syslog's crit priority: a migrated VM runs on a stale disk", async () => {
    const h = sim();
    const [be] = await addVm(h);
    h.finishRecovery("my-vm-disk");
    h.failLeg("my-vm-disk", "iscsi");
    const r = await h.run(["remove"], { xenbus: be! });
    expect(r.code, r.stderr).toBe(0);
    expect(h.hotplugLog()).toMatch(/ crit: .*my-vm-disk: domain 3 \(vm 11111111-2222-3333-4444-555555555555\) left this host while its iSCSI leg was faulty: if it was live-migrated, the destination runs on a stale disk/);
    // logger writes syslog's lines on its own, after the remove ended: waited for, not timed
    const syslog = (): string => (existsSync(h.file("fake/syslog.log")) ? readFileSync(h.file("fake/syslog.log"), "utf8") : "");
    await waitFor(() => /^<26>crit: .*left this host while its iSCSI leg was faulty/m.test(syslog()));
  });

  it("an add rolled back with its iSCSI leg not current (built from the local leg) says nothing critical: no domain left", async () => {
    const h = sim({ config: "[md]\non-stale-iscsi = prefer-local\n" });
    const [be] = await addVm(h);
    h.finishRecovery("my-vm-disk");
    h.failLeg("my-vm-disk", "iscsi");
    expect((await h.run(["remove"], { xenbus: be! })).code).toBe(0);
    const crit = (): number => h.hotplugLog().split("\n").filter((l) => l.includes(" crit: ")).length;
    expect(crit()).toBe(1);
    // the next add builds from the local leg (the guard and prefer-local), then adding the iSCSI leg fails
    h.faults({ "mdadm add": { exit: 1, stderr: "mdadm: add failed" } });
    const r = await h.run(["add"], { xenbus: h.backend(4, 51714, DISK) });
    expect(r.code).toBe(1);
    expect(h.hotplugLog()).toMatch(/add backend\/vbd\/4\/51714: add failed: .*rolling back/);
    expect(crit()).toBe(1);
  });
});
