import { assessHealth, describeLeg, type Health } from "../core/health";
import { shown } from "../host/paths";
import type { ArrayState } from "../core/md-state";
import type { AttachmentRecord, DevRef } from "../core/records";
import type { MdArray } from "../host/md";
import type { Host } from "./host";
import { markGuard } from "./guard";
import { Deadline } from "../host/clock";
import { diskLockName } from "../host/locks";

/** The live array this record built, found by its members, never by its (unstable) name. */
export async function findOurArray(host: Host, r: AttachmentRecord): Promise<MdArray | null> {
  const legs = [r.iscsi, r.local].filter((d): d is DevRef => d !== null);
  for (const leg of legs) {
    const a = await host.md.findByMember(leg);
    if (a) return a;
  }
  return null;
}

/** The health of a record's array, or null when it has no live array. */
export async function healthOf(host: Host, r: AttachmentRecord): Promise<{ array: MdArray; state: ArrayState; health: Health } | null> {
  if (r.label === null) return null;
  const array = await findOurArray(host, r);
  return array ? { array, ...(await healthOfArray(host, r, array, r.label)) } : null;
}

/** The state of an array of a record (found already) and what it means for its legs. */
export async function healthOfArray(host: Host, r: AttachmentRecord, array: MdArray, label: string): Promise<{ state: ArrayState; health: Health }> {
  const state = await host.md.state(array, { iscsi: r.iscsi, local: r.local });
  return { state, health: assessHealth(state, r.iqn !== null, r.local !== null, label) };
}

/**
 * Before an array stops: if only its local leg is current (the iSCSI leg failed, or is still being
 * rebuilt from the local one), record it, so that the next add does not copy iSCSI over it. If the
 * iSCSI leg is current, any such record is obsolete.
 */
export async function noteDirection(host: Host, r: AttachmentRecord, a: MdArray): Promise<void> {
  if (r.label === null || r.iqn === null || r.local === null) return;
  const { health: h } = await healthOfArray(host, r, a, r.label);
  if (h.current === "local") {
    const why = `the array was stopped while its iSCSI leg was ${h.iscsi.state}${h.iscsi.progress !== null ? ` (${h.iscsi.progress}%)` : ""}`;
    if (await markGuard(host, r, why)) host.log.warn(`${r.label}: ${why}: the local leg holds the only current data`);
    // a domain leaves a host when it stops or when it migrates, and libxl does not tell which: if it
    // migrated, the destination built its mirror from this stale LUN. Only a disk the domain had
    // (published): the rollback of an add that failed is no domain leaving.
    if (r.owner.kind === "xen" && r.device !== null) {
      host.log.critical(
        `${r.label}: domain ${r.owner.domid}${r.owner.vm ? ` (vm ${r.owner.vm})` : ""} left this host while its iSCSI leg was ${describeLeg(h.iscsi)}: ` +
          `if it was live-migrated, the destination runs on a stale disk and the writes since the leg failed are only on ${shown(host.paths, r.local.path)} here. ` +
          `Stop the VM there before it writes more; block-iscsimple status shows the guard (block-iscsimple migrate refuses such a move)`,
      );
    }
  } else if (h.iscsi.state === "in_sync") {
    if (await clearGuardInSync(host, r)) host.log.step(`${r.label}: the iSCSI leg is in sync: the direction guard is cleared`);
  }
}

/**
 * Clears the direction guard of R's label because its iSCSI leg was read in sync. The caller holds
 * the label's lock; md's event may still write the guard at any moment (without the lock, when it
 * is busy), so the health is read again after the clear: a leg that failed in between sets it again.
 * Returns whether a guard was cleared (and stays cleared).
 */
export async function clearGuardInSync(host: Host, r: AttachmentRecord): Promise<boolean> {
  if (r.label === null || !(await host.guard.clear(r.label))) return false;
  const after = await healthOf(host, r);
  if (after && after.health.iscsi.state === "in_sync") return true;
  await markGuard(host, r, `the iSCSI leg was ${after?.health.iscsi.state ?? "gone"} right after its guard was cleared`);
  return false;
}

/**
 * For an observer without the label's lock (the monitor, heal --wait at its end): under the lock,
 * reads the health again and clears the guard if the iSCSI leg is in sync. A lock busy for longer
 * than WAITMS (an add, heal or remove of the label) leaves the guard for the next look: false.
 */
export async function clearGuardObserved(host: Host, r: AttachmentRecord, waitMs: number): Promise<boolean> {
  let lock;
  try {
    lock = await host.locks.take(diskLockName(r), new Deadline(waitMs));
  } catch {
    return false;
  }
  try {
    const now = await healthOf(host, r);
    return now !== null && now.health.iscsi.state === "in_sync" && (await clearGuardInSync(host, r));
  } finally {
    await lock.release();
  }
}
