// A LUN is known by its WWID, never by its number: nothing copies the local leg over a LUN that
// cannot be proven the volume the array had (issue: heal re-added whatever answered at lunN, and md
// overwrote another VM's volume mapped there meanwhile).
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseSpec } from "../../src/core/spec";
import { attach } from "../../src/engine/attach";
import { monitor } from "../../src/engine/monitor";
import { requestFor } from "../../src/engine/request";
import { Budget } from "../../src/host/clock";
import { inProcess } from "./inproc";
import { IQN, SimHost, waitFor } from "./simhost";
import { useSimHosts } from "./use-sim";

const sim = useSimHosts();
const SPEC = `lun1@${IQN}+my-vm-disk`;
const guardFile = (h: SimHost): string => h.file("var/lib/block-iscsimple/stale/my-vm-disk.json");
const log = (h: SimHost): string => (existsSync(h.file("var/log/xen/xen-hotplug.log")) ? readFileSync(h.file("var/log/xen/xen-hotplug.log"), "utf8") : "");
/** The mdadm --add calls of an iSCSI path device (sdX) or a multipath map so far. */
const iscsiAdds = (h: SimHost): string[] => h.calls().filter((c) => /^mdadm \S+ --add \S+\/dev\/(sd|dm-|mapper\/)/.test(c));

/** xl attached the mirror; md built it; then md failed its iSCSI leg; the target's session is back. */
async function legLost(h: SimHost): Promise<{ be: string; wwid: string }> {
  const be = h.backend(4, 51712, SPEC);
  const r = await h.run(["add"], { xenbus: be });
  expect(r.code, r.stderr).toBe(0);
  const rec = JSON.parse(readFileSync(h.file("run/block-iscsimple/attach/vbd-4-51712.json"), "utf8")) as { iscsiWwid: string | null };
  // the attachment names its LUN by the WWID the kernel gave (multipath's form)
  expect(rec.iscsiWwid).toBe(h.lunWwid(IQN, 1));
  h.finishRecovery("my-vm-disk");
  h.failLeg("my-vm-disk", "iscsi");
  h.sessionState(IQN, "LOGGED_IN");
  return { be, wwid: rec.iscsiWwid as string };
}

