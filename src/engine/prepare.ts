import type { AttachmentRecord } from "../core/records";
import type { TargetSpec } from "../core/spec";
import { Budget, Deadline } from "../host/clock";
import { attach } from "./attach";
import type { Context } from "./context";
import { releaseOne } from "./prepared";
import { requestFor } from "./request";

/**
 * `prepare` (on a migration's destination, before the memory copy): log in to each target and wait
 * for the LUN's device and multipath map, so that the add that runs while the VM is suspended finds
 * them ready. Each is an attachment owned by "prepared" (read-only, no label): it claims its target,
 * so no other disk's remove logs out from under it; the add of the same LUN adopts it; one that no
 * add adopts is released when its time is up (by the monitor, or `prepare --expire`).
 * All or nothing: if one spec fails, what this call prepared is released again.
 */
export async function prepare(ctx: Context, specs: readonly TargetSpec[], keepS: number, now: Date = new Date()): Promise<AttachmentRecord[]> {
  const until = new Date(now.getTime() + keepS * 1000).toISOString();
  const done: AttachmentRecord[] = [];
  try {
    // one at a time: two LUNs of one target share its login, and it is before the downtime
    for (const s of specs) {
      const spec: TargetSpec = { ...s, label: null };
      const req = await requestFor(ctx, { spec, owner: { kind: "prepared", until }, writable: false }, true);
      const res = await attach(ctx.host, req, new Budget(ctx.config.deadlineS * 1000, null));
      if (!res.again) done.push(res.record);
      ctx.log.step(res.again ? `${s.text}: already prepared` : `${s.text}: prepared (${res.devicePath}) until ${until}`);
    }
    return done;
  } catch (err) {
    for (const r of done.reverse()) await releaseOne(ctx.host, r, new Deadline(ctx.config.deadlineS * 1000));
    throw err;
  }
}
