import { errorMessage, InputError, InternalError, RefusedError, StepFailed } from "../core/errors";
import { judgeGuard, planMirror, planTarget, splitAtLun, validateRequest, type Request, type Step, type TargetView, type MirrorView, type Undo } from "../core/plan";
import { stepTitle, undoOf } from "../core/steps";
import type { AttachmentRecord } from "../core/records";
import { recordPortals } from "../core/portal";
import { formatSpec } from "../core/spec";
import type { Budget, Deadline } from "../host/clock";
import type { NamedDisks } from "../core/health";
import { checkSharing } from "../core/sharing";
import { checkLocal } from "./local-leg";
import { monitorRunning } from "./monitor";
import { diskLockName, processStart, targetLockName, type Lock } from "../host/locks";
import { shown } from "../host/paths";
import { describePath, statBlock } from "../host/sysfs";
import type { Host } from "./host";
import { Journal } from "./journal";
import { findOurArray } from "./arrays";
import type { StepContext } from "./step-context";
import { runStep } from "./steps";
import { undoAll } from "./undo";

export interface AttachResult {
  readonly device: string;
  readonly devicePath: string;
  readonly record: AttachmentRecord;
  readonly again: boolean;
}

export async function observeTarget(host: Host, iqn: string, lun: number, deadline: Deadline): Promise<TargetView> {
  const sessions = await host.iscsi.sessions(iqn);
  // the node records' portals from their files (no iscsiadm run); iscsiadm when the files say nothing
  const nodeRecords = sessions.length > 0 ? [] : await host.iscsiDb.nodeSettings(iqn);
  return {
    sessions,
    nodePortals: sessions.length > 0 ? [] : (recordPortals(nodeRecords) ?? (await host.iscsi.nodePortals(iqn, deadline))),
    nodeRecords,
    lunVisible: sessions.length > 0 && (await host.iscsi.findLun(iqn, lun)) !== null,
    records: await host.store.attachments(),
  };
}

export async function observeMirror(host: Host, label: string): Promise<MirrorView> {
  const records = await host.store.attachments();
  const a = await host.md.atLabel(label);
  let foreignArray: string | null = null;
  if (a) {
    foreignArray = a.name;
    for (const r of records) {
      const ours = await findOurArray(host, r);
      if (ours && ours.name === a.name) foreignArray = null;
    }
  }
  return { records, foreignArray, stale: await host.guard.get(label) };
}

/** Observes the target (under its lock, for an add) and plans the iSCSI half: add and check share it. */
export async function planTargetNow(host: Host, req: Request, deadline: Deadline): Promise<Step[]> {
  const iqn = req.spec.iqn;
  return iqn === null ? [] : planTarget(req, await observeTarget(host, iqn, req.spec.lun, deadline));
}

/** Observes the label (under its lock, for an add) and plans the md half: add and check share it. */
export async function planMirrorNow(host: Host, req: Request, disks: NamedDisks | null): Promise<Step[]> {
  if (req.spec.label === null) return planMirror(req, { records: [], foreignArray: null });
  return planMirror(req, { ...(await observeMirror(host, req.spec.label)), disks });
}

function initialRecord(req: Request, pidStart: string | null): AttachmentRecord {
  return {
    pidStart,
    id: req.id,
    spec: formatSpec(req.spec),
    iqn: req.spec.iqn,
    lun: req.spec.lun,
    label: req.spec.label,
    writable: req.writable,
    owner: req.owner,
    pid: process.pid,
    started: new Date().toISOString(),
    claimsTarget: false,
    claimsArray: false,
    children: [],
    iscsi: null,
    local: null,
    md: null,
    device: null,
    devicePath: null,
  };
}

/** Checks what can be checked before anything changes: bad input must leave the host untouched. */
async function preflight(host: Host, req: Request): Promise<void> {
  validateRequest(req);
  if (typeof req.local === "string" && (await statBlock(req.local)) === null) {
    throw new InputError(`label '${req.spec.label}': local leg ${shown(host.paths, req.local)} is ${await describePath(req.local)}, not a block device`);
  }
}

/**
 * Before anything changes (no login yet): the label is not another VM's, and its local leg may be
 * written. Skipped when the same VM joins its own running array (a migration to localhost).
 */
async function checkMirrorEarly(host: Host, req: Request, deadline: Deadline): Promise<NamedDisks["local"]> {
  const label = req.spec.label;
  if (label === null) return null;
  const verdict = checkSharing(req.spec, req.writable, req.owner, req.id, await host.store.attachments());
  if (verdict.joinArrayOf) return null;
  let local: NamedDisks["local"] = null;
  if (typeof req.local === "string") {
    const checked = await checkLocal(host, { label, path: req.local, id: req.id, owner: req.owner, overwritten: req.spec.iqn !== null }, deadline, req.newLocalDisk === true);
    local = { ...checked.identity, device: checked.device };
  }
  // the guard as far as it can be judged before login (the LUN's WWID is checked after)
  judgeGuard(req, await host.guard.get(label), { iqn: req.spec.iqn, lun: req.spec.lun, wwid: undefined, local });
  return local;
}

