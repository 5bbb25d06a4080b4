import { accessSync, constants, existsSync } from "node:fs";
import path from "node:path";
import { errorMessage, oneLine, problemsOf } from "../core/errors";
import { validateRequest } from "../core/plan";
import type { Owner } from "../core/records";
import { parseSpec } from "../core/spec";
import { stepCommands, stepTitle } from "../core/steps";
import { planMirrorNow, planTargetNow } from "../engine/attach";
import { loadChap, loadContext, loadTab, type Context } from "../engine/context";
import { requestFor } from "../engine/request";
import { collectStatus, formatStatus } from "../engine/status";
import { STATUS_EXIT, STATUS_SCHEMA } from "../core/status";
import { requireRoot } from "./context";
import { tabClash } from "../engine/local-leg";
import type { Host } from "../engine/host";
import { blockFamily, stableId } from "../host/blockdev";
import { describeIdentity, sameDisk } from "../core/local-leg";
import { Deadline } from "../host/clock";
import { shown, toolPath } from "../host/paths";
import { describePath, statBlock } from "../host/sysfs";
import { initiatorProblem } from "../core/initiator";
import { join, readText } from "../host/sysfs";
import { sizeProblem } from "../engine/local-leg";
import { withContext, type GlobalOptions } from "./context";

/**
 * `status [--json]`: every attachment, its session, array and legs, the guards and the monitor,
 * judged; the exit code is the verdict's (0 ok, 1 warning, 2 critical, 3 unknown: status could
 * not tell, e.g. not run as root or a record that cannot be read).
 */
export async function status(opts: GlobalOptions & { json?: boolean }): Promise<number> {
  try {
    requireRoot("status");
    return await withContext(opts, "status", async (ctx) => {
      ctx.log.configure({ syslog: false, file: null });
      const s = await collectStatus(ctx.host);
      process.stdout.write(opts.json ? `${JSON.stringify(s.json, null, 2)}\n` : formatStatus(s));
      return s.json.exitCode;
    });
  } catch (err) {
    const message = errorMessage(err);
    if (opts.json) process.stdout.write(`${JSON.stringify({ schema: STATUS_SCHEMA, verdict: "unknown", exitCode: STATUS_EXIT.unknown, reasons: [message] }, null, 2)}\n`);
    process.stderr.write(`block-iscsimple: status: cannot tell: ${oneLine(message)}\n`);
    return STATUS_EXIT.unknown;
  }
}

/** The exit codes of `check`. */
export const CHECK_EXIT = {
  ok: 0,
  /** Something is wrong: a file, a spec, or an add that would be refused. */
  problem: 2,
  /** Nothing is wrong with the files or specs, but a tool the program needs is not installed. */
  notInstalled: 4,
} as const;

/** Tools and what needs them: required ones make check fail when missing. */
const TOOLS: readonly { name: string; required: boolean; what: string }[] = [
  { name: "iscsiadm", required: true, what: "open-iscsi: every iSCSI leg" },
  { name: "mdadm", required: true, what: "every mirror (+LABEL)" },
  { name: "blkid", required: true, what: "util-linux: the check of a local disk never used before" },
  { name: "logger", required: false, what: "bsdutils: the lines to syslog" },
  { name: "udevadm", required: false, what: "udev: multipath's WWIDs" },
  { name: "multipath", required: false, what: "multipath-tools: two SAN paths" },
];

function findTool(name: string, toolPath: string): string | null {
  for (const dir of toolPath.split(":")) {
    try {
      accessSync(path.join(dir, name), constants.X_OK);
      return path.join(dir, name);
    } catch {
      /* not here */
    }
  }
  return null;
}

/**
 * `check [SPEC...]`: validates the config, the CHAP file, tab.conf, the tools and each SPEC, and
 * prints what it found and each plan (stdout); every problem once, on stderr. Changes nothing.
 */
export async function check(specs: readonly string[], opts: GlobalOptions): Promise<number> {
  const out: string[] = [];
  const problems = new Set<string>();
  const warnings = new Set<string>();
  const problem = (err: unknown): void => {
    for (const p of problemsOf(err)) problems.add(oneLine(p));
  };
  let missingTool = false;
  let ctx: Context | null = null;
  try {
    ctx = loadContext(opts, "check", problem);
  } catch (err) {
    problem(err);
  }
  if (ctx) {
    try {
      ctx.log.configure({ syslog: false, file: null });
      missingTool = await checkWith(ctx, specs, out, problem, (w) => warnings.add(oneLine(w)));
    } finally {
      await ctx.log.close();
    }
  }
  if (out.length > 0) process.stdout.write(`${out.join("\n")}\n`);
  for (const w of warnings) process.stderr.write(`block-iscsimple: check: warning: ${w}\n`);
  for (const p of problems) process.stderr.write(`block-iscsimple: check: ${p}\n`);
  if (problems.size > 0) return CHECK_EXIT.problem;
  return missingTool ? CHECK_EXIT.notInstalled : CHECK_EXIT.ok;
}

