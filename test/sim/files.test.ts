// Every file the program creates as root: a planted link never redirects it, and a folder someone
// else can write is refused with a clear message (issue: xl-disk --in-place in a user's folder
// made root overwrite two root-owned files through the user's links, and gave one to the user).
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { IQN, type SimHost } from "./simhost";
import { useSimHosts } from "./use-sim";

const sim = useSimHosts();
const SPEC = `lun1@${IQN}+my-vm-disk`;
const NOBODY = 65534;
const CHAP_FILE = "etc/xen/scripts/block-iscsimple-chap.conf";

/** A root-owned file outside every folder the program writes: what an attacker's link points at. */
function victim(h: SimHost, name = "victim"): { file: string; intact: () => boolean } {
  const file = h.file(name);
  writeFileSync(file, "root's own data\n", { mode: 0o600 });
  return { file, intact: () => readFileSync(file, "utf8") === "root's own data\n" && statSync(file).uid === 0 };
}

describe("xl-disk --in-place", () => {
  const ENTRY = `disk = [ 'iscsimple:lun0@${IQN}+my-vm-disk,xvda2,w' ]\n`;

  it.concurrent("in a folder a user owns (with links planted for the backup and the temporary file): refused, nothing written", async () => {
    const h = sim();
    const v1 = victim(h, "victim1");
    const v2 = victim(h, "victim2");
    const dir = h.file("home/alice");
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "vm.cfg"), ENTRY);
    symlinkSync(v1.file, path.join(dir, "vm.cfg.bak"));
    symlinkSync(v2.file, path.join(dir, "vm.cfg.block-iscsimple.tmp"));
    chownSync(dir, NOBODY, NOBODY);
    chownSync(path.join(dir, "vm.cfg"), NOBODY, NOBODY);
    const r = await h.run(["xl-disk", "--in-place", path.join(dir, "vm.cfg")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/vm.cfg: refusing to rewrite it in \S+\/home\/alice: it belongs to uid 65534, not to root/);
    expect(v1.intact() && v2.intact()).toBe(true);
    expect(readFileSync(path.join(dir, "vm.cfg"), "utf8")).toBe(ENTRY);
    // a folder of root's that others can write is refused too (sticky or not)
    chownSync(dir, 0, 0);
    chmodSync(dir, 0o1777);
    const sticky = await h.run(["xl-disk", "--in-place", path.join(dir, "vm.cfg")]);
    expect(sticky.code).toBe(2);
    expect(sticky.stderr).toMatch(/others than root can write to it \(mode 1777/);
    expect(v1.intact() && v2.intact()).toBe(true);
  });

  it.concurrent("in root's folder: a link where the backup goes is replaced, never followed; the owner is root's, the mode the original's", async () => {
    const h = sim();
    const v = victim(h);
    const dir = h.file("etc/xen/vms");
    mkdirSync(dir, { recursive: true });
    const cfg = path.join(dir, "vm.cfg");
    writeFileSync(cfg, ENTRY, { mode: 0o640 });
    chownSync(cfg, NOBODY, NOBODY);
    symlinkSync(v.file, `${cfg}.bak`);
    const r = await h.run(["xl-disk", "--in-place", cfg]);
    expect(r.code, r.stderr).toBe(0);
    expect(v.intact()).toBe(true);
    const bak = lstatSync(`${cfg}.bak`);
    expect(bak.isFile() && bak.uid === 0 && (bak.mode & 0o777) === 0o640).toBe(true);
    expect(readFileSync(`${cfg}.bak`, "utf8")).toBe(ENTRY);
    const now = statSync(cfg);
    expect(now.uid === 0 && (now.mode & 0o777) === 0o640).toBe(true);
    expect(readFileSync(cfg, "utf8")).toMatch(/vdev=xvda2,access=rw,script=block-iscsimple,target=/);
  });

  it.concurrent("a link to a config file is followed once, to the real file, whose folder is checked", async () => {
    const h = sim();
    const dir = h.file("etc/xen/vms");
    mkdirSync(h.file("etc/xen/auto"), { recursive: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "vm.cfg"), ENTRY);
    symlinkSync("../vms/vm.cfg", h.file("etc/xen/auto/vm.cfg"));
    const r = await h.run(["xl-disk", "--in-place", h.file("etc/xen/auto/vm.cfg")]);
    expect(r.code, r.stderr).toBe(0);
    expect(lstatSync(h.file("etc/xen/auto/vm.cfg")).isSymbolicLink()).toBe(true);
    expect(readFileSync(path.join(dir, "vm.cfg.bak"), "utf8")).toBe(ENTRY);
  });

  it.concurrent("an entry given together with -i is refused", async () => {
    const h = sim();
    const r = await h.run(["xl-disk", "-i", h.file("x.cfg"), `iscsimple:lun0@${IQN},xvda2,w`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/give either a disk entry or --in-place FILE, not both/);
  });
});

describe("the program's own files", () => {
  it.concurrent("attachment records: a link in a record's place is replaced, never followed; a folder others can write is refused", async () => {
    const h = sim();
    const v = victim(h);
    mkdirSync(h.file("run/block-iscsimple/attach"), { recursive: true, mode: 0o700 });
    chmodSync(h.file("run/block-iscsimple"), 0o700);
    symlinkSync(v.file, h.file("run/block-iscsimple/attach/manual-label-my-vm-disk.json"));
    const r = await h.run(["add", SPEC]);
    expect(r.code, r.stderr).toBe(0);
    expect(v.intact()).toBe(true);
    expect(lstatSync(h.file("run/block-iscsimple/attach/manual-label-my-vm-disk.json")).isFile()).toBe(true);
    expect((await h.run(["remove", SPEC])).code).toBe(0);
    chmodSync(h.file("run/block-iscsimple/attach"), 0o777);
    const refused = await h.run(["add", SPEC]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/refusing to create files in \S+run\/block-iscsimple\/attach: others than root can write to it \(mode 777/);
    expect(h.leftovers().filter((l) => !l.startsWith("state "))).toEqual([]);
  });

  it.concurrent("the local disks' and the guards' records: a folder others can write is refused before anything changes", async () => {
    const h = sim();
    mkdirSync(h.file("var/lib/block-iscsimple/local"), { recursive: true });
    chmodSync(h.file("var/lib/block-iscsimple/local"), 0o777);
    const r = await h.run(["add", SPEC]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/refusing to create files in \S+var\/lib\/block-iscsimple\/local: others than root can write to it/);
    expect(h.leftovers()).toEqual([]);
  });

  it.concurrent("node record files: a link in a record's place is not followed (the CHAP credentials are not written through it)", async () => {
    const h = sim();
    const v = victim(h);
    h.setWorld((w) => {
      w.filer[IQN]!.chap = { user: "host1", pass: "Pa55w0rd-1" };
    });
    h.put(CHAP_FILE, `[${IQN}]\nusername = host1\npassword = Pa55w0rd-1\n`, 0o600);
    const rec = h.file(`etc/iscsi/nodes/${IQN}/192.0.2.10,3260,1/default`);
    rmSync(rec);
    symlinkSync(v.file, rec);
    const r = await h.run(["add", SPEC]);
    expect(r.code).not.toBe(0);
    expect(v.intact()).toBe(true);
    expect(h.leftovers()).toEqual([]);
  });

  it.concurrent("iscsiadm's lock folder in the world-writable /run/lock is used only as root's own", async () => {
    const h = sim();
    const v = victim(h);
    h.setWorld((w) => {
      w.filer[IQN]!.chap = { user: "host1", pass: "Pa55w0rd-1" };
    });
    h.put(CHAP_FILE, `[${IQN}]\nusername = host1\npassword = Pa55w0rd-1\n`, 0o600);
    mkdirSync(h.file("run/lock/iscsi"), { recursive: true });
    chownSync(h.file("run/lock/iscsi"), NOBODY, NOBODY);
    symlinkSync(v.file, h.file("run/lock/iscsi/lock"));
    const r = await h.run(["add", SPEC]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/refusing to create files in \S+run\/lock\/iscsi: it belongs to uid 65534, not to root/);
    expect(v.intact()).toBe(true);
    expect(h.leftovers()).toEqual([]);
    // root's folder, a link planted as the lock file: not followed
    chownSync(h.file("run/lock/iscsi"), 0, 0);
    chmodSync(h.file("run/lock/iscsi"), 0o700);
    const again = await h.run(["add", SPEC]);
    expect(again.code).not.toBe(0);
    expect(v.intact()).toBe(true);
  });

  it.concurrent("a folder writable by root's group (or by a named user through an ACL: the group bits are its mask) is refused; so is a folder reached through a link", async () => {
    const h = sim();
    mkdirSync(h.file("var/lib/block-iscsimple/local"), { recursive: true });
    chmodSync(h.file("var/lib/block-iscsimple/local"), 0o770);
    const r = await h.run(["add", SPEC]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/local: others than root can write to it \(mode 770\)/);
    expect(h.leftovers()).toEqual([]);
    rmSync(h.file("var/lib/block-iscsimple/local"), { recursive: true });
    mkdirSync(h.file("elsewhere"), { mode: 0o700 });
    symlinkSync(h.file("elsewhere"), h.file("var/lib/block-iscsimple/local"));
    const l = await h.run(["add", SPEC]);
    expect(l.code).toBe(3);
    expect(l.stderr).toMatch(/local: its path goes through a symbolic link/);
  });

  it.concurrent("a folder above that someone else owns (as /var/lib/prometheus is the prometheus user's) cannot redirect a write: it happens inside the folder", async () => {
    const h = sim();
    mkdirSync(h.file("var/lib/prometheus/node-exporter"), { recursive: true });
    chownSync(h.file("var/lib/prometheus"), NOBODY, NOBODY);
    expect((await h.run(["monitor", "--once"])).code).toBe(0);
    expect(statSync(h.file("var/lib/prometheus/node-exporter/block_iscsimple.prom")).uid).toBe(0);
  });

  it.concurrent("the log file: a link in its place is not followed; a folder others can write is said once and not used", async () => {
    const h = sim();
    const v = victim(h);
    symlinkSync(v.file, h.file("var/log/xen/xen-hotplug.log"));
    const r = await h.run(["add", SPEC]);
    expect(r.code, r.stderr).toBe(0);
    expect(v.intact()).toBe(true);
    expect(lstatSync(h.file("var/log/xen/xen-hotplug.log")).isSymbolicLink()).toBe(true);
    rmSync(h.file("var/log/xen/xen-hotplug.log"));
    chmodSync(h.file("var/log/xen"), 0o777);
    const r2 = await h.run(["remove", SPEC]);
    expect(r2.code).toBe(0);
    expect(r2.stderr.match(/warning: no log file: refusing to create files in \S+var\/log\/xen: others than root can write to it/g)).toHaveLength(1);
    expect(existsSync(h.file("var/log/xen/xen-hotplug.log"))).toBe(false);
  });
});
