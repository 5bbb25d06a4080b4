// The engine in-process: the program's own host adapters, with the simulated host's tools behind an
// injected executor instead of processes. The files the engine reads (sysfs, /dev, tab.conf, state)
// are the SimHost's tree under its root, as for the whole-process tests; only the tools change
// place. Fast (no process per command), so the engine's many branches can be walked one by one.
import { existsSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { parseConfig, DEFAULT_CONFIG } from "../../src/core/config";
import type { Argv } from "../../src/core/commands";
import type { Context } from "../../src/engine/context";
import { makeHost, type Host } from "../../src/engine/host";
import { Log } from "../../src/host/log";
import { pathsUnder } from "../../src/host/paths";
import type { Executor, Exited } from "../../src/host/executor";
import { act, faultOutcome, logLine, prepare, type Outcome } from "./fakehost/tools";
import { SimHost, TOOLS, type SimOptions } from "./simhost";

/** What the executor gives the program: text, one final newline stripped. */
function text(chunks: readonly (string | Buffer)[]): string {
  return Buffer.concat(chunks.map((c) => (typeof c === "string" ? Buffer.from(c) : c)))
    .toString("utf8")
    .replace(/\n$/, "");
}

const exited = (o: Outcome): Exited => ({ status: o.code, stdout: text(o.stdout), stderr: text(o.stderr), timedOut: false, notFound: false, error: null });
const killed = (): Exited => ({ status: null, stdout: "", stderr: "", timedOut: true, notFound: false, error: null });

/**
 * The simulated tools as an Executor: the same faults as the executables (delay, hang before or
 * after acting, exit), a hang lasting until the command's time is up, as the program's kill ends it.
 */
export function simExecutor(root: string, installed: ReadonlySet<string>): Executor {
  return (argv: Argv) => ({
    pid: undefined,
    done: (async (): Promise<Exited> => {
      const [tool, ...args] = argv;
      if (!installed.has(tool)) return { status: null, stdout: "", stderr: "", timedOut: false, notFound: true, error: "command not found" };
      const { key, fault } = prepare(root, tool, args);
      if (fault?.delayMs) await sleep(fault.delayMs);
      const hang = (): Exited => {
        logLine(root, { hang: key });
        return killed();
      };
      if (fault?.hang) return hang();
      if (fault && fault.exit !== undefined && !fault.hangAfter) return exited(faultOutcome(tool, fault));
      const o = act(root, tool, args);
      if (fault?.hangAfter) return hang();
      return exited(o);
    })(),
  });
}

export interface InProc {
  readonly sim: SimHost;
  readonly host: Host;
  readonly ctx: Context;
  /** The lines the operation logged (its log file). */
  logged(): string[];
}


/**
 * A SimHost whose tools the engine calls in-process. A hang is reported at once as a command killed
 * at its deadline (what the program sees), so that the many fault branches cost no waiting.
 */
export function inProcess(opts: SimOptions = {}): InProc {
  const sim = new SimHost(opts);
  const paths = pathsUnder(sim.root);
  const logFile = sim.file("var/log/xen/inproc.log");
  const log = new Log({ verbose: false, syslog: false, file: logFile, context: "test" });
  // logger is the Log's own child, never run through the executor
  const installed = new Set([...TOOLS.filter((t) => t !== "logger"), ...(opts.multipath ? ["multipath", "multipathd"] : [])]);
  const host = makeHost(log, paths, simExecutor(sim.root, installed));
  const config = opts.config !== undefined ? parseConfig(opts.config, "block-iscsimple.conf").config : DEFAULT_CONFIG;
  const ctx: Context = { paths, config, configFile: paths.configFile, tabFile: paths.tabFile, warnings: [], log, host };
  return {
    sim,
    host,
    ctx,
    logged: () => (existsSync(logFile) ? readFileSync(logFile, "utf8").split("\n").filter(Boolean) : []),
  };
}
