// The state store on a real temporary folder: its files go through safe-files, which works inside
// the folder it writes to (chdir), so an in-memory file system cannot stand in for it.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { pathsUnder } from "../../src/host/paths";
import { StateStore } from "../../src/host/state-store";

const record = {
  id: "vbd-3-51712", spec: "lun0@iqn.2014-06.fr.example:x", iqn: "iqn.2014-06.fr.example:x", lun: 0, label: null, writable: true,
  owner: { kind: "manual" as const }, pid: 1, started: "", claimsTarget: false, claimsArray: false, children: [],
  iscsi: null, local: null, md: null, device: null, devicePath: null,
};

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});
function host(): { root: string; run: string; store: StateStore } {
  const root = mkdtempSync(path.join(os.tmpdir(), "bistate-"));
  roots.push(root);
  return { root, run: path.join(root, "run/block-iscsimple"), store: new StateStore(pathsUnder(root)) };
}

describe("StateStore", () => {
  it("creates /run/block-iscsimple 0700 and tightens a loose one", async () => {
    const h = host();
    mkdirSync(h.run, { recursive: true });
    chmodSync(h.run, 0o755);
    await h.store.ensure();
    expect(statSync(h.run).mode & 0o777).toBe(0o700);
    expect(existsSync(path.join(h.run, "attach"))).toBe(true);
  });
  it("writes, lists and deletes records atomically", async () => {
    const h = host();
    await h.store.ensure();
    await h.store.putAttachment(record);
    expect(await h.store.getAttachment(record.id)).toEqual(record);
    expect(readdirSync(path.join(h.run, "attach"))).toEqual(["vbd-3-51712.json"]);
    expect(await h.store.attachments()).toHaveLength(1);
    await h.store.deleteAttachment(record.id);
    expect(await h.store.attachments()).toEqual([]);
  });
  it("drops the temporary files of a writer that died before its rename, and only those", async () => {
    const h = host();
    const dead = spawnSync("true").pid;
    mkdirSync(path.join(h.run, "attach"), { recursive: true, mode: 0o700 });
    writeFileSync(path.join(h.run, `attach/.vbd-3-51712.json.${dead}.0a1b2c3d4e5f.tmp`), "{");
    writeFileSync(path.join(h.run, `attach/.vbd-4-51712.json.${process.pid}.0a1b2c3d4e5f.tmp`), "{");
    writeFileSync(path.join(h.run, `lock-key.${dead}.0a1b2c3d.tmp`), "{}");
    await h.store.ensure();
    expect(readdirSync(path.join(h.run, "attach"))).toEqual([`.vbd-4-51712.json.${process.pid}.0a1b2c3d4e5f.tmp`]);
    expect(readdirSync(h.run).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });
  it("refuses a record id that could leave the directory", async () => {
    await expect(host().store.putAttachment({ ...record, id: "../../etc/passwd" })).rejects.toThrow(/unsafe state file name/);
  });
});