/** Returns whether a required tool is missing. */
async function checkWith(ctx: Context, specs: readonly string[], out: string[], problem: (err: unknown) => void, warn: (w: string) => void): Promise<boolean> {
  const { paths, config } = ctx;
  const configShown = shown(paths, ctx.configFile);
  out.push(`config   ${configShown}: ${existsSync(ctx.configFile) ? "ok" : "absent (the defaults)"}; deadline ${config.deadlineS} s, login ${config.loginTimeoutS} s x ${config.loginRetries + 1}, portals ${config.portals.join(" ") || "(none)"}`);
  for (const w of ctx.warnings) warn(w);
  out.push(`         multipath: use ${config.multipathUse}, wait ${config.multipathWaitS} s, queueing ${config.multipathQueueing}`);
  const initiator = initiatorProblem(await readText(paths.initiatorName));
  if (initiator) warn(`${shown(paths, paths.initiatorName)}: ${initiator}`);
  const chapShown = shown(paths, paths.chapFile);
  try {
    const table = loadChap(ctx);
    out.push(`chap     ${chapShown}: ${existsSync(paths.chapFile) ? `${table.targets.size} target(s)${table.discovery ? ", discovery" : ""}${table.fallback ? ", default" : ""}` : "absent (no CHAP)"}`);
  } catch (err) {
    out.push(`chap     ${chapShown}: has problems`);
    problem(err);
  }
  const tabShown = shown(paths, ctx.tabFile);
  if (!existsSync(ctx.tabFile)) {
    out.push(`tab      ${tabShown}: absent (needed by every spec with +LABEL)`);
    if (specs.some((s) => s.includes("+"))) problem(new Error(`${tabShown}: no such file (it lists the local leg of each label)`));
  } else {
    try {
      const tab = loadTab(ctx);
      out.push(`tab      ${tabShown}: ${tab.size} label(s)`);
      await tabClash(ctx.host, tab, tabShown, null).catch(problem);
      for (const e of tab.values()) {
        if (e.device === null) {
          out.push(`  ${e.label}: no local leg (MISSING)`);
          continue;
        }
        const dev = await statBlock(paths.root + e.device);
        if (dev) out.push(`  ${e.label}: ${e.device} (${dev.major}:${dev.minor})${await recordedNote(ctx.host, e.label, paths.root + e.device)}`);
        else problem(new Error(`${tabShown}:${e.line}: ${e.device} is ${await describePath(paths.root + e.device)}, not a block device`));
      }
    } catch (err) {
      out.push(`tab      ${tabShown}: has problems`);
      problem(err);
    }
  }
  const found = TOOLS.map((t) => ({ ...t, at: findTool(t.name, toolPath(paths.root)) }));
  const xen = (await readText(join(paths.sys, "hypervisor/type"))) === "xen";
  const xsTools = findTool("xenstore-write", toolPath(paths.root)) !== null;
  const xs = !xen ? "not a Xen host (manual attachments only)" : existsSync(paths.xenstored) ? "ok (xenstored's socket)" : xsTools ? "ok (the xenstore-* tools)" : "not installed";
  out.push(`tools    ${found.map((t) => `${t.name} ${t.at ? "ok" : "not installed"}`).join(", ")}; xenstore ${xs}`);
  let missing = false;
  for (const t of found) {
    if (t.at) continue;
    if (t.required) {
      missing = true;
      warn(`${t.name} is not installed (${t.what})`);
    }
  }
  if (xen && xs === "not installed") {
    missing = true;
    warn("xenstore: neither xenstored's socket nor the xenstore-* tools (xenstore-utils) are here: xl's adds cannot publish their device");
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
      // the local disk must be at least as large as the LUN (when the LUN is visible now)
      if (typeof local === "string" && spec.iqn !== null) {
        const lun = await ctx.host.iscsi.findLun(spec.iqn, spec.lun);
        const why = lun ? await sizeProblem(ctx.host, spec.label as string, local, lun.name) : null;
        if (why) problem(new Error(why));
      }
    } catch (err) {
      problem(err);
    }
  }
  return missing;
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
