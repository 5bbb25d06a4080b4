import { GuardStore, LocalStore } from "../host/guard-store";
import { Iscsi } from "../host/iscsi";
import { IscsiDb } from "../host/iscsi-db";
import { Locks } from "../host/locks";
import type { Log } from "../host/log";
import { Md } from "../host/md";
import { Multipath } from "../host/multipath";
import { hostPaths, toolPath, type HostPaths } from "../host/paths";
import { Runner, type Executor } from "../host/run";
import { StateStore } from "../host/state-store";
import { Xenstore } from "../host/xenstore";

/** The adapters an operation runs with. */
export interface Host {
  readonly paths: HostPaths;
  readonly log: Log;
  readonly run: Runner;
  readonly iscsi: Iscsi;
  readonly iscsiDb: IscsiDb;
  readonly md: Md;
  readonly mpath: Multipath;
  readonly xs: Xenstore;
  readonly store: StateStore;
  readonly locks: Locks;
  readonly guard: GuardStore;
  readonly localStore: LocalStore;
}

/** The host's adapters; EXEC starts the host commands (the in-process tests give their own). */
export function makeHost(log: Log, paths: HostPaths = hostPaths(), exec?: Executor): Host {
  const run = new Runner(log, toolPath(paths.root), exec);
  const store = new StateStore(paths);
  return {
    paths,
    log,
    run,
    iscsi: new Iscsi(run, paths, log),
    iscsiDb: new IscsiDb(paths),
    md: new Md(run, paths),
    mpath: new Multipath(run, paths),
    xs: new Xenstore(run, log, paths.xenstored),
    store,
    locks: new Locks(store.lockKeyFile(), () => store.ensure(), log, (ms) => run.timings.add("lock-wait", ms), paths.proc),
    guard: new GuardStore(paths),
    localStore: new LocalStore(paths),
  };
}
