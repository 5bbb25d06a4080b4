import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InputError, RefusedError } from "../../src/core/errors";
import type { Health } from "../../src/core/health";
import { checkDomainName, checkHostName, checkXlArgs, migrationRefusals, prepareArgv, targetPart, transportArgv, xlMigrateArgv, type LeavingDisk } from "../../src/core/migrate";
import { attachmentId, type AttachmentRecord, type Owner } from "../../src/core/records";
import { checkSharing } from "../../src/core/sharing";
import { parseSpec } from "../../src/core/spec";

const IQN = "iqn.2014-06.fr.example:vm-sn-1";
const xen: Owner = { kind: "xen", domid: 3, devid: 51714, backend: "/local/domain/0/backend/vbd/3/51714", vm: null };
const prepared: Owner = { kind: "prepared", until: "2026-11-23T12:00:00.000Z" };

function record(over: Partial<AttachmentRecord>): AttachmentRecord {
  return {
    id: "vbd-3-51714", spec: `lun1@${IQN}+disk`, iqn: IQN, lun: 1, label: "disk", writable: true, owner: xen, pid: 1, started: "", claimsTarget: true,
    claimsArray: true, children: [], iscsi: null, local: null, md: null, device: "9:7f", devicePath: "/dev/md/disk", ...over,
  };
}
const health = (iscsi: Health["iscsi"]["state"], progress: number | null = null): Health =>
  ({ iscsi: { state: iscsi, progress, device: null }, local: { state: "in_sync", progress: null, device: null }, current: iscsi === "in_sync" ? "both" : "local", warning: null }) as unknown as Health;
const disk = (over: Partial<LeavingDisk>): LeavingDisk => ({ record: record({}), health: health("in_sync"), guard: null, ...over });

describe("migrationRefusals: a disk leaves this host only with a current iSCSI leg", () => {
  it("lets in-sync disks and plain LUNs go, a recovering local leg included", () => {
    expect(migrationRefusals([disk({}), disk({ record: record({ label: null }), health: null })])).toEqual([]);
  });
  it("refuses a faulty, recovering or missing iSCSI leg, a set guard, a MISSING leg, an unfinished add, an array not found: naming the disk and the way out", () => {
    const r = migrationRefusals([
      disk({ health: health("faulty") }),
      disk({ health: health("recovering", 42.5) }),
      disk({ health: health("missing") }),
      disk({ guard: { label: "disk", since: "x", reason: "the iSCSI leg was faulty" } as never }),
      disk({ record: record({ iqn: null, spec: "lun0@MISSING+disk" }) }),
      disk({ record: record({ device: null }) }),
      disk({ health: null }),
    ]);
    expect(r).toEqual([
      `lun1@${IQN}+disk (51714): its iSCSI leg is faulty: the LUN is not current; run block-iscsimple heal disk --wait`,
      `lun1@${IQN}+disk (51714): its iSCSI leg is recovering 42.5%: the LUN is not current; run block-iscsimple heal disk --wait`,
      `lun1@${IQN}+disk (51714): its iSCSI leg is missing: the LUN is not current; run block-iscsimple heal disk --wait`,
      `lun1@${IQN}+disk (51714): its direction guard is set (the iSCSI leg was faulty): the iSCSI LUN is not current; run block-iscsimple heal disk --wait`,
      "lun0@MISSING+disk (51714): it has no iSCSI leg (MISSING): its data is on this host only",
      `lun1@${IQN}+disk (51714): its add did not finish`,
      `lun1@${IQN}+disk (51714): its array cannot be found`,
    ]);
  });
});

describe("the commands of a migration", () => {
  it("the transport is plain words: ssh by default, refused when empty or with shell syntax", () => {
    expect(transportArgv(undefined)).toEqual(["ssh"]);
    expect(transportArgv(" ssh  -p 2222 ")).toEqual(["ssh", "-p", "2222"]);
    for (const bad of ["", "  ", "ssh -o 'X y'", "ssh;reboot", "ssh $(x)", "ssh `x`", "a|b", "a>b"]) expect(() => transportArgv(bad), bad).toThrow(InputError);
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        try {
          for (const w of transportArgv(s)) expect(w).toMatch(/^[A-Za-z0-9_./=,:@%+-]+$/);
        } catch (e) {
          expect(e).toBeInstanceOf(InputError);
        }
      }),
      { numRuns: 2000 },
    );
  });
  it("prepare runs the installed program on the destination with the targets' parts only; xl migrate gets the user's transport and options", () => {
    expect(targetPart(record({}))).toBe(`lun1@${IQN}`);
    expect(targetPart(record({ iqn: null }))).toBeNull();
    expect(prepareArgv(["ssh", "-p", "2"], "h", 600, [`lun1@${IQN}`])).toEqual(["ssh", "-p", "2", "h", "/etc/xen/scripts/block-iscsimple", "prepare", "--keep=600", `lun1@${IQN}`]);
    expect(prepareArgv(["ssh"], "h", 600, [`lun1@${IQN}`], true)).toEqual(["ssh", "h", "/etc/xen/scripts/block-iscsimple", "prepare", "--release", `lun1@${IQN}`]);
    expect(xlMigrateArgv(undefined, [], "vm", "h")).toEqual(["xl", "migrate", "vm", "h"]);
    expect(xlMigrateArgv("ssh -p 2", ["--debug"], "vm", "h")).toEqual(["xl", "migrate", "-s", "ssh -p 2", "--debug", "vm", "h"]);
    expect(checkXlArgs(["-e", "-p", "-D", "--debug"])).toHaveLength(4);
    for (const bad of ["-C", "-s", "--x", "vm"]) expect(() => checkXlArgs([bad])).toThrow(InputError);
  });
  it("domain and host names are checked before anything runs", () => {
    for (const ok of ["vm1", "my-vm.example", "7"]) expect(checkDomainName(ok)).toBe(ok);
    for (const bad of ["", "-vm", "vm 1", "vm;1", "a".repeat(65)]) expect(() => checkDomainName(bad)).toThrow(InputError);
    for (const ok of ["host-b", "192.0.2.1", "root@host-b", "2001:db8::1", "fe80::1%eth0"]) expect(checkHostName(ok)).toBe(ok);
    // xl runs "ssh HOST xl migrate-receive" through a shell: [ ] * ? and the like would be read by it
    for (const bad of ["", "-oProxyCommand=x", "a b", "a;b", "a/b", "[2001:db8::1]", "host*", "h?st", "a$b", "a`b`", "a|b", "a&b"]) expect(() => checkHostName(bad)).toThrow(InputError);
  });
});

describe("a prepared session", () => {
  it("has its own id, and does not count as a user of the LUN: the add it waits for is not refused", () => {
    expect(attachmentId(prepared, { iqn: IQN, lun: 1, label: null })).toBe(`prepared-${IQN}-lun1`);
    const p = record({ id: `prepared-${IQN}-lun1`, owner: prepared, label: null, writable: false, claimsArray: false, spec: `lun1@${IQN}` });
    expect(() => checkSharing(parseSpec(`lun1@${IQN}+disk`), true, xen, "vbd-3-51714", [p])).not.toThrow();
    // a read-only user that is a domain still refuses a writable add
    expect(() => checkSharing(parseSpec(`lun1@${IQN}`), true, xen, "vbd-3-51714", [{ ...p, id: "vbd-4-1", owner: { ...xen, domid: 4 } }])).toThrow(RefusedError);
  });
});
