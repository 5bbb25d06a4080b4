import { parseIniFile } from "./ini-file";
import { InputError, Problems } from "./errors";
import type { StalePolicy } from "./health";
import { formatPortal, parsePortal } from "./portal";

/** libxl kills a hotplug script after 40 s; our deadline must leave room for the rollback. */
export const LIBXL_TIMEOUT_S = 40;
export const MAX_DEADLINE_S = 35;

export interface Config {
  /** Portals for sendtargets discovery, used when a target has no node record yet. */
  readonly portals: readonly string[];
  /** Whole `add` must finish within this many seconds. */
  readonly deadlineS: number;
  /** Written to node.conn[0].timeo.login_timeout before login. */
  readonly loginTimeoutS: number;
  /** Written to node.session.initial_login_retry_max before login. */
  readonly loginRetries: number;
  /** md resync limits in KiB/s for our arrays (null: leave the kernel's default). */
  readonly syncSpeedMin: number | null;
  readonly syncSpeedMax: number | null;
  /** node.session.timeo.replacement_timeout: how long I/O waits for a lost path before md fails the leg. */
  readonly replacementTimeoutS: number;
  /** What add does when the local leg is recorded as the only current copy. */
  readonly onStaleIscsi: StalePolicy;
  /** auto: use multipathd's map of the LUN when multipathd manages it; no: always one path. */
  readonly multipathUse: "auto" | "no";
  /** How long add waits for multipathd to build the map of a LUN it claims. */
  readonly multipathWaitS: number;
  /** What add does with a map that queues I/O forever when no path is left. */
  readonly multipathQueueing: "disable" | "warn";
  /** Seconds between two looks of the monitor. */
  readonly monitorIntervalS: number;
  /** The monitor's metrics file (node_exporter's textfile collector); null: none. */
  readonly metricsFile: string | null;
  readonly logSyslog: boolean;
  /** null: no log file. */
  readonly logFile: string | null;
}

export const DEFAULT_CONFIG: Config = {
  portals: [],
  deadlineS: 30,
  loginTimeoutS: 5,
  loginRetries: 1,
  syncSpeedMin: null,
  syncSpeedMax: null,
  replacementTimeoutS: 15,
  onStaleIscsi: "refuse",
  multipathUse: "auto",
  multipathWaitS: 10,
  multipathQueueing: "disable",
  monitorIntervalS: 5,
  metricsFile: "/var/lib/prometheus/node-exporter/block_iscsimple.prom",
  logSyslog: true,
  logFile: "/var/log/xen/xen-hotplug.log",
};

type Setter = (value: string, fail: (why: string) => never, out: Mutable<Config>) => void;
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function integer(min: number, max: number, unit: string): (v: string, fail: (why: string) => never) => number {
  return (v, fail) => {
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) fail(`'${v}' is not a whole number from ${min} to ${max}${unit}`);
    return Number(v);
  };
}

function boolean(v: string, fail: (why: string) => never): boolean {
  const l = v.toLowerCase();
  if (["yes", "true", "on", "1"].includes(l)) return true;
  if (["no", "false", "off", "0"].includes(l)) return false;
  return fail(`'${v}' is not yes or no`);
}

const seconds = integer(1, MAX_DEADLINE_S, " (seconds)");
const speed = integer(1, 10_000_000, " (KiB/s)");