describe("heal and the monitor copy to a LUN only when it is the LUN the array had", () => {
  it.concurrent("the filer maps another volume at lun1: heal refuses (exit 3, both WWIDs and the label), adds nothing, keeps the guard", async () => {
    const h = sim();
    const { wwid } = await legLost(h);
    h.mapVolume(IQN, 1, "another-vm-volume");
    const other = h.lunWwid(IQN, 1);
    expect(other).not.toBe(wwid);
    const before = iscsiAdds(h).length;
    const r = await h.run(["heal", "my-vm-disk"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`label 'my-vm-disk': refusing to copy the local leg over lun1 of ${IQN}`);
    expect(r.stderr).toContain(`its WWID is now ${other}, the array had WWID ${wwid}`);
    expect(iscsiAdds(h).length).toBe(before);
    expect(h.legs("my-vm-disk")).toEqual(["iscsi:faulty", "local:in_sync"]);
    expect(existsSync(guardFile(h))).toBe(true);
    // the kernel was made to read the identity again (a session that recovered shows what it read before)
    const lun1 = Object.entries(h.world().disks).find(([, d]) => d.lun === 1)![0];
    expect(readFileSync(h.file(`sys/block/${lun1}/device/rescan`), "utf8")).toBe("1\n");
  });

  it.concurrent("a LUN whose WWID cannot be read is not proof: refused the same way", async () => {
    const h = sim();
    await legLost(h);
    for (const name of Object.keys(h.world().disks)) rmSync(h.file(`sys/block/${name}/device/wwid`));
    const r = await h.run(["heal", "my-vm-disk"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/refusing to copy the local leg over lun1 .*: its WWID cannot be read, so nothing proves it is the volume the array had/);
    expect(h.legs("my-vm-disk")).toEqual(["iscsi:faulty", "local:in_sync"]);
  });

  it.concurrent("the same volume back at lun1: heal re-adds it (the control case)", async () => {
    const h = sim();
    await legLost(h);
    const r = await h.run(["heal", "my-vm-disk"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/re-added the iSCSI leg/);
  });

  it.concurrent("the monitor refuses too, and says it once per change at syslog's crit priority, not every round", async () => {
    const h = sim({ config: "[monitor]\ninterval = 1\n" });
    const { wwid } = await legLost(h);
    h.mapVolume(IQN, 1, "another-vm-volume");
    const child = h.start(["monitor"]);
    try {
      const crit = (): string[] => log(h).split("\n").filter((l) => / crit: monitor: my-vm-disk: not healed: .*refusing to copy the local leg/.test(l));
      await waitFor(() => crit().length === 1, 30_000);
      // rounds go on (each looks at the array and tries again): the monitor records each round
      const rounds = (): number => (JSON.parse(readFileSync(h.file("run/block-iscsimple/monitor.json"), "utf8")) as { rounds: number }).rounds;
      const seen = rounds();
      await waitFor(() => rounds() >= seen + 3, 30_000);
      expect(crit()).toHaveLength(1);
      expect(crit()[0]).toContain(`the array had WWID ${wwid}`);
      expect(h.legs("my-vm-disk")).toEqual(["iscsi:faulty", "local:in_sync"]);
      expect(existsSync(guardFile(h))).toBe(true);
      // the right volume is mapped back: the monitor heals
      h.mapVolume(IQN, 1, `${IQN}#1`);
      await waitFor(() => h.legs("my-vm-disk")[0] === "iscsi:spare", 30_000);
    } finally {
      child.kill("SIGTERM");
    }
  });
});

describe("an add built from the local leg (the guard set, --prefer-local) checks the LUN's WWID", () => {
  /** The array was stopped while its iSCSI leg was faulty: the guard names the LUN by its WWID. */
  async function guarded(h: SimHost): Promise<string> {
    const { be, wwid } = await legLost(h);
    expect((await h.run(["remove"], { xenbus: be })).code).toBe(0);
    const g = JSON.parse(readFileSync(guardFile(h), "utf8")) as { wwid: string };
    expect(g.wwid).toBe(wwid);
    return wwid;
  }

  it.concurrent("another volume at lun1: add --prefer-local refuses (exit 3), changes nothing, keeps the guard", async () => {
    const h = sim();
    const wwid = await guarded(h);
    h.mapVolume(IQN, 1, "another-vm-volume");
    const r = await h.run(["add", "--prefer-local", SPEC]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`the guard is about the LUN with WWID ${wwid}, this add found WWID ${h.lunWwid(IQN, 1)}`);
    expect(r.stderr).toContain("direction guard of my-vm-disk");
    expect(h.leftovers()).toEqual([]);
    expect(existsSync(guardFile(h))).toBe(true);
    // resolve --prefer-local (for xl) is refused the same way
    expect((await h.run(["resolve", "my-vm-disk", "--prefer-local"])).code).toBe(0);
    const be = h.backend(9, 51712, SPEC);
    expect((await h.run(["add"], { xenbus: be })).code).toBe(1);
    expect(h.xs(`${be}/hotplug-error`)).toContain(`this add found WWID ${h.lunWwid(IQN, 1)}`);
    expect(h.leftovers()).toEqual([]);
  });

  it.concurrent("a LUN without a readable WWID: add --prefer-local and --prefer-iscsi refuse", async () => {
    const h = sim();
    await guarded(h);
    // the kernel gives no WWID for the LUN (its devices appear without one)
    h.setWorld((w) => {
      w.noWwid = true;
    });
    for (const flag of ["--prefer-local", "--prefer-iscsi"]) {
      const r = await h.run(["add", flag, SPEC]);
      expect(r.code, flag).toBe(3);
      expect(r.stderr).toMatch(/the WWID of the LUN this add found cannot be read: nothing proves it is the same volume/);
      expect(h.leftovers()).toEqual([]);
    }
    expect(existsSync(guardFile(h))).toBe(true);
  });

  it.concurrent("the same volume: add --prefer-local builds from the local leg (the control case)", async () => {
    const h = sim();
    await guarded(h);
    const r = await h.run(["add", "--prefer-local", SPEC]);
    expect(r.code, r.stderr).toBe(0);
    expect(iscsiAdds(h).at(-1)).toMatch(/--add \S+\/dev\/sd\S+$/);
  });
});

describe("no proof, no copy", () => {
  it.concurrent("a guard that recorded no WWID for its LUN: add --prefer-local refuses (exit 3); --prefer-iscsi still discards the local data on request", async () => {
    const h = sim();
    h.put(
      "var/lib/block-iscsimple/stale/my-vm-disk.json",
      JSON.stringify({ label: "my-vm-disk", spec: SPEC, since: "2026-12-01T10:00:00Z", reason: "the iSCSI leg was faulty", iqn: IQN, lun: 1, wwid: null, local: null }),
      0o600,
    );
    const r = await h.run(["add", "--prefer-local", SPEC]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/recorded no WWID for lun1@\S+: nothing proves that the LUN this add found is that volume/);
    expect(h.leftovers()).toEqual([]);
    expect((await h.run(["add", "--prefer-iscsi", SPEC])).code).toBe(0);
  });

  it.concurrent("an add that joins a session in recovery records no WWID (what the kernel read long ago is no proof)", async () => {
    const h = sim();
    expect((await h.run(["add", `lun0@${IQN}`])).code).toBe(0);
    h.sessionState(IQN, "FAILED");
    const r = await h.run(["add", SPEC]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/its session is not logged in: its WWID cannot be read anew, none is recorded/);
    const rec = JSON.parse(readFileSync(h.file("run/block-iscsimple/attach/manual-label-my-vm-disk.json"), "utf8")) as { iscsiWwid: string | null };
    expect(rec.iscsiWwid).toBeNull();
  });
});

describe("a multipath map as the iSCSI leg", () => {
  it.concurrent("heal checks the map's WWID and its paths': a map over another volume is refused", async () => {
    const h = sim({ multipath: {} });
    const { wwid } = await legLost(h);
    // multipathd's map now carries another volume's WWID (the paths' too: the filer remapped the LUN)
    h.mapVolume(IQN, 1, "another-vm-volume");
    h.setWorld((w) => {
      for (const m of Object.values(w.mpath?.maps ?? {})) m.wwid = `3${"0".repeat(31)}9`;
    });
    for (const [kn] of Object.entries(h.world().mpath?.maps ?? {})) writeFileSync(h.file(`sys/block/${kn}/dm/uuid`), `mpath-3${"0".repeat(31)}9\n`);
    const r = await h.run(["heal", "my-vm-disk"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`the array had WWID ${wwid}`);
    expect(r.stderr).toMatch(/over lun1 of \S+ \(\/dev\/mapper\/mpath[a-z]\)/);
    expect(h.legs("my-vm-disk")).toEqual(["iscsi:faulty", "local:in_sync"]);
  });

  it.concurrent("a map whose own WWID is the recorded one but whose path now answers with another is refused", async () => {
    const h = sim({ multipath: {} });
    await legLost(h);
    h.mapVolume(IQN, 1, "another-vm-volume");
    const r = await h.run(["heal", "my-vm-disk"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`its WWID is now ${h.lunWwid(IQN, 1)}`);
  });
});

describe("the guard is cleared only under the label's lock, with the health read there", () => {
  it("md fails the iSCSI leg (its event finds the guard still set) right before the monitor clears it: the guard stays", async () => {
    const p = inProcess();
    try {
      const spec = parseSpec(SPEC);
      const req = await requestFor(p.ctx, { spec, owner: { kind: "manual" }, writable: true }, true);
      const res = await attach(p.host, req, new Budget(30_000, null));
      p.sim.finishRecovery("my-vm-disk");
      // the guard heal wrote while the iSCSI leg was rebuilt; the leg is in sync now
      await p.host.guard.mark({ label: "my-vm-disk", spec: res.record.spec, reason: "the iSCSI leg is being rebuilt from the local leg", iqn: IQN, lun: 1, wwid: res.record.iscsiWwid ?? null, local: null });
      const clear = p.host.guard.clear.bind(p.host.guard);
      p.host.guard.clear = async (label: string) => {
        // between the monitor's read of the health and its clear, md fails the leg again
        p.sim.failLeg("my-vm-disk", "iscsi");
        return clear(label);
      };
      await monitor(p.host, p.ctx.config, { once: true, stop: () => true, inputsOf: () => ({ localPath: null, chap: null }) });
      expect(existsSync(guardFile(p.sim))).toBe(true);
      expect((JSON.parse(readFileSync(guardFile(p.sim), "utf8")) as { reason: string }).reason).toMatch(/the iSCSI leg was faulty right after its guard was cleared/);
    } finally {
      p.sim.cleanup();
    }
  });
});
