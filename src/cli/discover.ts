import { errorMessage, EXIT, InputError } from "../core/errors";
import { formatPortal, parsePortal } from "../core/portal";
import { discoverTargets, listLuns, type RejectedTarget } from "../engine/discover";
import { Deadline } from "../host/clock";
import { loadChap } from "../engine/context";
import { withContext, type GlobalOptions } from "./context";

const size = (b: number): string => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(1)} GiB` : `${(b / 2 ** 20).toFixed(0)} MiB`);

/** `discover PORTAL... [--luns] [--json]`: what the filers offer, and the disk line for each LUN. */
export async function discoverCommand(portalArgs: readonly string[], opts: GlobalOptions & { luns?: boolean; json?: boolean }): Promise<number> {
  const portals = portalArgs.map((p) => {
    const parsed = parsePortal(p);
    if (typeof parsed === "string") throw new InputError(`portal '${p}': ${parsed}`);
    return formatPortal(parsed);
  });
  return withContext(opts, "discover", async (ctx) => {
    ctx.log.configure({ syslog: false, file: null });
    const chap = loadChap(ctx);
    const deadline = new Deadline(Math.max(ctx.config.deadlineS, 60) * 1000);
    const rejected: RejectedTarget[] = [];
    const targets = await discoverTargets(ctx.host, portals, chap, deadline, rejected);
    if (opts.luns) {
      for (const t of targets) {
        try {
          t.luns = await listLuns(ctx.host, t, ctx.config, chap, portals, deadline);
        } catch (err) {
          t.lunError = errorMessage(err);
        }
      }
    }
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ targets, rejected }, null, 2)}\n`);
    } else {
      const lines: string[] = [];
      if (targets.length === 0) lines.push(`no target on ${portals.join(", ")}`);
      for (const r of rejected) lines.push(`REJECTED "${r.name}" (portal ${r.portal}): ${r.why}; not used`);
      for (const t of targets) {
        lines.push(`${t.iqn}  (portals ${t.portals.join(", ")})`);
        if (t.lunError) lines.push(`  LUNs: ${t.lunError}`);
        for (const l of t.luns ?? []) {
          lines.push(`  lun${l.lun}  ${size(l.sizeBytes).padStart(9)}  ${`${l.vendor} ${l.model}`.trim()}${l.scsiId ? `  ${l.scsiId}` : ""}`);
          lines.push(`        ${l.diskLine}   (append +LABEL to mirror it on a local disk)`);
        }
      }
      process.stdout.write(`${lines.join("\n")}\n`);
    }
    return targets.some((t) => t.lunError) ? EXIT.failed : EXIT.ok;
  });
}
