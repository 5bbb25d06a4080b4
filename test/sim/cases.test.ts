import { chmodSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { iscsiadm } from "../../src/core/commands";
import { IQN, IQN2, type SimOptions } from "./simhost";
import { useSimHosts } from "./use-sim";

const sim = useSimHosts();

describe("hotplug cases", () => {
  it.concurrent("a plain iSCSI disk without label gets the LUN's own device", async () => {
    const h = sim();
    const be = h.backend(4, 51712, `lun1@${IQN}`);
    const r = await h.run(["add"], { xenbus: be });
    expect(r.code, r.stderr).toBe(0);
    const disk = Object.entries(h.world().disks).find(([, d]) => d.lun === 1)!;
    expect(h.xs(`${be}/physical-device`)).toBe(`8:${disk[1].minor.toString(16)}`);
    expect(h.xs(`${be}/physical-device-path`)).toBe(h.file(`dev/${disk[0]}`));
    expect(Object.keys(h.world().md)).toEqual([]);
    expect((await h.run(["remove"], { xenbus: be })).code).toBe(0);
    expect(h.leftovers()).toEqual([]);
  });

  it.concurrent("MISSING iSCSI leg: RAID1 on the local leg alone, with a loud warning", async () => {
    const h = sim();
    const be = h.backend(4, 51712, "MISSING+my-vm-disk");
    const r = await h.run(["add"], { xenbus: be });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/NO iSCSI LEG .* must not be migrated/);
    expect(h.calls().filter((c) => c.startsWith("iscsiadm"))).toEqual([]);
    const [md] = Object.values(h.world().md);
    expect(md?.members.map((m) => m.state)).toEqual(["in_sync"]);
    expect(h.calls().find((c) => c.startsWith("mdadm --build "))).toMatch(/--raid-devices=2 \S+\/dev\/vg0\/my-vm-disk missing$/);
    expect((await h.run(["remove"], { xenbus: be })).code).toBe(0);
    expect(h.leftovers()).toEqual([]);
  });

  it.concurrent("MISSING local leg: the array has the iSCSI leg only, nothing is added", async () => {
    const h = sim();
    const be = h.backend(4, 51712, `lun1@${IQN}+only-iscsi`);
    const r = await h.run(["add"], { xenbus: be });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/no local leg/);
    expect(h.calls().some((c) => /^mdadm \S+ --add /.test(c))).toBe(false);
    expect(h.xs(`${be}/physical-device`)).toBe("9:7f");
    expect((await h.run(["remove"], { xenbus: be })).code).toBe(0);
    expect(h.leftovers()).toEqual([]);
  });

  it.concurrent("called twice: physical-device already written, exit 0 and nothing run but the reads of xenstore", async () => {
    const h = sim();
    const be = h.backend(4, 51712, `lun1@${IQN}+my-vm-disk`);
    expect((await h.run(["add"], { xenbus: be })).code).toBe(0);
    const before = h.calls().length;
    const again = await h.run(["add"], { xenbus: be });
    expect(again.code).toBe(0);
    // the backend's keys are read together with physical-device (one round trip on xenstored's socket)
    const after = h.calls().slice(before);
    expect(after).toContain(`xenstore-exists ${be}/physical-device`);
    expect(after.filter((c) => !/^xenstore-(exists|read) /.test(c))).toEqual([]);
    expect(Object.keys(h.world().md)).toHaveLength(1);
    await h.run(["remove"], { xenbus: be });
    expect(h.leftovers()).toEqual([]);
  });

  it.concurrent("remove with nothing to do exits 0", async () => {
    const h = sim();
    const r = await h.run(["remove"], { xenbus: "backend/vbd/9/51712" });
    expect(r.code).toBe(0);
    expect(h.leftovers()).toEqual([]);
  });

  it.concurrent("sharing: another domain's writable LUN or label is refused, the host unchanged", async () => {
    const h = sim();
    const a = h.backend(4, 51712, `lun1@${IQN}+my-vm-disk`);
    expect((await h.run(["add"], { xenbus: a })).code).toBe(0);
    const snapshot = JSON.stringify(h.world().md);
    const b = h.backend(5, 51712, `lun1@${IQN}+my-vm-data`, "w", "99999999-2222-3333-4444-555555555555");
    const r = await h.run(["add"], { xenbus: b });
    expect(r.code).toBe(1);
    expect(h.xs(`${b}/hotplug-error`)).toMatch(/lun1 of .* is in use writable by domain 4/);
    const c = h.backend(6, 51712, `lun0@${IQN}+my-vm-disk`, "w", "99999999-2222-3333-4444-555555555555");
    expect((await h.run(["add"], { xenbus: c })).code).toBe(1);
    expect(h.xs(`${c}/hotplug-error`)).toMatch(/label 'my-vm-disk' is in use by domain 4/);
    expect(JSON.stringify(h.world().md)).toBe(snapshot);
    expect(Object.keys(h.world().sessions)).toHaveLength(1);
    for (const be of [c, b]) expect((await h.run(["remove"], { xenbus: be })).code).toBe(0);
    expect(Object.keys(h.world().md)).toHaveLength(1);
    expect((await h.run(["remove"], { xenbus: a })).code).toBe(0);
    expect(h.leftovers()).toEqual([]);
  });

  it.concurrent("migration to localhost: the same VM reuses its array (refcounted)", async () => {
    const h = sim();
    const src = h.backend(4, 51712, `lun1@${IQN}+my-vm-disk`);
    expect((await h.run(["add"], { xenbus: src })).code).toBe(0);
    const dst = h.backend(5, 51712, `lun1@${IQN}+my-vm-disk`);
    const r = await h.run(["add"], { xenbus: dst });
    expect(r.code, r.stderr).toBe(0);
    expect(h.xs(`${dst}/physical-device`)).toBe(h.xs(`${src}/physical-device`));
    expect(Object.keys(h.world().md)).toHaveLength(1);
    expect((await h.run(["remove"], { xenbus: src })).code).toBe(0);
    expect(Object.keys(h.world().md)).toHaveLength(1);
    expect(Object.keys(h.world().sessions)).toHaveLength(1);
    expect((await h.run(["remove"], { xenbus: dst })).code).toBe(0);
    expect(h.leftovers()).toEqual([]);
  });

  it.concurrent("a session we did not start is left logged in", async () => {
    const h = sim();
    const pre = await h.run(["add", `lun0@${IQN}`]);
    expect(pre.code).toBe(0);
    // forget that we started it: an admin's own session
    h.setWorld(() => undefined);
    const be = h.backend(4, 51712, `lun1@${IQN}+my-vm-disk`);
    writeFileSync(h.file(`run/block-iscsimple/target/${IQN}.json`), JSON.stringify({ iqn: IQN, loggedInByUs: false }));
    expect((await h.run(["add"], { xenbus: be })).code).toBe(0);
    expect(h.calls().filter((c) => /^iscsiadm -m node -T \S+ --login$/.test(c))).toHaveLength(1);
    expect(h.calls().some((c) => c.endsWith(" --rescan"))).toBe(false);
    expect((await h.run(["remove"], { xenbus: be })).code).toBe(0);
    expect((await h.run(["remove", `lun0@${IQN}`])).code).toBe(0);
    expect(Object.keys(h.world().sessions)).toHaveLength(1);
    expect(h.calls().some((c) => /^iscsiadm -m node -T \S+ --logout$/.test(c))).toBe(false);
  });

  it.concurrent("a new LUN on an existing session is found by a rescan", async () => {
    const h = sim({ filer: { [IQN]: [0] } });
    const a = h.backend(4, 51712, `lun0@${IQN}+my-vm-disk`);
    expect((await h.run(["add"], { xenbus: a })).code).toBe(0);
    h.setWorld((w) => w.filer[IQN]!.luns.push(1));
    const b = h.backend(4, 51728, `lun1@${IQN}+my-vm-data`);
    const r = await h.run(["add"], { xenbus: b });
    expect(r.code, r.stderr).toBe(0);
    expect(h.calls().filter((c) => c.endsWith(" --rescan"))).toEqual([h.argv(iscsiadm.rescan(1))]);
    for (const be of [a, b]) expect((await h.run(["remove"], { xenbus: be })).code).toBe(0);
    expect(h.leftovers()).toEqual([]);
  });

  it.concurrent("the device appearing late is waited for (no fixed sleep), and without udev md names drift safely", async () => {
    const h = sim({ udev: false, deviceDelayMs: 300 });
    const be = h.backend(4, 51712, `lun1@${IQN}+my-vm-disk`);
    for (const want of ["9:7f", "9:7e"]) {
      const r = await h.run(["add"], { xenbus: be });
      expect(r.code, r.stderr).toBe(0);
      expect(h.xs(`${be}/physical-device`)).toBe(want);
      const md = Object.entries(h.world().md).find(([, a]) => a.label === "my-vm-disk")![0];
      expect(want).toBe(`9:${Number(md.slice(2)).toString(16)}`);
      expect((await h.run(["remove"], { xenbus: be })).code).toBe(0);
      h.setWorld((w) => {
        for (const k of Object.keys(w.xenstore)) if (k.includes("physical-device") || k.includes("hotplug")) delete w.xenstore[k];
        // md127 is taken by something else now, and a dangling /dev/md/LABEL link is left (no udev)
        w.md.md127 = { label: "someone-else", members: [] };
      });
      symlinkSync(h.file("dev/md125"), h.file("dev/md/my-vm-disk"));
    }
  });

  it.concurrent("two targets, four disks at once", async () => {
    const h = sim({ filer: { [IQN]: [0, 1], [IQN2]: [0, 1] }, localDevices: ["vg0/a", "vg0/b", "vg0/c", "vg0/d"], tab: "a /dev/vg0/a\nb /dev/vg0/b\nc /dev/vg0/c\nd /dev/vg0/d\n" });
    const specs = [`lun0@${IQN}+a`, `lun1@${IQN}+b`, `lun0@${IQN2}+c`, `lun1@${IQN2}+d`];
    const bes = specs.map((s, i) => h.backend(7, 51712 + 16 * i, s));
    const res = await Promise.all(bes.map((b) => h.run(["add"], { xenbus: b })));
    for (const r of res) expect(r.code, r.stderr).toBe(0);
    expect(Object.keys(h.world().sessions)).toHaveLength(2);
    expect(new Set(bes.map((b) => h.xs(`${b}/physical-device`))).size).toBe(4);
    const rm = await Promise.all(bes.map((b) => h.run(["remove"], { xenbus: b })));
    for (const r of rm) expect(r.code, r.stderr).toBe(0);
    expect(h.leftovers()).toEqual([]);
  });
});

