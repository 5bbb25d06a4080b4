import type { Undo } from "../core/plan";
import type { AttachmentRecord } from "../core/records";
import type { Deadline } from "../host/clock";
import { diskLockName, processStart } from "../host/locks";
import type { Host } from "./host";
import { Journal } from "./journal";
import { killOrphans } from "./orphans";
import { undoAll } from "./undo";

export interface DetachResult {
  readonly done: string[];
  readonly problems: string[];
}

/**
 * Undoes every claim of an attachment, whether its add finished or not: the array first, then the
 * target (logging out when nobody else uses it). Then forgets the record.
 */
export async function detach(host: Host, id: string, deadline: Deadline): Promise<DetachResult | null> {
  await host.store.ensure();
  const first = await host.store.getAttachment(id);
  if (!first) return null;
  return host.locks.with(diskLockName(first), deadline, async (lock) => {
    const record: AttachmentRecord | null = await host.store.getAttachment(id);
    if (!record) return null;
    await killOrphans(host, record);
    // this remove is now the record's writer: a remove SIGKILLed mid-way leaves its children listed
    // under its own pid, for the next call to end
    const journal = new Journal(host.store, { ...record, pid: process.pid, pidStart: await processStart(host.paths.proc, "self"), children: [] });
    await journal.update({});
    host.run.watcher = journal;
    const undos: Undo[] = [];
    if (record.label !== null) undos.push({ kind: "stop-array", label: record.label });
    if (record.iqn !== null) undos.push({ kind: "release-target", iqn: record.iqn });
    const problems = await undoAll(host, journal, undos, deadline, () => lock.check());
    host.log.step(host.run.timings.summary());
    return { done: undos.map((u) => u.kind), problems };
  });
}
