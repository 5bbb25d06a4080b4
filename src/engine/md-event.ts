import type { AttachmentRecord } from "../core/records";
import { shown } from "../host/paths";
import { sameDev, statBlock } from "../host/sysfs";
import { markGuardObserved } from "./guard";
import type { Host } from "./host";
import { findOurArray, healthOf } from "./arrays";

/**
 * One event from mdadm --monitor (a line the monitor reads: mdadm's program is echo): if the
 * array is ours and only its local leg is current now, the direction guard is written at once
 * (durably), so that a crash right after the failure cannot lose it. Other events are logged.
 */
export async function mdEvent(host: Host, event: string, mdPath: string, member: string | null): Promise<void> {
  const dev = await statBlock(host.paths.root + mdPath);
  let ours: AttachmentRecord | null = null;
  for (const r of await host.store.attachments()) {
    const a = r.label !== null ? await findOurArray(host, r) : null;
    if (a && dev && sameDev(a.dev, dev)) ours = r;
  }
  const what = `md event ${event} on ${mdPath}${member ? ` (${member})` : ""}`;
  if (!ours || ours.label === null) {
    host.log.step(`${what}: not an array of block-iscsimple`);
    return;
  }
  const r = ours;
  const label = ours.label;
  const now = await healthOf(host, r);
  if (!now || now.health.current !== "local" || r.iqn === null) {
    host.log.step(`${what}: ${r.label}: iSCSI leg ${now?.health.iscsi.state ?? "?"}, local leg ${now?.health.local.state ?? "?"}`);
    return;
  }
  const reason = `md reported ${event}: the iSCSI leg is ${now.health.iscsi.state}`;
  if (await markGuardObserved(host, r, reason)) host.log.warn(`${label}: ${reason}: the local leg holds the only current data (guard ${shown(host.paths, host.guard.file(label))} written)`);
}
