import type { StaleRecord } from "../core/health";
import type { AttachmentRecord } from "../core/records";
import type { Host } from "./host";

/** The direction guard of an attachment's label: the disks it is about, and why. */
export function guardFor(r: AttachmentRecord, reason: string): Omit<StaleRecord, "since"> {
  if (r.label === null) throw new Error(`internal: ${r.spec} has no label to guard`);
  return { label: r.label, spec: r.spec, reason, iqn: r.iqn, lun: r.lun, wwid: r.iscsiWwid ?? null, local: r.localId ?? null };
}

/** Records that the local leg of R's label holds the only current data; true when it was not yet recorded. */
export async function markGuard(host: Host, r: AttachmentRecord, reason: string): Promise<boolean> {
  return host.guard.mark(guardFor(r, reason));
}
