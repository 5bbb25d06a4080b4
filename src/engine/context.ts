import { NO_CHAP, parseChap, type ChapTable } from "../core/chap";
import { DEFAULT_CONFIG, parseConfig, type Config, type ParsedConfig } from "../core/config";
import { InputError } from "../core/errors";
import { lookupLabel, parseTab, type Tab } from "../core/tab";
import type { TargetSpec } from "../core/spec";
import { makeHost, type Host } from "./host";
import { Log } from "../host/log";
import { hostPaths, shown, type HostPaths } from "../host/paths";
import { readTrusted } from "../host/trusted-file";

/** What every command may say about where its files are and how loud it is. */
export interface GlobalOptions {
  readonly config?: string;
  readonly tab?: string;
  readonly verbose?: boolean;
}

/** The files an operation runs with (config, tab.conf, CHAP), its log and its host adapters. */
export interface Context {
  readonly paths: HostPaths;
  readonly config: Config;
  readonly configFile: string;
  readonly tabFile: string;
  readonly warnings: readonly string[];
  readonly log: Log;
  readonly host: Host;
}


/**
 * The context of a command. A config file that cannot be used throws, unless CONFIGPROBLEM is given
 * (check: it reports the problems and goes on with the defaults, to check the rest too).
 */
export function loadContext(opts: GlobalOptions, context: string, configProblem?: (err: unknown) => void): Context {
  const paths = hostPaths();
  const configFile = opts.config ?? paths.configFile;
  const tabFile = opts.tab ?? paths.tabFile;
  const read = (): ParsedConfig => {
    const text = readTrusted(configFile, shown(paths, configFile));
    if (text === null && opts.config !== undefined) throw new InputError(`${configFile}: no such file`);
    return text === null ? { config: DEFAULT_CONFIG, warnings: [] } : parseConfig(text, shown(paths, configFile));
  };
  let parsed: ParsedConfig;
  try {
    parsed = read();
  } catch (err) {
    if (!configProblem || !(err instanceof InputError)) throw err;
    configProblem(err);
    parsed = { config: DEFAULT_CONFIG, warnings: [] };
  }
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

export function loadTab(ctx: Context): Tab {
  const text = readTrusted(ctx.tabFile, shown(ctx.paths, ctx.tabFile));
  if (text === null) throw new InputError(`${shown(ctx.paths, ctx.tabFile)}: no such file (it lists the local leg of each label)`);
  return parseTab(text, shown(ctx.paths, ctx.tabFile));
}

/** The local leg of a spec: undefined without a label, null for MISSING, else the device path. */
export function localLeg(ctx: Context, spec: TargetSpec): string | null | undefined {
  if (spec.label === null) return undefined;
  const entry = lookupLabel(loadTab(ctx), spec.label, shown(ctx.paths, ctx.tabFile));
  return entry.device === null ? null : ctx.paths.root + entry.device;
}