/** Every key the config file knows, by section. */
const KEYS: Record<string, Record<string, Setter>> = {
  iscsi: {
    portals: (v, fail, out) => {
      const list = v.split(/[\s,]+/).filter(Boolean);
      out.portals = list.map((p) => {
        const parsed = parsePortal(p);
        if (typeof parsed === "string") fail(`portal '${p}': ${parsed}`);
        return formatPortal(parsed as Exclude<typeof parsed, string>);
      });
    },
    "login-timeout": (v, fail, out) => { out.loginTimeoutS = integer(1, 30, " (seconds)")(v, fail); },
    "login-retries": (v, fail, out) => { out.loginRetries = integer(0, 10, "")(v, fail); },
    "replacement-timeout": (v, fail, out) => { out.replacementTimeoutS = integer(1, 600, " (seconds)")(v, fail); },
  },
  attach: {
    deadline: (v, fail, out) => { out.deadlineS = seconds(v, fail); },
  },
  md: {
    "sync-speed-min": (v, fail, out) => { out.syncSpeedMin = speed(v, fail); },
    "sync-speed-max": (v, fail, out) => { out.syncSpeedMax = speed(v, fail); },
    "on-stale-iscsi": (v, fail, out) => {
      if (v !== "refuse" && v !== "prefer-local" && v !== "prefer-iscsi") fail(`'${v}' is not refuse, prefer-local or prefer-iscsi`);
      out.onStaleIscsi = v as StalePolicy;
    },
  },
  multipath: {
    use: (v, fail, out) => {
      if (v !== "auto" && v !== "no") fail(`'${v}' is not auto or no`);
      out.multipathUse = v as Config["multipathUse"];
    },
    wait: (v, fail, out) => { out.multipathWaitS = integer(1, 30, " (seconds)")(v, fail); },
    queueing: (v, fail, out) => {
      if (v !== "disable" && v !== "warn") fail(`'${v}' is not disable or warn`);
      out.multipathQueueing = v as Config["multipathQueueing"];
    },
  },
  monitor: {
    interval: (v, fail, out) => { out.monitorIntervalS = integer(1, 3600, " (seconds)")(v, fail); },
    metrics: (v, fail, out) => {
      if (v === "none") { out.metricsFile = null; return; }
      if (!/^\/[A-Za-z0-9_.\/-]+\.prom$/.test(v) || v.split("/").some((p) => p === ".." || p === ".")) fail(`'${v}' is not an absolute path of a .prom file (or 'none')`);
      out.metricsFile = v;
    },
  },
  log: {
    syslog: (v, fail, out) => { out.logSyslog = boolean(v, fail); },
    file: (v, fail, out) => {
      if (v === "none" || v === "") { out.logFile = null; return; }
      if (!/^\/[A-Za-z0-9_.\/-]+$/.test(v) || v.split("/").some((p) => p === ".." || p === ".")) fail(`'${v}' is not an absolute file path (or 'none')`);
      if (!v.startsWith("/var/log/")) fail(`'${v}' is not under /var/log/ (or 'none'): the program runs as root and appends to it`);
      out.logFile = v;
    },
  },
};

export interface ParsedConfig {
  readonly config: Config;
  readonly warnings: readonly string[];
}

export function parseConfig(text: string, file: string): ParsedConfig {
  const out: Mutable<Config> = { ...DEFAULT_CONFIG };
  const warnings: string[] = [];
  const problems = new Problems();
  for (const { name: section, entries } of parseIniFile(text, file)) {
    if (section === null) {
      for (const e of entries) warnings.push(`${file}:${e.line}: key '${e.key}' outside any section is ignored`);
      continue;
    }
    const known = KEYS[section];
    if (!known) {
      warnings.push(`${file}: unknown section [${section}] is ignored`);
      continue;
    }
    for (const { key, value, line } of entries) {
      const setter = known[key];
      if (!setter) {
        warnings.push(`${file}:${line}: unknown key '${key}' in [${section}] is ignored`);
        continue;
      }
      const fail = (why: string): never => {
        throw new InputError(`${file}:${line}: [${section}] ${key}: ${why}`);
      };
      problems.run(() => {
        if (value === "") fail("needs a value");
        setter(value, fail, out);
      });
    }
  }
  problems.done();
  if (out.syncSpeedMin !== null && out.syncSpeedMax !== null && out.syncSpeedMin > out.syncSpeedMax) {
    throw new InputError(`${file}: [md] sync-speed-min (${out.syncSpeedMin}) is above sync-speed-max (${out.syncSpeedMax})`);
  }
  const worstLogin = out.loginTimeoutS * (out.loginRetries + 1);
  if (worstLogin >= out.deadlineS) {
    warnings.push(
      `${file}: login-timeout x (login-retries + 1) = ${worstLogin} s is not below the attach deadline (${out.deadlineS} s): an unreachable portal will use up the whole deadline`,
    );
  }
  return { config: out, warnings };
}
