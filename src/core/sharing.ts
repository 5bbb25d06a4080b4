import { RefusedError } from "./errors";
import { describeOwner, sameVm, type AttachmentRecord, type Owner } from "./records";
import type { TargetSpec } from "./spec";

export interface SharingVerdict {
  /** Records of the same VM that already hold this label's array (a migration to localhost). */
  readonly joinArrayOf: AttachmentRecord | null;
}

/**
 * The stock `block` script's rule, for our disks: a LUN or a label used writable by another
 * domain is refused, unless it is the same VM (same vm uuid: a migration to localhost).
 * A label is one md array: it is shared with nobody but the same VM. A prepared session (before a
 * migration) uses neither.
 */
export function checkSharing(
  spec: TargetSpec,
  writable: boolean,
  owner: Owner,
  myId: string,
  others: readonly AttachmentRecord[],
): SharingVerdict {
  let joinArrayOf: AttachmentRecord | null = null;
  for (const r of others) {
    // a prepared session holds the target, never the LUN's device: the add it waits for adopts it
    if (r.id === myId || r.owner.kind === "prepared") continue;
    const same = sameVm(owner, r.owner);
    if (spec.label !== null && r.label === spec.label) {
      if (!same) {
        throw new RefusedError(`label '${spec.label}' is in use by ${describeOwner(r.owner)} (spec ${r.spec}); a mirror serves one VM only`);
      }
      if (r.claimsArray && r.md !== null) joinArrayOf = r;
      continue;
    }
    if (spec.iqn !== null && r.iqn === spec.iqn && r.lun === spec.lun && !same && (writable || r.writable)) {
      throw new RefusedError(
        `lun${spec.lun} of ${spec.iqn} is in use ${r.writable ? "writable" : "read-only"} by ${describeOwner(r.owner)}; refusing to attach it ${writable ? "writable" : "read-only"} a second time`,
      );
    }
  }
  return { joinArrayOf };
}
