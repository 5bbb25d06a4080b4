import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { discoverydb } from "../../src/core/commands";
import { IQN, IQN2, PORTAL } from "./simhost";
import { useSimHosts } from "./use-sim";

const sim = useSimHosts();
const CHAP_FILE = "etc/xen/scripts/block-iscsimple-chap.conf";
const SECRET = "s3cr3t-Pa55w0rd";
const chapConf = `[${IQN}]\nusername = host1\npassword = ${SECRET}\n`;

function everything(h: ReturnType<typeof sim>, ...more: string[]): string {
  const files = ["fake/calls.log", "var/log/xen/xen-hotplug.log", "fake/syslog.log"];
  return files.map((f) => { try { return readFileSync(h.file(f), "utf8"); } catch { return ""; } }).join("\n") + more.join("\n");
}

describe("CHAP", () => {
  it.concurrent("sets the credentials on the node record before login and never prints or logs the secret", async () => {
    const h = sim();
    h.setWorld((w) => { w.filer[IQN]!.chap = { user: "host1", pass: SECRET }; });
    h.put(CHAP_FILE, chapConf, 0o600);
    const r = await h.run(["-v", "add", `lun1@${IQN}+my-vm-disk`]);
    expect(r.code, r.stderr).toBe(0);
    expect(h.nodeSettings(IQN)["node.session.auth.password"]).toBe(SECRET);
    // no command line carries a CHAP setting: they are in the node record's file
    expect(h.calls().filter((c) => c.includes("auth."))).toEqual([]);
    await new Promise((res) => setTimeout(res, 300)); // logger finishes on its own
    expect(everything(h, r.stdout, r.stderr)).not.toContain(SECRET);
    expect(r.stderr).toMatch(/set the CHAP credentials of \S+ in its node records/);
    const check = await h.run(["check", `lun1@${IQN}+my-vm-disk`]);
    expect(check.stdout).toMatch(/chap {5}\/etc\/xen\/scripts\/block-iscsimple-chap.conf: 1 target/);
    expect(check.stdout).not.toContain(SECRET);
  });

  it.concurrent("a wrong password: 'authentication failed for TARGET at PORTAL', nothing left", async () => {
    const h = sim();
    h.setWorld((w) => { w.filer[IQN]!.chap = { user: "host1", pass: "the-right-one" }; });
    h.put(CHAP_FILE, chapConf, 0o600);
    const be = h.backend(4, 51712, `lun1@${IQN}+my-vm-disk`);
    const r = await h.run(["add"], { xenbus: be });
    expect(r.code).toBe(1);
    expect(h.xs(`${be}/hotplug-error`)).toMatch(`authentication failed for ${IQN} at ${PORTAL} (iscsiadm exit 24`);
    expect(h.xs(`${be}/hotplug-error`)).not.toContain(SECRET);
    expect((await h.run(["remove"], { xenbus: be })).code).toBe(0);
    expect(h.leftovers()).toEqual([]);
  });

  it.concurrent.each([
    [0o640, /refusing to read secrets from a file that group or others can read \(mode 640\): chmod 600/],
    [0o604, /mode 604/],
  ])("refuses a credentials file with mode %o", async (mode, why) => {
    const h = sim();
    h.put(CHAP_FILE, chapConf, mode);
    const r = await h.run(["add", `lun1@${IQN}+my-vm-disk`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(why);
    expect(r.stderr).not.toContain(SECRET);
    expect(h.calls()).toEqual([]);
  });

  it.concurrent("bad credentials files name the file and section, never the value", async () => {
    const h = sim();
    h.put(CHAP_FILE, `[${IQN}]\nusername = host1\npassword = has space ${SECRET}\n`, 0o600);
    const r = await h.run(["add", `lun1@${IQN}`]);
    expect(r.stderr).toMatch(/block-iscsimple-chap.conf:3: \[iqn.* password: must be 1 to 255 printable ASCII characters without blanks/);
    expect(r.stderr).not.toContain(SECRET);
    h.put(CHAP_FILE, `[${IQN}]\nusername = host1\npassword = x\nusername_in = filer\n`, 0o600);
    expect((await h.run(["add", `lun1@${IQN}`])).stderr).toMatch(/mutual CHAP needs both username_in and password_in/);
  });

  it.concurrent("discovery CHAP goes through a discoverydb record; mutual CHAP sets the _in keys", async () => {
    const h = sim({ nodes: false, config: "[iscsi]\nportals = 192.0.2.10\n" });
    h.setWorld((w) => { w.discoveryChap = { user: "disc", pass: "discsecret1" }; });
    h.put(CHAP_FILE, `[discovery]\nusername = disc\npassword = discsecret1\n[default]\nusername = host1\npassword = ${SECRET}\nusername_in = filer\npassword_in = filersecret\n`, 0o600);
    const r = await h.run(["add", `lun1@${IQN}+my-vm-disk`]);
    expect(r.code, r.stderr).toBe(0);
    expect(h.calls().some((c) => c === h.argv(discoverydb.discover("192.0.2.10:3260")))).toBe(true);
    expect(h.nodeSettings(IQN)["node.session.auth.password_in"]).toBe("filersecret");
  });
});

describe("discover", () => {
  it.concurrent("lists targets and portals without leaving node records", async () => {
    const h = sim({ nodes: false, filer: { [IQN]: [1, 2], [IQN2]: [1] } });
    const r = await h.run(["discover", "192.0.2.10"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${IQN}  (portals ${PORTAL})\n${IQN2}  (portals ${PORTAL})\n`);
    expect(h.world().nodes).toEqual({});
  });

  it.concurrent("--luns logs in only as long as needed, lists size, vendor/model, SCSI id and the disk line; --json", async () => {
    const h = sim({ nodes: false, filer: { [IQN]: [1, 2] } });
    const r = await h.run(["discover", "192.0.2.10:3260", "--luns"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/lun1 +128 MiB {2}IET VIRTUAL-DISK {2}naa\.\S+/);
    expect(r.stdout).toMatch(/lun2 +192 MiB/);
    expect(r.stdout).toContain(`'vdev=xvdX,access=w,script=block-iscsimple,target=lun1@${IQN}'`);
    expect(h.world().sessions).toEqual({});
    expect(h.world().nodes).toEqual({});
    const js = JSON.parse((await h.run(["discover", "192.0.2.10", "--luns", "--json"])).stdout) as { targets: { iqn: string; luns: { lun: number; sizeBytes: number }[] }[] };
    expect(js.targets[0]?.luns.map((l) => [l.lun, l.sizeBytes])).toEqual([[1, 134217728], [2, 201326592]]);
  });

  it.concurrent("--luns keeps a session that already existed", async () => {
    const h = sim({ filer: { [IQN]: [1] } });
    expect((await h.run(["add", `lun1@${IQN}`])).code).toBe(0);
    const r = await h.run(["discover", "192.0.2.10", "--luns"]);
    expect(r.stdout).toMatch(/lun1 /);
    expect(Object.keys(h.world().sessions)).toHaveLength(1);
    expect(h.calls().some((c) => /^iscsiadm -m node -T \S+ --logout$/.test(c))).toBe(false);
  });

  it.concurrent("rejects a bad portal", async () => {
    const h = sim();
    const r = await h.run(["discover", "192.0.2.300"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/portal '192.0.2.300'/);
  });
});

describe("check: the initiator name", () => {
  it.concurrent.each([
    [null, /missing/],
    ["GenerateName=yes\n", /no name yet \(GenerateName=yes\)/],
    ["InitiatorName=iqn.1993-08.org.debian:01:a1b2c3d4e5f6\n", /the name the distribution generated; if this host was cloned/],
  ])("warns for %j", async (text, why) => {
    const h = sim();
    if (text !== null) h.put("etc/iscsi/initiatorname.iscsi", text);
    const r = await h.run(["check"]);
    expect(r.stderr).toMatch(new RegExp(`check: warning: /etc/iscsi/initiatorname.iscsi: .*${why.source}`));
  });
  it.concurrent("is quiet for a name of the host's own", async () => {
    const h = sim();
    h.put("etc/iscsi/initiatorname.iscsi", "InitiatorName=iqn.2026-11.fr.example:xen-host-7\n");
    expect((await h.run(["check"])).stderr).not.toMatch(/warning/);
  });
});

describe("several portals", () => {
  it.concurrent("logs in on every portal of the node record; status says the leg uses one path", async () => {
    const h = sim({ filer: { [IQN]: [1] } });
    h.setWorld((w) => {
      w.filer[IQN]!.portals.push("192.0.2.11:3260");
      w.portalsUp.push("192.0.2.11:3260");
      w.nodes[IQN]!.portals.push("192.0.2.11:3260");
    });
    expect((await h.run(["add", `lun1@${IQN}+my-vm-disk`])).code).toBe(0);
    expect(Object.values(h.world().sessions).map((s) => s.portal).sort()).toEqual([PORTAL, "192.0.2.11:3260"]);
    expect((await h.run(["status"])).stdout).toMatch(/one path of 2: the iSCSI leg uses the lowest session's device \(no multipath\)/);
    expect((await h.run(["remove", `lun1@${IQN}+my-vm-disk`])).code).toBe(0);
    expect(h.leftovers()).toEqual([]);
  });
});