describe("bad input: one clear line, non-zero exit, no change on the host", () => {
  const cases: [string, string, RegExp, Partial<SimOptions>?][] = [
    ["a bad IQN", `lun1@iqn.2014-06.fr.Example:x+my-vm-disk`, /bad target spec .*lower case/],
    ["a bad label", `lun1@${IQN}+my;disk`, /label 'my;disk': character ';'/],
    ["an unknown label", `lun1@${IQN}+nope`, /label 'nope' is not defined in \/etc\/xen\/scripts\/block-iscsimple-tab.conf/],
    ["both legs MISSING", "MISSING+only-iscsi", /both legs are MISSING/],
    ["a duplicate label", `lun1@${IQN}+my-vm-disk`, /tab.conf:2: label 'my-vm-disk' is already defined on line 1/, { tab: "my-vm-disk /dev/vg0/my-vm-disk\nmy-vm-disk /dev/vg0/my-vm-data\n" }],
    ["a malformed tab line", `lun1@${IQN}+my-vm-disk`, /tab.conf:1: expected 'LABEL DEVICE', found 3 fields/, { tab: "my-vm-disk /dev/a /dev/b\n" }],
    ["a local leg that is not a block device", `lun1@${IQN}+my-vm-disk`, /label 'my-vm-disk': local leg \/dev\/vg0\/nothing is missing, not a block device/, { tab: "my-vm-disk /dev/vg0/nothing\n" }],
    ["an invalid config value", `lun1@${IQN}+my-vm-disk`, /block-iscsimple.conf:2: \[attach\] deadline: '90' is not a whole number from 1 to 35/, { config: "[attach]\ndeadline = 90\n" }],
  ];
  it.concurrent.each(cases)("hotplug: %s", async (_name, params, why, opts) => {
    const h = sim(opts);
    const be = h.backend(4, 51712, params);
    const r = await h.run(["add"], { xenbus: be });
    expect(r.code).toBe(1);
    expect(h.xs(`${be}/hotplug-error`)).toMatch(why);
    expect(h.xs(`${be}/hotplug-status`)).toBe("error");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(h.calls().filter((c) => !c.startsWith("xenstore"))).toEqual([]);
    expect(h.leftovers()).toEqual([]);
  });
  it.concurrent.each(cases)("manual add: %s", async (_name, params, why, opts) => {
    const h = sim(opts);
    const r = await h.run(["add", params]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(why);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(h.calls()).toEqual([]);
    expect(h.leftovers()).toEqual([]);
  });
  it.concurrent("a bad XENBUS_PATH", async () => {
    const h = sim();
    const r = await h.run(["add"], { xenbus: "backend/vbd/../../etc" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/XENBUS_PATH 'backend\/vbd\/..\/..\/etc' is not backend\/vbd\/DOMID\/DEVID/);
  });
  it.concurrent("unknown config keys warn but do not stop", async () => {
    const h = sim({ config: "[attach]\ndeadlin = 10\n" });
    const r = await h.run(["add", `lun1@${IQN}+my-vm-disk`]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: .*unknown key 'deadlin' in \[attach\] is ignored/);
  });
});

describe("manual mode", () => {
  it.concurrent("add prints the device, status shows it, remove undoes it", async () => {
    const h = sim();
    const add = await h.run(["add", `lun1@${IQN}+my-vm-disk`]);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toBe("/dev/md/my-vm-disk\n");
    const again = await h.run(["add", `lun1@${IQN}+my-vm-disk`]);
    expect(again.stdout).toBe("/dev/md/my-vm-disk\n");
    const st = await h.run(["status"]);
    expect(st.stdout).toMatch(/lun1@.*\+my-vm-disk {2}\[w\] a manual attachment/);
    expect(st.stdout).toMatch(/md {7}md127 clean, degraded \(1 missing\) recover 1\.5%/);
    expect(st.stdout).toMatch(/iscsi {2}sd\S+ in_sync,write_mostly/);
    const js = JSON.parse((await h.run(["status", "--json"])).stdout) as { attachments: { spec: string; iscsi: { sessions: { id: number }[] }; array: { members: { role: string }[] } }[] };
    expect(js.attachments[0]).toMatchObject({ spec: `lun1@${IQN}+my-vm-disk`, iscsi: { sessions: [{ id: 1, state: "LOGGED_IN" }] } });
    expect(js.attachments[0]!.array.members.map((l) => l.role).sort()).toEqual(["iscsi", "local"]);
    expect((await h.run(["remove", `lun1@${IQN}+my-vm-disk`])).code).toBe(0);
    expect(h.leftovers()).toEqual([]);
    const none = await h.run(["remove", `lun1@${IQN}+my-vm-disk`]);
    expect(none).toMatchObject({ code: 0 });
    expect(none.stderr).toMatch(/is not attached; nothing to do/);
  });
  it.concurrent("remove refuses a disk that a domain attached", async () => {
    const h = sim();
    const be = h.backend(4, 51712, `lun1@${IQN}+my-vm-disk`);
    await h.run(["add"], { xenbus: be });
    const r = await h.run(["remove", `lun1@${IQN}+my-vm-disk`]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/attached by domain 4 .* xl block-detach/);
  });
  it.concurrent("check prints the plan and changes nothing", async () => {
    const h = sim({ nodes: false, config: "[iscsi]\nportals = 192.0.2.10\n" });
    const r = await h.run(["check", `lun1@${IQN}+my-vm-disk`]);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain(`iscsiadm -m discovery -t sendtargets -p 192.0.2.10:3260`);
    expect(r.stdout).toContain(`iscsiadm -m node -T ${IQN} --login`);
    expect(r.stdout).toContain(`mdadm --build /dev/md/my-vm-disk --level=1 --raid-devices=2 missing --write-mostly <lun1 of ${IQN}>`);
    expect(h.calls()).toEqual([h.argv(iscsiadm.nodes())]);
    expect(h.leftovers()).toEqual([]);
    const bad = await h.run(["check", "lun1@nope"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^block-iscsimple: check: bad target spec/m);
  });
  it.concurrent("xl-disk converts a line and a file in place with a backup", async () => {
    const h = sim();
    const line = await h.run(["xl-disk", `'iscsimple:lun0@${IQN}+my-vm-disk,xvda2,w'`]);
    expect(line.stdout).toBe(`'vdev=xvda2,access=rw,script=block-iscsimple,target=lun0@${IQN}+my-vm-disk'\n`);
    const cfg = h.file("vm.cfg");
    const text = `disk = [ 'iscsimple:lun0@${IQN}+my-vm-disk,xvda2,w' ]\n`;
    writeFileSync(cfg, text);
    chmodSync(cfg, 0o640);
    const r = await h.run(["xl-disk", "--in-place", cfg]);
    expect(r.code).toBe(0);
    expect(readFileSync(cfg, "utf8")).toBe(`disk = [ 'vdev=xvda2,access=rw,script=block-iscsimple,target=lun0@${IQN}+my-vm-disk' ]\n`);
    expect(readFileSync(`${cfg}.bak`, "utf8")).toBe(text);
    const bad = await h.run(["xl-disk", "iscsimple:lun0@x,xvda2,w"]);
    expect(bad.code).toBe(2);
  });
  it.concurrent("--help of every command has an example, --version works, unknown commands fail", async () => {
    const h = sim();
    for (const c of ["add", "remove", "status", "check", "xl-disk"]) {
      const r = await h.run([c, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Examples?:/);
    }
    expect((await h.run(["--version"])).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    expect((await h.run(["frobnicate"])).code).toBe(2);
  });
});
