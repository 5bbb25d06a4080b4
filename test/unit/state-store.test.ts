import { fs as memfs, vol } from "memfs";
import { spawnSync } from "node:child_process";
import { beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("node:fs/promises", () => ({ ...memfs.promises, default: memfs.promises }));
vi.mock("node:fs", () => ({ ...memfs, default: memfs }));

const { StateStore } = await import("../../src/host/state-store");
const { pathsUnder } = await import("../../src/host/paths");

const record = {
  id: "vbd-3-51712", spec: "lun0@iqn.2014-06.fr.example:x", iqn: "iqn.2014-06.fr.example:x", lun: 0, label: null, writable: true,
  owner: { kind: "manual" as const }, pid: 1, started: "", claimsTarget: false, claimsArray: false, children: [],
  iscsi: null, local: null, md: null, device: null, devicePath: null,
};

describe("StateStore (memfs)", () => {
  beforeEach(() => vol.reset());
  const store = () => new StateStore(pathsUnder("/host"));

  it("creates /run/block-iscsimple 0700 and tightens a loose one", async () => {
    vol.mkdirSync("/host/run/block-iscsimple", { recursive: true, mode: 0o755 });
    await store().ensure();
    expect(vol.statSync("/host/run/block-iscsimple").mode & 0o777).toBe(0o700);
    expect(vol.existsSync("/host/run/block-iscsimple/attach")).toBe(true);
  });
  it("writes, lists and deletes records atomically", async () => {
    const s = store();
    await s.ensure();
    await s.putAttachment(record);
    expect(await s.getAttachment(record.id)).toEqual(record);
    expect(vol.readdirSync("/host/run/block-iscsimple/attach")).toEqual(["vbd-3-51712.json"]);
    expect(await s.attachments()).toHaveLength(1);
    await s.deleteAttachment(record.id);
    expect(await s.attachments()).toEqual([]);
  });
  it("drops the temporary files of a writer that died before its rename, and only those", async () => {
    const dead = spawnSync("true").pid;
    vol.mkdirSync("/host/run/block-iscsimple/attach", { recursive: true, mode: 0o700 });
    vol.writeFileSync(`/host/run/block-iscsimple/attach/vbd-3-51712.json.${dead}.tmp`, "{");
    vol.writeFileSync(`/host/run/block-iscsimple/attach/vbd-4-51712.json.${process.pid}.tmp`, "{");
    vol.writeFileSync(`/host/run/block-iscsimple/lock-key.${dead}.0a1b2c3d.tmp`, "{}");
    await store().ensure();
    expect(vol.readdirSync("/host/run/block-iscsimple/attach")).toEqual([`vbd-4-51712.json.${process.pid}.tmp`]);
    expect((vol.readdirSync("/host/run/block-iscsimple") as string[]).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });
  it("refuses a record id that could leave the directory", async () => {
    await expect(store().putAttachment({ ...record, id: "../../etc/passwd" })).rejects.toThrow(/unsafe state file name/);
  });
});
