import { errorMessage, InternalError } from "../core/errors";
import type { StaleRecord } from "../core/health";
import { Deadline } from "../host/clock";
import { diskLockName } from "../host/locks";
import type { AttachmentRecord } from "../core/records";
import type { Host } from "./host";

/** The direction guard of an attachment's label: the disks it is about, and why. */
export function guardFor(r: AttachmentRecord, reason: string): Omit<StaleRecord, "since"> {
  if (r.label === null) throw new InternalError(`${r.spec} has no label to guard`);
  return { label: r.label, spec: r.spec, reason, iqn: r.iqn, lun: r.lun, wwid: r.iscsiWwid ?? null, local: r.localId ?? null };
}

/** Records that the local leg of R's label holds the only current data; true when it was not yet recorded. */
export async function markGuard(host: Host, r: AttachmentRecord, reason: string): Promise<boolean> {
  return host.guard.mark(guardFor(r, reason));
}

/** How long an observer (md event, monitor) waits for the label's lock before it writes the guard without it. */
export const OBSERVER_LOCK_WAIT_MS = 500;

/**
 * markGuard for an observer that holds no lock: under the label's lock when it is free within
 * OBSERVER_LOCK_WAIT_MS; else (an add, heal or remove of the label holds it, and may not look at
 * the guard) without it, since a guard can only make the next add stricter.
 */
export async function markGuardObserved(host: Host, r: AttachmentRecord, reason: string): Promise<boolean> {
  try {
    return await host.locks.with(diskLockName(r), new Deadline(OBSERVER_LOCK_WAIT_MS), () => markGuard(host, r, reason));
  } catch (err) {
    host.log.step(`${r.label}: the lock is busy (${errorMessage(err)}): writing the guard without it`);
    return markGuard(host, r, reason);
  }
}