/**
 * An add of a LUN adopts its prepared session (`prepare`, before a migration): called under the
 * target lock once the add's own claim is recorded, it forgets the prepared record; the session
 * stays, and belongs to the add now (its remove, or its rollback, logs out when nobody else uses it).
 */
async function adoptPrepared(host: Host, iqn: string, lun: number): Promise<void> {
  for (const r of await host.store.attachments()) {
    if (r.owner.kind !== "prepared" || r.iqn !== iqn || r.lun !== lun) continue;
    await host.store.deleteAttachment(r.id);
    host.log.step(`adopted the prepared session of ${r.spec}`);
  }
}

export async function attach(host: Host, req: Request, budget: Budget): Promise<AttachResult> {
  const deadline = budget.forward;
  await preflight(host, req);
  await host.store.ensure();
  return host.locks.with(diskLockName(req.spec), deadline, async (diskLock) => {
    const existing = await host.store.getAttachment(req.id);
    if (existing) {
      if (existing.device !== null && existing.devicePath !== null && existing.spec === formatSpec(req.spec)) {
        return { device: existing.device, devicePath: existing.devicePath, record: existing, again: true };
      }
      throw new RefusedError(`an earlier add of ${req.id} (${existing.spec}) did not finish; run remove first`);
    }
    const localDisk = await checkMirrorEarly(host, req, deadline);
    const journal = new Journal(host.store, initialRecord(req, await processStart(host.paths.proc, "self")));
    await journal.update({});
    host.run.watcher = journal;
    const ctx: StepContext = { host, journal, owner: req.owner, deadline, id: req.id, label: req.spec.label, confirmedLocal: req.newLocalDisk === true, localOverwritten: req.spec.iqn !== null };
    const undos: Undo[] = [];
    const held: Lock[] = [diskLock];
    let current: Step | null = null;
    const run = async (steps: Step[]): Promise<void> => {
      for (const s of steps) {
        current = s;
        // never go on under a lock that is not ours any more
        for (const l of held) await l.check();
        const u = undoOf(s);
        if (u) undos.push(u);
        host.log.step(stepTitle(s));
        await runStep(ctx, s);
      }
      current = null;
    };
    try {
      const iqn = req.spec.iqn;
      if (iqn !== null) {
        const after = await host.locks.with(targetLockName(iqn), deadline, async (targetLock) => {
          held.push(targetLock);
          try {
            const { locked, after } = splitAtLun(await planTargetNow(host, req, deadline));
            await run(locked);
            if (req.owner.kind !== "prepared") await adoptPrepared(host, iqn, req.spec.lun);
            return after;
          } finally {
            held.pop();
          }
        });
        await run(after);
      }
      // the guard again, now with the WWID of the LUN found (null: the kernel gave none)
      const wwid = req.spec.iqn === null ? undefined : (journal.record.iscsiWwid ?? null);
      await run(await planMirrorNow(host, req, { iqn: req.spec.iqn, lun: req.spec.lun, wwid, local: localDisk }));
      for (const l of held) await l.check();
      const { device, devicePath } = journal.record;
      if (device === null || devicePath === null) throw new InternalError("the plan ended without publishing a device");
      host.log.step(`attached ${journal.record.spec} as ${devicePath} (${device})`);
      if (req.spec.label !== null && req.spec.iqn !== null && !(await monitorRunning(host))) {
        host.log.step("warning: block-iscsimple monitor is not running: if md fails the iSCSI leg, it is recorded only when the array stops (systemctl enable --now block-iscsimple-monitor)");
      }
      host.log.step(host.run.timings.summary());
      await journal.settle();
      return { device, devicePath, record: journal.record, again: false };
    } catch (err) {
      const failed: Step | null = current;
      const why = errorMessage(err);
      const what = failed ? `${stepTitle(failed)} failed: ${why}` : why;
      host.log.step(`add failed: ${what}; rolling back`);
      // where the add's time went until it failed (a deadline that ran out says what used it)
      host.log.step(host.run.timings.summary().replace(/^timing:/, "timing until the failure:"));
      const leftovers = await undoAll(host, journal, undos.reverse(), budget.rollback());
      throw new StepFailed(leftovers.length ? `${what} (and the rollback failed: ${leftovers.join("; ")})` : what, err);
    }
  });
}
