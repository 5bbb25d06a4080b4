import { EXIT, FailedError, InputError } from "../core/errors";
import { describeLeg } from "../core/health";
import type { AttachmentRecord } from "../core/records";
import { formatSpec, LABEL_RE, parseSpec } from "../core/spec";
import { heal, type HealInputs } from "../engine/heal";
import { targetChap } from "../engine/node-records";
import { monitor } from "../engine/monitor";
import { clearGuardObserved, healthOf } from "../engine/arrays";
import { Deadline, sleepMs } from "../host/clock";
import { loadChap, localLeg } from "../engine/context";
import { withContext, type Context, type GlobalOptions } from "./context";

async function findRecord(ctx: Context, what: string): Promise<AttachmentRecord> {
  const records = await ctx.host.store.attachments();
  const byLabel = LABEL_RE.test(what) && !what.includes(".") ? records.find((r) => r.label === what) : undefined;
  if (byLabel) return byLabel;
  const spec = LABEL_RE.test(what) ? null : parseSpec(what);
  const r = spec ? records.find((x) => x.spec === formatSpec(spec)) : undefined;
  if (!r) throw new InputError(`${what} is not attached (block-iscsimple status lists what is)`);
  return r;
}

/** The local leg of a label as tab.conf says now (a replaced disk may have a new name). */
function localFromTab(ctx: Context, label: string): string | null {
  try {
    return localLeg(ctx, parseSpec(`MISSING+${label}`)) ?? null;
  } catch {
    return null;
  }
}

/** What heal needs from the files: the local leg tab.conf names now, the target's CHAP credentials. */
function healInputs(ctx: Context, r: AttachmentRecord): HealInputs {
  return { localPath: r.label === null ? null : localFromTab(ctx, r.label), chap: r.iqn === null ? null : targetChap(loadChap(ctx), r.iqn, ctx.config) };
}

/** `heal LABEL|SPEC [--wait]`: bring a failed leg back, report progress, optionally wait. */
export async function healCommand(what: string, opts: GlobalOptions & { wait?: boolean }): Promise<number> {
  return withContext(opts, `heal ${what}`, async (ctx) => {
    const r = await findRecord(ctx, what);
    const label = r.label as string;
    const res = await heal(ctx.host, r, healInputs(ctx, r), ctx.config, new Deadline(ctx.config.deadlineS * 1000));
    const say = (s: string): boolean => process.stdout.write(`${s}\n`);
    if (res.actions.length === 0) say(`${label}: nothing to heal`);
    for (const a of res.actions) say(`${label}: ${a}`);
    let h = res.health;
    for (;;) {
      say(`${label}: iSCSI leg ${describeLeg(h.iscsi)}, local leg ${describeLeg(h.local)}; current data: ${h.current}`);
      if (!opts.wait || (h.iscsi.state !== "recovering" && h.local.state !== "recovering")) break;
      await sleepMs(2000);
      const now = await healthOf(ctx.host, (await ctx.host.store.getAttachment(r.id)) ?? r);
      if (!now) throw new FailedError(`the array of ${label} went away while healing`);
      h = now.health;
    }
    if (h.iscsi.state === "in_sync" && (await clearGuardObserved(ctx.host, (await ctx.host.store.getAttachment(r.id)) ?? r, ctx.config.deadlineS * 1000))) {
      say(`${label}: the iSCSI leg is in sync: the direction guard is cleared`);
    }
    if (h.warning) say(`WARNING: ${h.warning}`);
    return h.current === "both" || (opts.wait !== true && h.current !== "none") ? EXIT.ok : EXIT.failed;
  });
}

/** `monitor [--once]`: watch our arrays, heal them, until SIGTERM. */
export async function monitorCommand(opts: GlobalOptions & { once?: boolean }): Promise<number> {
  let stopping = false;
  const stop = (): void => {
    stopping = true;
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  return withContext(opts, "monitor", async (ctx) => {
    await monitor(ctx.host, ctx.config, { once: opts.once ?? false, stop: () => stopping, inputsOf: (r) => healInputs(ctx, r) });
    return EXIT.ok;
  });
}
