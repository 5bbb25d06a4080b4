// open-iscsi's node records are shared with every other user of the host: a discovery must never
// rewrite another target's record (it held the CHAP credentials we wrote), and every login writes
// the credentials it needs first. The fake iscsiadm rewrites records on a discovery without
// `-o new` as open-iscsi does (idbm_add_node with overwrite): see fakehost/tools.ts.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { IQN, IQN2, PORTAL } from "./simhost";
import { nodeRecordText } from "./fakehost/tools";
import { useSimHosts } from "./use-sim";

const sim = useSimHosts();
const CHAP_FILE = "etc/xen/scripts/block-iscsimple-chap.conf";
const PASS1 = "first-Pa55w0rd";
const PASS2 = "second-Pa55w0rd";
const CHAPS = `[${IQN}]\nusername = host1\npassword = ${PASS1}\n[${IQN2}]\nusername = host2\npassword = ${PASS2}\n`;

/** Two CHAP targets on one portal, no node records yet: each first add discovers its target. */
function twoTargets(): ReturnType<typeof sim> {
  const h = sim({ filer: { [IQN]: [1], [IQN2]: [3] }, nodes: false, config: `[iscsi]\nportals = ${PORTAL}\n` });
  h.setWorld((w) => {
    w.filer[IQN]!.chap = { user: "host1", pass: PASS1 };
    w.filer[IQN2]!.chap = { user: "host2", pass: PASS2 };
  });
  h.put(CHAP_FILE, CHAPS, 0o600);
  return h;
}

describe("discovery never changes another target's node records", () => {
  it.concurrent("the add of a second target on the same portal leaves the first's record (its CHAP password) as it was", async () => {
    const h = twoTargets();
    const be1 = h.backend(4, 51712, `lun1@${IQN}+my-vm-disk`);
    expect((await h.run(["add"], { xenbus: be1 })).code).toBe(0);
    expect(h.nodeSettings(IQN)["node.session.auth.password"]).toBe(PASS1);
    const records = (): string =>
      readdirSync(h.file(`etc/iscsi/nodes/${IQN}`), { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => `${e.parentPath}/${e.name}:${readFileSync(`${e.parentPath}/${e.name}`, "utf8")}`)
        .join("|");
    const before = records();
    const be2 = h.backend(5, 51712, `lun3@${IQN2}`);
    const r = await h.run(["add"], { xenbus: be2 });
    expect(r.code, r.stderr).toBe(0);
    // the discovery asked for new records only
    expect(h.calls().filter((c) => c.includes(" -m discovery ")).every((c) => c.endsWith(" -o new"))).toBe(true);
    expect(records()).toBe(before);
    expect(h.nodeSettings(IQN)["node.session.auth.password"]).toBe(PASS1);
  });

  it.concurrent("discover with discovery CHAP keeps no record it did not have before (no node record, no discovery record)", async () => {
    const h = twoTargets();
    h.setWorld((w) => {
      w.discoveryChap = { user: "disc", pass: "discsecret1" };
    });
    h.put(CHAP_FILE, `[discovery]\nusername = disc\npassword = discsecret1\n${CHAPS}`, 0o600);
    const r = await h.run(["discover", PORTAL]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(IQN2);
    expect(Object.keys(h.world().nodes)).toEqual([]);
    for (const iqn of [IQN, IQN2]) expect(existsSync(h.file(`etc/iscsi/nodes/${iqn}`))).toBe(false);
    expect(existsSync(h.file("etc/iscsi/send_targets/192.0.2.10,3260"))).toBe(false);
  });

  it.concurrent("discover keeps a discovery record the administrator had", async () => {
    const h = twoTargets();
    h.setWorld((w) => {
      w.discoveryChap = { user: "disc", pass: "discsecret1" };
    });
    h.put(CHAP_FILE, `[discovery]\nusername = disc\npassword = discsecret1\n${CHAPS}`, 0o600);
    h.put("etc/iscsi/send_targets/192.0.2.10,3260/st_config", "discovery.sendtargets.address = 192.0.2.10\n", 0o600);
    expect((await h.run(["discover", PORTAL])).code).toBe(0);
    expect(existsSync(h.file("etc/iscsi/send_targets/192.0.2.10,3260/st_config"))).toBe(true);
    expect(Object.keys(h.world().nodes)).toEqual([]);
  });
});

describe("every login writes the CHAP credentials first", () => {
  it.concurrent("heal's new login after someone rewrote the record (its password gone): the credentials are written again, the login works", async () => {
    const h = twoTargets();
    const be = h.backend(4, 51712, `lun1@${IQN}+my-vm-disk`);
    expect((await h.run(["add"], { xenbus: be })).code).toBe(0);
    h.finishRecovery("my-vm-disk");
    h.failLeg("my-vm-disk", "iscsi");
    // an iscsiadm discovery without -o (by someone else) rewrote the record from iscsid.conf's defaults
    rmSync(h.file(`etc/iscsi/nodes/${IQN}`), { recursive: true, force: true });
    const f = h.file(`etc/iscsi/nodes/${IQN}/192.0.2.10,3260,1/default`);
    mkdirSync(f.replace(/\/default$/, ""), { recursive: true });
    writeFileSync(f, `${nodeRecordText(IQN, PORTAL)}\n`);
    // iscsid gave the session up: heal logs out and in again
    h.sessionState(IQN, "FREE");
    const r = await h.run(["heal", "my-vm-disk"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/re-added the iSCSI leg/);
    expect(h.nodeSettings(IQN)["node.session.auth.password"]).toBe(PASS1);
    expect(h.calls().filter((c) => c.includes("auth."))).toEqual([]);
  });

  it.concurrent("node records kept as flat files (nodes/IQN/ADDRESS,PORT, which open-iscsi still reads) get the credentials", async () => {
    const h = sim({ filer: { [IQN]: [1] } });
    h.setWorld((w) => {
      w.filer[IQN]!.chap = { user: "host1", pass: PASS1 };
    });
    h.put(CHAP_FILE, CHAPS, 0o600);
    rmSync(h.file(`etc/iscsi/nodes/${IQN}`), { recursive: true, force: true });
    h.put(`etc/iscsi/nodes/${IQN}/192.0.2.10,3260`, `${nodeRecordText(IQN, PORTAL)}\n`, 0o600);
    const r = await h.run(["add", `lun1@${IQN}+my-vm-disk`]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(h.file(`etc/iscsi/nodes/${IQN}/192.0.2.10,3260`), "utf8")).toContain(`node.session.auth.password = ${PASS1}`);
  });
});
