import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG } from "../../src/core/config";
import { RefusedError } from "../../src/core/errors";
import { guardMismatch, type StaleRecord } from "../../src/core/health";
import { judgeLocal, sameDisk, type LocalView } from "../../src/core/local-leg";
import { judgeGuard, type Request } from "../../src/core/plan";
import { parseSpec } from "../../src/core/spec";
import { Budget, Deadline, REPORT_MS, ROLLBACK_MIN_MS } from "../../src/host/clock";
import { normaliseWwid } from "../../src/host/iscsi";

const IQN = "iqn.2014-06.fr.example:vm-sn-1";
const disk = { major: 253, minor: 4, id: "dm-uuid:LVM-abc" };
const view = (o: Partial<LocalView> = {}): LocalView => ({ label: "vm", device: "/dev/vg0/vm", identity: disk, uses: [], recorded: null, signatures: [], ...o });
const recorded = { ...disk, label: "vm", device: "/dev/vg0/vm", since: "2026-11-01T00:00:00Z" };

describe("judgeLocal", () => {
  it("refuses a disk in use, confirmed or not", () => {
    for (const confirmed of [false, true]) {
      expect(() => judgeLocal(view({ uses: ["mounted on /srv"] }), confirmed)).toThrow(/in use: mounted on \/srv; refusing to overwrite it/);
    }
  });
  it("records a blank new disk; knows the recorded one", () => {
    expect(judgeLocal(view(), false)).toBe("record");
    expect(judgeLocal(view({ recorded }), false)).toBe("known");
  });
  it("refuses another disk than the recorded one, or data on a new one, unless confirmed", () => {
    const other = view({ identity: { major: 253, minor: 9, id: "dm-uuid:LVM-other" }, recorded });
    expect(() => judgeLocal(other, false)).toThrow(RefusedError);
    expect(judgeLocal(other, true)).toBe("record");
    expect(() => judgeLocal(view({ signatures: ["ext4 data (filesystem)"] }), false)).toThrow(/holds ext4 data/);
    expect(judgeLocal(view({ signatures: ["ext4 data (filesystem)"] }), true)).toBe("record");
  });
  it("compares stable ids when both have one, else major:minor", () => {
    expect(sameDisk(disk, { major: 253, minor: 77, id: "dm-uuid:LVM-abc" })).toBe(true);
    expect(sameDisk(disk, { major: 253, minor: 4, id: "dm-uuid:LVM-xyz" })).toBe(false);
    expect(sameDisk({ ...disk, id: null }, { major: 253, minor: 4, id: "dm-uuid:LVM-xyz" })).toBe(true);
  });
  it("never lets an in-use disk through (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ minLength: 1 }), { minLength: 1, maxLength: 3 }), fc.boolean(), fc.boolean(), (uses, confirmed, known) => {
        expect(() => judgeLocal(view({ uses, recorded: known ? recorded : null }), confirmed)).toThrow(RefusedError);
      }),
    );
  });
});

const guard: StaleRecord = { label: "vm", spec: `lun1@${IQN}+vm`, since: "2026-11-20T10:00:00Z", reason: "faulty", iqn: IQN, lun: 1, wwid: "3600140512", local: { ...disk, device: "/dev/vg0/vm" } };
const req = (o: Partial<Request> = {}): Request => ({ id: "x", spec: parseSpec(`lun1@${IQN}+vm`), writable: true, owner: { kind: "manual" }, local: "/dev/vg0/vm", config: DEFAULT_CONFIG, ...o });
const disks = { iqn: IQN, lun: 1, wwid: "3600140512", local: { ...disk, device: "/dev/vg0/vm" } };

describe("the direction guard", () => {
  it("matches only its own disks", () => {
    expect(guardMismatch(guard, disks)).toBeNull();
    expect(guardMismatch(guard, { ...disks, lun: 2 })).toMatch(/about lun1@.*, this add names lun2@/);
    expect(guardMismatch(guard, { ...disks, wwid: "3600140599" })).toMatch(/WWID 3600140512, this add found WWID 3600140599/);
    expect(guardMismatch(guard, { ...disks, local: { major: 8, minor: 16, id: "wwid:naa.1", device: "/dev/sdb" } })).toMatch(/local device \/dev\/vg0\/vm/);
    expect(guardMismatch(guard, { ...disks, local: null })).toMatch(/has no local leg/);
    // a guard written by 0.1.0 names no disks: it cannot tell, so it applies
    expect(guardMismatch({ label: "vm", spec: "s", since: "t", reason: "r" }, { ...disks, lun: 9 })).toBeNull();
  });
  it("refuses by default; a preference or the one-time decision chooses the direction", () => {
    expect(() => judgeGuard(req(), guard, disks)).toThrow(/holds the only current data/);
    expect(judgeGuard(req({ prefer: "prefer-local" }), guard, disks)).toEqual({ first: "local", clearStale: false, usedDecision: false });
    expect(judgeGuard(req(), { ...guard, decision: "prefer-iscsi" }, disks)).toEqual({ first: "iscsi", clearStale: true, usedDecision: true });
    expect(() => judgeGuard(req({ prefer: "prefer-local" }), guard, { ...disks, lun: 2 })).toThrow(/about other disks than this add/);
    expect(() => judgeGuard(req({ prefer: "prefer-iscsi" }), { ...guard, broken: "x.json is not valid JSON" }, disks)).toThrow(/cannot be read .* counts as set/);
  });
  it("normalises SCSI and multipath WWIDs to one form", () => {
    expect(normaliseWwid("naa.6001405abcdef")).toBe("36001405abcdef");
    // a t10 id is text: its blanks become _ (as udev's scsi_id --replace-whitespace), its trailing NULs go
    expect(normaliseWwid("t10.IET     00010001\\x00\\x00")).toBe("1iet_00010001");
    expect(normaliseWwid("naa.600\u0007")).toBeNull();
    expect(normaliseWwid("eui.0025385b71b0")).toBe("20025385b71b0");
    expect(normaliseWwid(null)).toBeNull();
  });
});

describe("Budget: the hotplug add fits libxl's 40 s", () => {
  it("keeps the rollback and the report inside the hard limit for every deadline", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1000, max: 35_000 }), fc.integer({ min: 0, max: 5000 }), (deadline, spent) => {
        let now = 0;
        const b = new Budget(deadline, 38_000 - spent, () => now);
        expect(b.forward.remainingMs()).toBeLessThanOrEqual(deadline);
        now = b.forward.remainingMs(); // the steps used all they had
        const rb = b.rollback().remainingMs();
        expect(rb).toBeGreaterThanOrEqual(Math.min(ROLLBACK_MIN_MS, 38_000 - spent - REPORT_MS));
        now += rb;
        now += b.report().remainingMs();
        expect(spent + now).toBeLessThanOrEqual(38_000);
      }),
    );
  });
  it("manual mode: the configured deadline, then the rollback", () => {
    const b = new Budget(30_000, null, () => 0);
    expect(b.forward.remainingMs()).toBe(30_000);
    expect(new Deadline(5, () => 0).remainingMs()).toBe(5);
  });
});

