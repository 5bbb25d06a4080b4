import { EXIT, FailedError, RefusedError } from "../core/errors";
import type { StalePolicy } from "../core/health";
import { attachmentId, describeOwner, type Owner } from "../core/records";
import { formatSpec, parseSpec } from "../core/spec";
import { attach } from "../engine/attach";
import { detach } from "../engine/detach";
import { requestFor } from "../engine/request";
import { Budget, Deadline } from "../host/clock";
import { shown } from "../host/paths";
import { withContext, type GlobalOptions } from "./context";

const MANUAL: Owner = { kind: "manual" };

/** `block-iscsimple add SPEC`: attach by hand, print the device to use. */
export async function manualAdd(
  specText: string,
  opts: GlobalOptions & { readOnly?: boolean; preferLocal?: boolean; preferIscsi?: boolean; newLocalDisk?: boolean },
): Promise<number> {
  const spec = parseSpec(specText);
  return withContext(opts, `add ${spec.text}`, async (ctx) => {
    const prefer: StalePolicy | null = opts.preferLocal ? "prefer-local" : opts.preferIscsi ? "prefer-iscsi" : null;
    const req = await requestFor(ctx, { spec, owner: MANUAL, writable: !opts.readOnly, prefer, newLocalDisk: opts.newLocalDisk === true }, true);
    const res = await attach(ctx.host, req, new Budget(ctx.config.deadlineS * 1000, null));
    if (res.again) ctx.log.step("already attached");
    process.stdout.write(`${shown(ctx.paths, res.devicePath)}\n`);
    return EXIT.ok;
  });
}

/** `block-iscsimple remove SPEC`: undo a manual add (or a half-done one). */
export async function manualRemove(specText: string, opts: GlobalOptions): Promise<number> {
  const spec = parseSpec(specText);
  return withContext(opts, `remove ${spec.text}`, async (ctx) => {
    const res = await detach(ctx.host, attachmentId(MANUAL, spec), new Deadline(ctx.config.deadlineS * 1000));
    if (res === null) {
      const other = (await ctx.host.store.attachments()).find((r) => r.spec === formatSpec(spec));
      if (other) throw new RefusedError(`${spec.text} is attached by ${describeOwner(other.owner)}, not by hand: detach it with xl block-detach`);
      process.stderr.write(`block-iscsimple: ${spec.text} is not attached; nothing to do\n`);
      return EXIT.ok;
    }
    if (res.problems.length > 0) throw new FailedError(`remove of ${spec.text} is incomplete: ${res.problems.join("; ")}`);
    ctx.log.step("removed");
    return EXIT.ok;
  });
}
