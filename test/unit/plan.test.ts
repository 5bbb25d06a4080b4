import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG } from "../../src/core/config";
import { stepCommands, undoOf } from "../../src/core/steps";
import { RefusedError, InputError } from "../../src/core/errors";
import { planMirror, planTarget, splitAtLun, validateRequest, type Request, type TargetView } from "../../src/core/plan";
import type { AttachmentRecord, Owner } from "../../src/core/records";
import { parseSpec } from "../../src/core/spec";

const IQN = "iqn.2014-06.fr.example:vm-sn-1";
const VM = "11111111-2222-3333-4444-555555555555";
const xen = (domid: number, vm: string | null = VM): Owner => ({ kind: "xen", domid, devid: 51712, backend: `backend/vbd/${domid}/51712`, vm });

function req(spec: string, over: Partial<Request> = {}): Request {
  const s = parseSpec(spec);
  return { id: "vbd-1-51712", spec: s, writable: true, owner: xen(1), local: s.label ? "/dev/vg0/l" : undefined, config: { ...DEFAULT_CONFIG, portals: ["192.0.2.10:3260"] }, ...over };
}

function record(over: Partial<AttachmentRecord>): AttachmentRecord {
  return {
    id: "vbd-2-51712", spec: "", iqn: IQN, lun: 0, label: null, writable: true, owner: xen(2, "99999999-2222-3333-4444-555555555555"), pid: 1,
    started: "", claimsTarget: true, claimsArray: false, children: [], iscsi: null, local: null, md: null, device: null, devicePath: null, ...over,
  };
}

const none: TargetView = { nodePortals: [], sessions: [], lunVisible: false, records: [] };
const kinds = (steps: { kind: string }[]): string[] => steps.map((s) => s.kind);

describe("planTarget", () => {
  it("discovers, sets the login limits, claims, logs in and finds the LUN on a fresh host", () => {
    const steps = planTarget(req(`lun1@${IQN}+l`), none);
    expect(kinds(steps)).toEqual(["discover", "set-node", "set-node", "set-node", "claim-target", "login", "set-recovery", "find-lun", "multipath"]);
    expect(steps[3]).toMatchObject({ name: "node.session.timeo.replacement_timeout", value: "15" });
    expect(steps[1]).toMatchObject({ name: "node.conn[0].timeo.login_timeout", value: "5" });
    expect(steps[2]).toMatchObject({ name: "node.session.initial_login_retry_max", value: "1" });
    expect(steps[4]).toMatchObject({ login: true });
  });
  it("skips discovery when the node record exists", () => {
    expect(kinds(planTarget(req(IQN), { ...none, nodePortals: ["192.0.2.10:3260"] }))).toEqual(["set-node", "set-node", "set-node", "claim-target", "login", "set-recovery", "find-lun", "multipath"]);
  });
  it("writes only the login settings that a node record does not hold already (every record file must)", () => {
    const held = { "node.conn[0].timeo.login_timeout": "5", "node.session.initial_login_retry_max": "1", "node.session.timeo.replacement_timeout": "15" };
    const portals = { ...none, nodePortals: ["192.0.2.10:3260", "192.0.2.11:3260"] };
    expect(kinds(planTarget(req(IQN), { ...portals, nodeRecords: [held, held] }))).toEqual(["claim-target", "login", "set-recovery", "find-lun", "multipath"]);
    const stale = { ...held, "node.session.timeo.replacement_timeout": "120" };
    const steps = planTarget(req(IQN), { ...portals, nodeRecords: [held, stale] });
    expect(steps.filter((s) => s.kind === "set-node")).toEqual([{ kind: "set-node", iqn: IQN, name: "node.session.timeo.replacement_timeout", value: "15" }]);
    // no record file known: every setting is written
    expect(kinds(planTarget(req(IQN), { ...portals, nodeRecords: [] })).filter((k) => k === "set-node")).toHaveLength(3);
  });
  it("holds the target lock up to the login or rescan: the LUN's device and map are awaited after it", () => {
    const { locked, after } = splitAtLun(planTarget(req(`lun1@${IQN}+l`), none));
    expect(kinds(locked)).toEqual(["discover", "set-node", "set-node", "set-node", "claim-target", "login", "set-recovery"]);
    expect(kinds(after)).toEqual(["find-lun", "multipath"]);
    expect(splitAtLun([])).toEqual({ locked: [], after: [] });
  });
  it("rescans an existing session when the LUN is not visible, and does not log in again", () => {
    expect(kinds(planTarget(req(`lun1@${IQN}`), { ...none, sessions: [3] }))).toEqual(["claim-target", "rescan", "set-recovery", "find-lun", "multipath"]);
    expect(kinds(planTarget(req(`lun1@${IQN}`), { ...none, sessions: [3], lunVisible: true }))).toEqual(["claim-target", "set-recovery", "find-lun", "multipath"]);
  });
  it("needs discovery portals when there is no node record", () => {
    expect(() => planTarget(req(IQN, { config: DEFAULT_CONFIG }), none)).toThrow(`no iSCSI node record for ${IQN} and no discovery portals in the config ([iscsi] portals)`);
  });
  it("plans nothing for a MISSING iSCSI leg", () => {
    expect(planTarget(req("MISSING+l"), none)).toEqual([]);
  });
  it("refuses a LUN another domain uses writable, allows two read-only users and the same VM", () => {
    const other = record({ lun: 1 });
    expect(() => planTarget(req(`lun1@${IQN}`), { ...none, records: [other] })).toThrow(RefusedError);
    expect(() => planTarget(req(`lun1@${IQN}`, { writable: false }), { ...none, records: [other] })).toThrow(/in use writable by domain 2/);
    const ro = record({ lun: 1, writable: false });
    expect(() => planTarget(req(`lun1@${IQN}`, { writable: false }), { ...none, records: [ro] })).not.toThrow();
    expect(() => planTarget(req(`lun1@${IQN}`), { ...none, records: [record({ lun: 1, owner: xen(7) })] })).not.toThrow();
    expect(() => planTarget(req(`lun2@${IQN}`), { ...none, records: [other] })).not.toThrow();
  });
});

