import { EXIT, UserError } from "../core/errors";
import type { StalePolicy } from "../core/health";
import { attachmentId, describeOwner, type Owner } from "../core/records";
import { formatSpec, parseSpec } from "../core/spec";
import { attach } from "../engine/attach";
import { detach } from "../engine/detach";
import { Budget, Deadline } from "../host/clock";
import { shown } from "../host/paths";
import { chapOf, loadContext, localLegForAdd, warnMissing, type GlobalOptions } from "./context";

const MANUAL: Owner = { kind: "manual" };

/** `block-iscsimple add SPEC`: attach by hand, print the device to use. */
export async function manualAdd(
  specText: string,
  opts: GlobalOptions & { readOnly?: boolean; preferLocal?: boolean; preferIscsi?: boolean; newLocalDisk?: boolean },
): Promise<number> {
  const spec = parseSpec(specText);
  const ctx = loadContext(opts, `add ${spec.text}`);
  try {
    const local = await localLegForAdd(ctx, spec);
    warnMissing(ctx, spec, local);
    const prefer: StalePolicy | null = opts.preferLocal ? "prefer-local" : opts.preferIscsi ? "prefer-iscsi" : null;
    const req = { id: attachmentId(MANUAL, spec), spec, writable: !opts.readOnly, owner: MANUAL, local, config: ctx.config, prefer, newLocalDisk: opts.newLocalDisk === true, ...chapOf(ctx, spec) };
    const res = await attach(ctx.host, req, new Budget(ctx.config.deadlineS * 1000, null));
    if (res.again) ctx.log.step("already attached");
    process.stdout.write(`${shown(ctx.paths, res.devicePath)}\n`);
    return EXIT.ok;
  } finally {
    await ctx.log.close();
  }
}

/** `block-iscsimple remove SPEC`: undo a manual add (or a half-done one). */
export async function manualRemove(specText: string, opts: GlobalOptions): Promise<number> {
  const spec = parseSpec(specText);
  const ctx = loadContext(opts, `remove ${spec.text}`);
  try {
    const res = await detach(ctx.host, attachmentId(MANUAL, spec), new Deadline(ctx.config.deadlineS * 1000));
    if (res === null) {
      const other = (await ctx.host.store.attachments()).find((r) => r.spec === formatSpec(spec));
      if (other) throw new UserError(`${spec.text} is attached by ${describeOwner(other.owner)}, not by hand: detach it with xl block-detach`, EXIT.refused);
      process.stderr.write(`block-iscsimple: ${spec.text} is not attached; nothing to do\n`);
      return EXIT.ok;
    }
    if (res.problems.length > 0) throw new UserError(`remove of ${spec.text} is incomplete: ${res.problems.join("; ")}`, EXIT.failed);
    ctx.log.step("removed");
    return EXIT.ok;
  } finally {
    await ctx.log.close();
  }
}
