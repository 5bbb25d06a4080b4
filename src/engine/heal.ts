import { FailedError, InputError, RefusedError } from "../core/errors";
import { lunIdentityProblem } from "../core/lun-identity";
import { loginSettings } from "../core/plan";
import type { Config } from "../core/config";
import type { Health } from "../core/health";
import type { AttachmentRecord } from "../core/records";
import { pollUntil, sleepMs, type Deadline } from "../host/clock";
import { diskLockName, targetLockName } from "../host/locks";
import { shown } from "../host/paths";
import { statBlock } from "../host/sysfs";
import type { Host } from "./host";
import { markGuard } from "./guard";
import { checkLocal, recordLocal } from "./local-leg";
import { iscsiLegNow } from "./multipath";
import { clearGuardInSync, healthOf } from "./arrays";
import { devRef } from "../core/records";
import { writeChap, writeNodeSettings, type TargetChap } from "./node-records";

export interface HealResult {
  readonly actions: readonly string[];
  readonly health: Health;
}

const broken = (state: string): boolean => state === "faulty" || state === "missing";

/**
 * Brings a failed leg back into an array of ours. The iSCSI leg: once its session is logged in
 * again (re-login if it is gone), the failed member is removed and the LUN's device added back,
 * write-mostly, so that md copies local -> iSCSI. The local leg: the (replaced) device of tab.conf is
 * added back and rebuilt from iSCSI. Idempotent: a healthy or recovering array is left alone.
 */
export interface HealInputs {
  /** The local leg as tab.conf names it now (a replaced disk may have a new name). */
  readonly localPath: string | null;
  /** The target's CHAP credentials, written into its node records before a login. */
  readonly chap: TargetChap | null;
}

export async function heal(host: Host, r: AttachmentRecord, inputs: HealInputs, config: Config, deadline: Deadline): Promise<HealResult> {
  const { localPath } = inputs;
  const label = r.label;
  if (label === null) throw new InputError(`${r.spec} has no mirror to heal`);
  return host.locks.with(diskLockName(r), deadline, async () => {
    const first = await healthOf(host, r);
    if (!first) throw new FailedError(`${r.spec}: no array of block-iscsimple is running for it`);
    const { array } = first;
    const actions: string[] = [];
    let record = r;
    if (r.iqn !== null && broken(first.health.iscsi.state)) {
      const iqn = r.iqn;
      await ensureSession(host, iqn, config, inputs.chap, deadline);
      const lun = await iscsiLegNow(host, iqn, r.lun, deadline);
      // the guard first: from the add on, only the local leg is current until the resync ends
      await markGuard(host, r, "the iSCSI leg is being rebuilt from the local leg");
      // md will copy the local leg over this device: it must be the volume the array had
      const problem = lunIdentityProblem({ label, lun: `lun${r.lun} of ${iqn}`, device: shown(host.paths, lun.path), recorded: r.iscsiWwid, now: lun.wwids });
      if (problem) throw new RefusedError(problem);
      if (first.health.iscsi.state === "faulty") await host.md.removeFailed(array, deadline);
      await host.md.addTo(array, lun.path, deadline);
      await host.md.setWriteMostly(array, lun.dev);
      record = { ...record, iscsi: devRef(lun.path, lun.name, lun.dev) };
      actions.push(`re-added the iSCSI leg ${shown(host.paths, lun.path)} (write-mostly): md copies local -> iSCSI`);
    }
    if (r.local !== null && broken(first.health.local.state)) {
      const dev = localPath ?? r.local.path;
      const st = await statBlock(dev);
      if (!st) throw new InputError(`the local leg ${shown(host.paths, dev)} of ${label} is not a block device: replace it first`);
      if (first.health.local.state === "faulty") await host.md.removeFailed(array, deadline);
      // the same proof as at add: the disk is not in use, and it is this label's (or confirmed)
      const checked = await checkLocal(host, { label, path: dev, id: r.id, owner: r.owner }, deadline, false);
      if (checked.verdict === "record") await recordLocal(host, label, checked, false);
      await host.md.addTo(array, dev, deadline);
      record = { ...record, local: devRef(dev, dev.split("/").pop() as string, st), localId: { ...checked.identity, device: checked.device } };
      actions.push(`re-added the local leg ${shown(host.paths, dev)}: md rebuilds it from iSCSI`);
    }
    if (record !== r) await host.store.putAttachment(record);
    const now = await healthOf(host, record);
    if (!now) throw new FailedError(`the array of ${r.label} went away`);
    if (now.health.iscsi.state === "in_sync" && (await clearGuardInSync(host, record))) {
      actions.push("the iSCSI leg is in sync: the direction guard is cleared");
    }
    for (const a of actions) host.log.step(`heal ${label}: ${a}`);
    return { actions, health: now.health };
  });
}

/** How long every session of a target must stay FREE before heal takes it for given up. */
export const GIVEN_UP_MS = 5000;

/**
 * A logged-in session to IQN: wait for open-iscsi to recover it, or log in again when none is left.
 * A session iscsid gave up on (state FREE: no connection, its devices gone, as after a login the
 * filer refused while it was coming back) never recovers by itself: when every session of the
 * target stays FREE for GIVEN_UP_MS, heal logs out of them and logs in again.
 */
async function ensureSession(host: Host, iqn: string, config: Config, chap: TargetChap | null, deadline: Deadline): Promise<void> {
  const loggedIn = async (): Promise<true | null> => ((await host.iscsi.loggedIn(iqn)) ? true : null);
  if (await loggedIn()) return;
  const relogin = await givenUp(host, iqn, deadline);
  if (relogin) host.log.step(`every session of ${iqn} stayed FREE for ${GIVEN_UP_MS / 1000} s (iscsid gave up on it): logging out and in again`);
  if (relogin || (await host.iscsi.sessions(iqn)).length === 0) {
    await host.locks.with(targetLockName(iqn), deadline, async () => {
      if (relogin) await host.iscsi.logout(iqn, deadline);
      // the records as an add writes them: someone's discovery may have rewritten them meanwhile
      await writeNodeSettings(host, iqn, loginSettings(config), deadline);
      if (chap) await writeChap(host, iqn, chap, deadline);
      await host.iscsi.login(iqn, deadline);
    });
  }
  if (!(await pollUntil(loggedIn, deadline, 500))) {
    const states = await Promise.all((await host.iscsi.sessions(iqn)).map(async (sid) => `session ${sid} ${(await host.iscsi.sessionState(sid)) ?? "?"}`));
    throw new FailedError(`the target ${iqn} is not reachable yet (${states.join(", ") || "no session"}); heal again when it is`);
  }
}

/** Whether the target has sessions and all of them stay FREE for GIVEN_UP_MS (false as soon as one is not). */
async function givenUp(host: Host, iqn: string, deadline: Deadline): Promise<boolean> {
  const allFree = async (): Promise<boolean> => {
    const sids = await host.iscsi.sessions(iqn);
    if (sids.length === 0) return false;
    for (const sid of sids) if ((await host.iscsi.sessionState(sid)) !== "FREE") return false;
    return true;
  };
  const end = performance.now() + Math.min(GIVEN_UP_MS, deadline.remainingMs() / 2);
  while (performance.now() < end) {
    if (!(await allFree())) return false;
    await sleepMs(250);
  }
  return allFree();
}