describe("planMirror", () => {
  it("builds with the iSCSI leg write-mostly, sets speeds, then adds the local leg", () => {
    const r = req(`${IQN}+l`, { config: { ...DEFAULT_CONFIG, syncSpeedMax: 9000 } });
    const steps = planMirror(r, { records: [], foreignArray: null });
    expect(kinds(steps)).toEqual(["check-local", "md-build", "md-speed", "md-add", "publish"]);
    const names = { iscsiDev: "/dev/sdb", localDev: "/dev/vg0/l", md: (l: string) => `/dev/md/${l}`, backend: null };
    expect(stepCommands(steps[1]!, names)).toEqual(["mdadm --build /dev/md/l --level=1 --raid-devices=2 missing --write-mostly /dev/sdb"]);
    expect(stepCommands(steps[3]!, names)).toEqual(["mdadm /dev/md/l --add /dev/vg0/l"]);
  });
  it("builds on the local leg alone for a MISSING iSCSI leg, and on iSCSI alone for a MISSING local leg", () => {
    const names = { iscsiDev: "/dev/sdb", localDev: "/dev/vg0/l", md: (l: string) => `/dev/md/${l}`, backend: null };
    const a = planMirror(req("MISSING+l"), { records: [], foreignArray: null });
    expect(kinds(a)).toEqual(["check-local", "md-build", "publish"]);
    expect(stepCommands(a[1]!, names)).toEqual(["mdadm --build /dev/md/l --level=1 --raid-devices=2 /dev/vg0/l missing"]);
    const b = planMirror(req(`${IQN}+l`, { local: null }), { records: [], foreignArray: null });
    expect(kinds(b)).toEqual(["md-build", "publish"]);
  });
  it("gives a plain disk the iSCSI device", () => {
    expect(kinds(planMirror(req(IQN), { records: [], foreignArray: null }))).toEqual(["use-iscsi", "publish"]);
  });
  it("joins the same VM's array (migration to localhost), refuses another VM's label", () => {
    const mine = record({ id: "vbd-1-1", label: "l", owner: xen(1), claimsArray: true, md: { path: "/dev/md127", name: "md127", major: 9, minor: 127 } });
    const joined = planMirror(req(`${IQN}+l`, { id: "vbd-9-51712", owner: xen(9) }), { records: [mine], foreignArray: null });
    expect(joined[0]).toEqual({ kind: "join-array", label: "l", from: "vbd-1-1" });
    expect(() => planMirror(req(`${IQN}+l`, { id: "vbd-9-51712", owner: xen(9, null) }), { records: [mine], foreignArray: null })).toThrow(/label 'l' is in use by domain 1/);
    expect(() => planMirror(req(`${IQN}+l`, { owner: { kind: "manual" }, id: "m" }), { records: [mine], foreignArray: null })).toThrow(RefusedError);
  });
  it("refuses to touch an array it did not build", () => {
    expect(() => planMirror(req(`${IQN}+l`), { records: [], foreignArray: "md5" })).toThrow(/already exists \(md5\) and was not built by block-iscsimple/);
  });
});

describe("planMirror and the direction guard", () => {
  const stale = { label: "l", spec: "x", since: "2026-11-21T06:00:00Z", reason: "the array was stopped while its iSCSI leg was faulty" };
  it("refuses by default, naming what happened and what to do", () => {
    expect(() => planMirror(req(`${IQN}+l`), { records: [], foreignArray: null, stale })).toThrow(RefusedError);
    expect(() => planMirror(req(`${IQN}+l`), { records: [], foreignArray: null, stale })).toThrow(/only current data since 2026-11-21T06:00:00Z \(the array was stopped.*--prefer-local.*--prefer-iscsi/);
  });
  it("prefer-local builds from the local leg and adds the iSCSI leg", () => {
    const steps = planMirror(req(`${IQN}+l`, { prefer: "prefer-local" }), { records: [], foreignArray: null, stale });
    expect(steps.filter((x) => x.kind === "md-build" || x.kind === "md-add")).toEqual([
      { kind: "md-build", label: "l", first: "local" },
      { kind: "md-add", label: "l", leg: "iscsi" },
    ]);
  });
  it("prefer-iscsi (here from the config) builds as usual and clears the guard", () => {
    const steps = planMirror(req(`${IQN}+l`, { config: { ...DEFAULT_CONFIG, onStaleIscsi: "prefer-iscsi" } }), { records: [], foreignArray: null, stale });
    expect(kinds(steps)).toEqual(["check-local", "md-build", "md-add", "clear-stale", "publish"]);
    expect(steps[1]).toMatchObject({ first: "iscsi" });
  });
});

describe("validateRequest and undo", () => {
  it("rejects both legs MISSING", () => {
    expect(() => validateRequest(req("MISSING+l", { local: null }))).toThrow(InputError);
  });
  it("registers undo for claims and builds only", () => {
    expect(undoOf({ kind: "claim-target", iqn: IQN, login: true })).toEqual({ kind: "release-target", iqn: IQN });
    expect(undoOf({ kind: "md-build", label: "l", first: "iscsi" })).toEqual({ kind: "stop-array", label: "l" });
    expect(undoOf({ kind: "login", iqn: IQN })).toBeNull();
  });
});
