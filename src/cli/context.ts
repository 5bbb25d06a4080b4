import { chapFor, chapIsDefault, NO_CHAP, parseChap, type Chap, type ChapTable } from "../core/chap";
import { DEFAULT_CONFIG, parseConfig, type Config } from "../core/config";
import { UserError } from "../core/errors";
import { lookupLabel, parseTab, type Tab } from "../core/tab";
import type { TargetSpec } from "../core/spec";
import { makeHost, type Host } from "../engine/host";
import { tabClash } from "../engine/local-leg";
import { Log } from "../host/log";
import { hostPaths, shown, type HostPaths } from "../host/paths";
import { readTrusted } from "../host/trusted-file";

export interface GlobalOptions {
  readonly config?: string;
  readonly tab?: string;
  readonly verbose?: boolean;
}

export interface Context {
  readonly paths: HostPaths;
  readonly config: Config;
  readonly configFile: string;
  readonly tabFile: string;
  readonly warnings: readonly string[];
  readonly log: Log;
  readonly host: Host;
}


export function loadContext(opts: GlobalOptions, context: string): Context {
  const paths = hostPaths();
  const configFile = opts.config ?? paths.configFile;
  const tabFile = opts.tab ?? paths.tabFile;
  const text = readTrusted(configFile, shown(paths, configFile));
  if (text === null && opts.config !== undefined) throw new UserError(`${configFile}: no such file`);
  const parsed = text === null ? { config: DEFAULT_CONFIG, warnings: [] } : parseConfig(text, shown(paths, configFile));
  const config = parsed.config;
  const log = new Log({
    verbose: opts.verbose ?? false,
    syslog: config.logSyslog,
    file: config.logFile === null ? null : paths.root + config.logFile,
    context,
  });
  for (const w of parsed.warnings) log.warn(w);
  return { paths, config, configFile, tabFile, warnings: parsed.warnings, log, host: makeHost(log, paths) };
}

/**
 * The CHAP credentials file, if there is one. Secrets are read only from a file that root owns and
 * that neither its group nor others can read.
 */
export function loadChap(ctx: Context): ChapTable {
  const name = shown(ctx.paths, ctx.paths.chapFile);
  const text = readTrusted(ctx.paths.chapFile, name, { secret: true });
  return text === null ? NO_CHAP : parseChap(text, name);
}

/** The CHAP settings of a spec's target and of discovery. */
export function chapOf(ctx: Context, spec: TargetSpec): { chap: Chap | null; chapIsDefault: boolean; discoveryChap: Chap | null } {
  if (spec.iqn === null) return { chap: null, chapIsDefault: false, discoveryChap: null };
  const table = loadChap(ctx);
  return { chap: chapFor(table, spec.iqn), chapIsDefault: chapIsDefault(table, spec.iqn), discoveryChap: table.discovery };
}

export function loadTab(ctx: Context): Tab {
  const text = readTrusted(ctx.tabFile, shown(ctx.paths, ctx.tabFile));
  if (text === null) throw new UserError(`${shown(ctx.paths, ctx.tabFile)}: no such file (it lists the local leg of each label)`);
  return parseTab(text, shown(ctx.paths, ctx.tabFile));
}

/** The local leg of a spec: undefined without a label, null for MISSING, else the device path. */
export function localLeg(ctx: Context, spec: TargetSpec): string | null | undefined {
  if (spec.label === null) return undefined;
  const entry = lookupLabel(loadTab(ctx), spec.label, shown(ctx.paths, ctx.tabFile));
  return entry.device === null ? null : ctx.paths.root + entry.device;
}

/** The local leg of a spec for an add: as localLeg, and no other label of tab.conf names the same disk. */
export async function localLegForAdd(ctx: Context, spec: TargetSpec): Promise<string | null | undefined> {
  const local = localLeg(ctx, spec);
  if (typeof local === "string") await tabClash(ctx.host, loadTab(ctx), shown(ctx.paths, ctx.tabFile), spec.label);
  return local;
}

export function warnMissing(ctx: Context, spec: TargetSpec, local: string | null | undefined): void {
  if (spec.iqn === null && local === null) return; // an error, reported by the attach itself
  if (spec.iqn === null) {
    ctx.log.warn(`${spec.text}: NO iSCSI LEG (MISSING): this disk lives on the local device only; the VM must not be migrated`);
  }
  if (local === null) ctx.log.warn(`${spec.text}: no local leg (MISSING in tab.conf): reads and writes all go over iSCSI`);
}
