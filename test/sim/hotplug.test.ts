import { describe, expect, it } from "vitest";
import { IQN } from "./simhost";
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
