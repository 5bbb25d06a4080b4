import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { iscsiadm, multipath } from "../../src/core/commands";
import { describe, expect, it } from "vitest";
import { IQN, PORTAL, type MultipathOptions } from "./simhost";
import { useSimHosts } from "./use-sim";

const sim = useSimHosts();
const SPEC = `lun1@${IQN}+my-vm-disk`;
const PORTAL2 = "192.0.2.11:3260";

/** A target with portals on two SAN subnets, and multipath-tools as given. */
function twoPaths(multipath: MultipathOptions | undefined, config?: string) {
  const h = sim({ filer: { [IQN]: [1] }, multipath, config });
  h.setWorld((w) => {
    w.filer[IQN]!.portals.push(PORTAL2);
    w.portalsUp.push(PORTAL2);
    w.nodes[IQN]!.portals.push(PORTAL2);
  });
  return h;
}
const log = (h: ReturnType<typeof sim>): string => readFileSync(h.file("var/log/xen/xen-hotplug.log"), "utf8");
/** The fake's call log: "TOOL VERB ARGS..." (the verb is repeated in ARGS). */
const idx = (h: ReturnType<typeof sim>, prefix: string): number => h.calls().findIndex((c) => c.startsWith(prefix));

describe("multipath", () => {
  it.concurrent("uses multipathd's map as the iSCSI leg; remove flushes the map, then logs out", async () => {
    const h = twoPaths({});
    const be = h.backend(3, 51714, SPEC);
    const r = await h.run(["add"], { xenbus: be });
    expect(r.code, r.stderr).toBe(0);
    const w = h.world();
    expect(Object.values(w.sessions)).toHaveLength(2);
    const map = Object.values(w.mpath!.maps)[0]!;
    expect(map.paths).toHaveLength(2);
    // md's iSCSI member is the map (major 252 in the simulation), not one of its paths
    expect(Object.values(w.md)[0]!.members.map((m) => `${m.major}:${m.minor}`)).toContain("252:0");
    expect(log(h)).toMatch(/is the multipath map \/dev\/mapper\/mpatha \(fc:0, WWID 36\w+\) over sd\w, sd\w/);
    const st = (await h.run(["status"])).stdout;
    expect(st).toMatch(/iSCSI {4}\/dev\/mapper\/mpatha, session 1, 2/);
    expect(st).toMatch(/multipath map mpatha \(WWID 36\w+\), fails I\/O when no path is left/);
    expect(st.match(/^ {4}path {3}sd\w session \d LOGGED_IN$/gm)).toHaveLength(2);
    expect(st).not.toMatch(/no multipath/);
    expect((await h.run(["remove"], { xenbus: be })).code).toBe(0);
    expect(idx(h, h.argv(multipath.flush("mpatha")))).toBeGreaterThan(idx(h, "mdadm --stop "));
    expect(idx(h, h.argv(iscsiadm.logout(IQN)))).toBeGreaterThan(idx(h, "multipath -f"));
    expect(h.leftovers()).toEqual([]);
  });

  it.concurrent("a map whose WWID is not the LUN's path's is refused before anything is copied (another volume at that LUN number)", async () => {
    const h = twoPaths({});
    h.setWorld((w) => {
      w.mpath!.otherWwid = `3${"0".repeat(31)}7`;
    });
    const r = await h.run(["add", SPEC]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/lun1 of \S+ is \/dev\/sd\w \(WWID 36\w+\), but the multipath map mpatha \(WWID 30{31}7\) over .* names another volume/);
    expect(h.calls().filter((c) => c.startsWith("mdadm --build"))).toEqual([]);
    expect(h.leftovers()).toEqual([]);
  });

  it.concurrent("a path udev has not recorded yet: settles udev, asks again, then uses the map", async () => {
    const h = twoPaths({ claim: "after-settle" });
    const r = await h.run(["add", SPEC]);
    expect(r.code, r.stderr).toBe(0);
    const calls = h.calls();
    expect(calls.filter((c) => c.startsWith("multipath -c"))).toHaveLength(2);
    expect(idx(h, "udevadm settle")).toBeGreaterThan(idx(h, "multipath -c"));
    expect(Object.values(h.world().md)[0]!.members.map((m) => m.major)).toContain(252);
  });

  it.concurrent("a LUN without a mirror: the guest gets the map", async () => {
    const h = twoPaths({});
    const be = h.backend(3, 51713, `lun1@${IQN}`);
    expect((await h.run(["add"], { xenbus: be })).code).toBe(0);
    expect(h.xs(`${be}/physical-device`)).toBe("fc:0");
    expect(h.xs(`${be}/physical-device-path`)).toMatch(/\/dev\/mapper\/mpatha$/);
    expect((await h.run(["remove"], { xenbus: be })).code).toBe(0);
    expect(h.leftovers()).toEqual([]);
  });

  it.concurrent.each([
    ["on", ""],
    ["-", "1 queue_if_no_path"],
  ])("a map that queues forever (queueing %s, features %j) is made to fail I/O", async (queueing, features) => {
    const h = twoPaths({ queueing, features });
    const r = await h.run(["add", SPEC]);
    expect(r.code, r.stderr).toBe(0);
    expect(h.calls()).toContain(h.argv(multipath.disableQueueing("mpatha")));
    expect(Object.values(h.world().mpath!.maps)[0]!.queueing).toBe("off");
    expect(log(h)).toMatch(/mpatha queues I\/O forever when no path is left .*: queueing disabled on it/);
    expect((await h.run(["remove", SPEC])).code).toBe(0);
    expect(h.leftovers()).toEqual([]);
  });

  it.concurrent("a bounded no_path_retry is left as it is", async () => {
    const h = twoPaths({ queueing: "12 chk" });
    expect((await h.run(["add", SPEC])).code).toBe(0);
    expect(h.calls().some((c) => c.startsWith("multipathd disablequeueing"))).toBe(false);
    expect((await h.run(["status"])).stdout).toMatch(/queues I\/O for 12 path checks when no path is left, then fails it/);
  });

  it.concurrent("[multipath] queueing = warn only warns", async () => {
    const h = twoPaths({ queueing: "on" }, "[multipath]\nqueueing = warn\n");
    const r = await h.run(["add", SPEC]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: multipath map mpatha queues I\/O forever .*set no_path_retry to a number/);
    expect(h.calls().some((c) => c.startsWith("multipathd disablequeueing"))).toBe(false);
  });

  it.concurrent("when queueing cannot be disabled, the add fails and leaves nothing (map flushed, logged out)", async () => {
    const h = twoPaths({ queueing: "on", stuck: true });
    const be = h.backend(3, 51714, SPEC);
    const r = await h.run(["add"], { xenbus: be });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/queues I\/O forever .*disablequeueing did not change it/);
    expect((await h.run(["remove"], { xenbus: be })).code).toBe(0);
    expect(h.leftovers()).toEqual([]);
  });

  it.concurrent("multipath claims the path but multipathd builds no map: a clear error after [multipath] wait", async () => {
    const h = twoPaths({ buildMaps: false }, "[multipath]\nwait = 1\n");
    const r = await h.run(["add", SPEC]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/multipath claims \/dev\/sd\w \(multipath -c\) but multipathd built no map for it within 1 s: is multipathd running\?/);
    expect(h.leftovers()).toEqual([]);
  });

  it.concurrent("a path multipath does not claim (blacklist, find_multipaths): one path, said in status", async () => {
    const h = twoPaths({ claim: false });
    expect((await h.run(["add", SPEC])).code).toBe(0);
    expect(log(h)).toMatch(/is one path of 2: multipath does not claim it/);
    expect((await h.run(["status"])).stdout).toMatch(/one path of 2: .*\(no multipath\)/);
    expect(h.calls().some((c) => c.startsWith("multipathd"))).toBe(false);
    expect(h.calls().filter((c) => c.startsWith("multipath -c"))).toHaveLength(2);
  });

  it.concurrent.each([
    ["multipath-tools not installed", undefined],
    ["multipathd not running", { daemon: false }],
  ])("%s: one path, said in the log, and no multipath command run", async (_, mp) => {
    const h = twoPaths(mp);
    expect((await h.run(["add", SPEC])).code).toBe(0);
    expect(log(h)).toMatch(/is one path of 2: multipathd is not running/);
    expect(h.calls().some((c) => c.startsWith("multipath") || c.startsWith("udevadm"))).toBe(false);
  });

  it.concurrent("multipathd's socket is there but the multipath command is not: one path, said in the log", async () => {
    const h = twoPaths({ claim: false });
    rmSync(path.join(h.binDir, "multipath"));
    const r = await h.run(["add", SPEC]);
    expect(r.code, r.stderr).toBe(0);
    expect(log(h)).toMatch(/is one path of 2: multipath-tools is not installed/);
  });

  it.concurrent("[multipath] use = no refuses a LUN a map holds, and changes nothing", async () => {
    const h = twoPaths({}, "[multipath]\nuse = no\n");
    const r = await h.run(["add", SPEC]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/lun1 of .* is held by the multipath map mpatha, but the config says \[multipath\] use = no/);
    expect(h.leftovers()).toEqual([]);
  });

  it.concurrent("one portal down at login: logs in on the other, warns, and goes on", async () => {
    const h = twoPaths({});
    h.setWorld((w) => { w.portalsUp = [PORTAL]; });
    const r = await h.run(["add", SPEC]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: logged in to .* on 1 of 2 portals; the others failed: .*exit 8/);
    expect(Object.values(h.world().mpath!.maps)[0]!.paths).toHaveLength(1);
  });

  it.concurrent("both portals down at login: the add fails, nothing left", async () => {
    const h = twoPaths({});
    h.setWorld((w) => { w.portalsUp = []; });
    const r = await h.run(["add", SPEC]);
    expect(r.code).toBe(1);
    expect(h.leftovers()).toEqual([]);
  });

  it.concurrent("heal re-adds the map, not one of its paths", async () => {
    const h = twoPaths({});
    expect((await h.run(["add", SPEC])).code).toBe(0);
    h.finishRecovery("my-vm-disk");
    h.failLeg("my-vm-disk", "iscsi");
    const r = await h.run(["heal", "my-vm-disk"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/re-added the iSCSI leg \/dev\/mapper\/mpatha \(write-mostly\)/);
    expect(h.legs("my-vm-disk")).toEqual(["iscsi:spare", "local:in_sync"]);
  });

  it.concurrent("a map that cannot be flushed: remove does not log out from under it; a later remove finishes", async () => {
    const h = twoPaths({});
    expect((await h.run(["add", SPEC])).code).toBe(0);
    h.faults({ "multipath -f": { exit: 1, stderr: "mpatha: map in use" } });
    const r = await h.run(["remove", SPEC]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/multipath -f mpatha failed \(exit 1\): mpatha: map in use/);
    expect(h.calls().filter((c) => c.startsWith("multipath -f"))).toHaveLength(5);
    expect(h.calls().some((c) => /^iscsiadm -m node -T \S+ --logout$/.test(c))).toBe(false);
    h.faults({});
    expect((await h.run(["remove", SPEC])).code).toBe(0);
    expect(h.leftovers()).toEqual([]);
  });

  it.concurrent("multipathd does not answer about the map: the add goes on with a warning", async () => {
    const h = twoPaths({});
    h.faults({ "multipathd show": { exit: 1, stderr: "ux_socket_connect: Connection refused" } });
    const r = await h.run(["add", SPEC]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: multipathd did not report on map mpatha: cannot check that it fails I\/O when no path is left/);
    expect((await h.run(["status"])).stdout).toMatch(/multipath map mpatha \(WWID \w+\), queueing unknown \(multipathd did not answer\)/);
  });

  it.concurrent("discover --luns flushes the maps multipathd built before it logs out again", async () => {
    const h = twoPaths({});
    const r = await h.run(["discover", "192.0.2.10", "--luns"]);
    expect(r.code, r.stderr).toBe(0);
    expect(idx(h, h.argv(multipath.flush("mpatha")))).toBeGreaterThan(-1);
    expect(idx(h, h.argv(iscsiadm.logout(IQN)))).toBeGreaterThan(idx(h, "multipath -f"));
    expect(h.leftovers()).toEqual([]);
  });

  it.concurrent("check shows the multipath commands", async () => {
    const h = twoPaths({});
    const r = await h.run(["check", SPEC]);
    expect(r.stdout).toMatch(/multipath: use auto, wait 10 s, queueing disable/);
    expect(r.stdout).toMatch(/multipath -c <lun1 of iqn[^>]+> {3}\(if it claims the path: wait up to 10 s for multipathd's map\)/);
    expect(r.stdout).toMatch(/multipathd disablequeueing map MAP {3}\(only if the map queues I\/O forever\)/);
  });
});

void PORTAL;
