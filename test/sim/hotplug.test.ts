import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { startFakeXenstored, worldStore } from "./fakehost/xenstored";
import { IQN, waitFor } from "./simhost";
import { useSimHosts } from "./use-sim";

const sim = useSimHosts();

describe("hotplug: the seed's two-LUN VM", () => {
  it("adds lun0 and lun1 of one target in parallel, writes hex physical-device, removes in either order", async () => {
    for (const order of [[0, 1], [1, 0]]) {
      const h = sim();
      const be = [h.backend(3, 51714, `lun0@${IQN}+my-vm-disk`), h.backend(3, 51730, `lun1@${IQN}+my-vm-data`)];
      const res = await Promise.all(be.map((b) => h.run(["add"], { xenbus: b })));
      for (const r of res) expect(r, r.stderr).toMatchObject({ code: 0 });
      const w = h.world();
      expect(Object.keys(w.sessions)).toHaveLength(1);
      expect(Object.keys(w.md).sort()).toEqual(["md126", "md127"]);
      for (const b of be) {
        const pd = h.xs(`${b}/physical-device`);
        expect(pd).toMatch(/^9:7[ef]$/);
        expect(h.xs(`${b}/hotplug-status`)).toBe("connected");
        const md = Object.entries(w.md).find(([, a]) => a.label === h.xs(`${b}/physical-device-path`)?.split("/").pop());
        expect(md, `array for ${b}`).toBeDefined();
        expect(pd).toBe(`9:${Number(md![0].slice(2)).toString(16)}`);
        const legs = md![1].members.map((m) => m.state);
        expect(legs).toEqual(["in_sync,write_mostly", "spare"]);
      }
      const first = await h.run(["remove"], { xenbus: be[order[0]!]! });
      expect(first.code, first.stderr).toBe(0);
      expect(Object.keys(h.world().sessions)).toHaveLength(1);
      const second = await h.run(["remove"], { xenbus: be[order[1]!]! });
      expect(second.code, second.stderr).toBe(0);
      expect(h.leftovers()).toEqual([]);
    }
  });
});

describe("hotplug: xenstore through xenstored's socket", () => {
  it("add and remove speak to xenstored directly (no xenstore-* process), publish in one transaction, and report an error the same way", async () => {
    const h = sim();
    const xsd = await startFakeXenstored(h.file("var/run/xenstored/socket"), worldStore(h.root));
    try {
      const be = h.backend(3, 51714, `lun0@${IQN}+my-vm-disk`);
      const r = await h.run(["add"], { xenbus: be });
      expect(r.code, r.stderr).toBe(0);
      expect(h.xs(`${be}/physical-device`)).toBe("9:7f");
      expect(h.xs(`${be}/physical-device-path`)).toBe(h.file("dev/md/my-vm-disk"));
      expect(h.xs(`${be}/hotplug-status`)).toBe("connected");
      // the three keys libxl waits for were written in one transaction (id 1 of this xenstored)
      expect(xsd.requests.filter((q) => q.startsWith("11 ")).map((q) => q.replace(/ \/local\/domain\/0\/| backend/, " backend"))).toEqual([
        `11 1 ${be}/physical-device`,
        `11 1 ${be}/physical-device-path`,
        `11 1 ${be}/hotplug-status`,
      ]);
      const bad = h.backend(3, 51730, `lun1@${IQN}+no-such-label`);
      const f = await h.run(["add"], { xenbus: bad });
      expect(f.code).toBe(1);
      expect(h.xs(`${bad}/hotplug-error`)).toMatch(/^block-iscsimple: .*no-such-label/);
      expect(h.xs(`${bad}/hotplug-status`)).toBe("error");
      expect((await h.run(["remove"], { xenbus: bad })).code).toBe(0);
      expect((await h.run(["remove"], { xenbus: be })).code).toBe(0);
      expect(h.leftovers()).toEqual([]);
      expect(h.calls().filter((c) => c.startsWith("xenstore"))).toEqual([]);
      expect(readFileSync(h.file("var/log/xen/xen-hotplug.log"), "utf8")).toMatch(/xenstore write backend\/vbd\/3\/51714\/physical-device .*: done in \d+ ms/);
    } finally {
      await xsd.close();
    }
  });
});

describe("hotplug: the target lock", () => {
  it("is held for the login, not while the LUN's device is awaited: the next disk of the target goes on meanwhile", async () => {
    // the LUNs' devices appear 6 s after the login: the first add waits for its device then
    const h = sim({ deviceDelayMs: 6000 });
    const be = [h.backend(3, 51714, `lun0@${IQN}+my-vm-disk`), h.backend(3, 51730, `lun1@${IQN}+my-vm-data`)];
    const first = h.run(["add"], { xenbus: be[0] });
    await waitFor(() => Object.keys(h.world().sessions).length > 0);
    const second = h.run(["add"], { xenbus: be[1] });
    for (const r of await Promise.all([first, second])) expect(r.code, r.stderr).toBe(0);
    const log = readFileSync(h.file("var/log/xen/xen-hotplug.log"), "utf8").split("\n");
    const at = (re: RegExp): number => log.findIndex((l) => re.test(l));
    // the second add claimed the target (under its lock) before the first found its LUN
    const secondClaims = at(new RegExp(`add ${be[1]}: claim ${IQN}`));
    const firstFound = at(new RegExp(`add ${be[0]}: lun0 of ${IQN} is `));
    expect(secondClaims).toBeGreaterThan(-1);
    expect(firstFound).toBeGreaterThan(-1);
    expect(secondClaims).toBeLessThan(firstFound);
    expect((await h.run(["remove"], { xenbus: be[0] })).code).toBe(0);
    expect((await h.run(["remove"], { xenbus: be[1] })).code).toBe(0);
    expect(h.leftovers()).toEqual([]);
  });
});
