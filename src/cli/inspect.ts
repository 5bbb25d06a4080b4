import { errorMessage, EXIT } from "../core/errors";
import { validateRequest } from "../core/plan";
import type { Owner } from "../core/records";
import { parseSpec } from "../core/spec";
import { stepCommands, stepTitle } from "../core/steps";
import { planMirrorNow, planTargetNow } from "../engine/attach";
import { loadChap, loadContext, loadTab, type Context } from "../engine/context";
import { requestFor } from "../engine/request";
import { collectStatus, formatStale, formatStatus } from "../engine/status";
import { tabClash } from "../engine/local-leg";
import type { Host } from "../engine/host";
import { blockFamily, stableId } from "../host/blockdev";
import { describeIdentity, sameDisk } from "../core/local-leg";
import { Deadline } from "../host/clock";
import { shown } from "../host/paths";
import { describePath, statBlock } from "../host/sysfs";
import { initiatorProblem } from "../core/initiator";
import { readText } from "../host/sysfs";
import { withContext, type GlobalOptions } from "./context";

/** `status [--json]`: every attachment, its session, array and legs. */
export async function status(opts: GlobalOptions & { json?: boolean }): Promise<number> {
  return withContext(opts, "status", async (ctx) => {
    ctx.log.configure({ syslog: false, file: null });
    const list = await collectStatus(ctx.host);
    const stale = await ctx.host.guard.list();
    process.stdout.write(opts.json ? `${JSON.stringify({ attachments: list, stale }, null, 2)}\n` : formatStatus(list) + formatStale(stale));
    return EXIT.ok;
  });
}

/** `check [SPEC...]`: validates config, tab.conf and specs, and prints each plan. Changes nothing. */
export async function check(specs: readonly string[], opts: GlobalOptions): Promise<number> {
  const out: string[] = [];
  let bad = 0;
  const problem = (msg: string): void => {
    bad += 1;
    out.push(`ERROR ${msg}`);
  };
  let ctx: Context;
  try {
    ctx = loadContext(opts, "check");
  } catch (err) {
    process.stdout.write(`ERROR ${errorMessage(err)}\n`);
    return EXIT.badInput;
  }
  try {
    await checkWith(ctx, specs, out, problem);
  } finally {
    await ctx.log.close();
  }
  process.stdout.write(`${out.join("\n")}\n`);
  return bad > 0 ? EXIT.badInput : EXIT.ok;
}

async function checkWith(ctx: Context, specs: readonly string[], out: string[], problem: (msg: string) => void): Promise<void> {
  ctx.log.configure({ syslog: false, file: null });
  const { paths, config } = ctx;
  out.push(`config ${shown(paths, ctx.configFile)}: ${ctx.warnings.length ? `${ctx.warnings.length} warning(s)` : "ok"}; deadline ${config.deadlineS} s, login ${config.loginTimeoutS} s x ${config.loginRetries + 1}, portals ${config.portals.join(" ") || "(none)"}`);
  out.push(`multipath: use ${config.multipathUse}, wait ${config.multipathWaitS} s, queueing ${config.multipathQueueing}`);
  const initiator = initiatorProblem(await readText(paths.initiatorName));
  if (initiator) out.push(`WARNING ${shown(paths, paths.initiatorName)}: ${initiator}`);
  try {
    const table = loadChap(ctx);
    out.push(`chap ${shown(paths, paths.chapFile)}: ${table.targets.size} target(s)${table.discovery ? ", discovery" : ""}${table.fallback ? ", default" : ""}`);
  } catch (err) {
    problem(errorMessage(err));
  }
  try {
    const tab = loadTab(ctx);
    out.push(`tab ${shown(paths, ctx.tabFile)}: ${tab.size} label(s)`);
    await tabClash(ctx.host, tab, shown(paths, ctx.tabFile), null).catch((err: unknown) => problem(errorMessage(err)));
    for (const e of tab.values()) {
      if (e.device === null) {
        out.push(`  ${e.label}: no local leg (MISSING)`);
        continue;
      }
      const dev = await statBlock(paths.root + e.device);
      if (dev) out.push(`  ${e.label}: ${e.device} (${dev.major}:${dev.minor})${await recordedNote(ctx.host, e.label, paths.root + e.device)}`);
      else problem(`${shown(paths, ctx.tabFile)}:${e.line}: ${e.device} is ${await describePath(paths.root + e.device)}, not a block device`);
    }
  } catch (err) {
    if (specs.some((s) => s.includes("+")) || !/no such file/.test(errorMessage(err))) problem(errorMessage(err));
    else out.push(`tab: ${errorMessage(err)}`);
  }
  const owner: Owner = { kind: "manual" };
  for (const text of specs) {
    try {
      const spec = parseSpec(text);
      // the same request and the same observe-and-plan as an add (nothing is locked or changed)
      const req = await requestFor(ctx, { spec, owner, writable: true }, false);
      validateRequest(req);
      const deadline = new Deadline(config.deadlineS * 1000);
      const steps = [...(await planTargetNow(ctx.host, req, deadline)), ...(await planMirrorNow(ctx.host, req, null))];
      const local = req.local;
      out.push(`plan for ${spec.text}:`);
      const names = {
        iscsiDev: spec.iqn !== null ? `<lun${spec.lun} of ${spec.iqn}>` : "",
        localDev: local ?? "",
        md: (l: string) => `/dev/md/${l}`,
        backend: null,
      };
      steps.forEach((s, i) => {
        out.push(`  ${i + 1}. ${stepTitle(s)}`);
        for (const c of stepCommands(s, names)) out.push(`       ${c}`);
      });
    } catch (err) {
      problem(errorMessage(err));
    }
  }
}

/** Whether tab.conf's disk for LABEL is the one the label used (what the next add will say). */
async function recordedNote(host: Host, label: string, path: string): Promise<string> {
  let rec;
  try {
    rec = await host.localStore.get(label);
  } catch (err) {
    return `; its record cannot be read: ${errorMessage(err)}`;
  }
  const dev = await statBlock(path);
  const family = dev ? await blockFamily(host.paths, dev) : null;
  if (!dev) return "";
  const now = { major: dev.major, minor: dev.minor, id: family ? await stableId(family) : null };
  if (rec === null) return "; not used by this label yet: the first add checks it holds no data (else: accept-local)";
  if (sameDisk(rec, now)) return "; the label's recorded disk";
  return `; NOT the disk this label used (${rec.device}, ${describeIdentity(rec)}): the add refuses it until accept-local ${label}`;
}
