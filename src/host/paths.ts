import { FailedError } from "../core/errors";
import path from "node:path";

/**
 * Every host path the program touches, from one place. The simulated host of the tests moves them
 * all under a directory (pathsUnder); only the tests' build honours BLOCK_ISCSIMPLE_ROOT for that.
 */
export interface HostPaths {
  readonly root: string;
  readonly sys: string;
  readonly dev: string;
  /** Our own children's /proc (orphan killing): never moved. */
  readonly proc: string;
  /** The /proc the safety checks read (mounts, swaps, open files); moved under the test root. */
  readonly procfs: string;
  /** The kernel's list of unix sockets (multipathd listens on an abstract one). */
  readonly procNetUnix: string;
  /** State and locks (0700). */
  readonly run: string;
  /** Persistent state (reserved for later features). */
  readonly lib: string;
  readonly configFile: string;
  readonly tabFile: string;
  readonly chapFile: string;
  readonly initiatorName: string;
  /** open-iscsi's node and discovery records, and the lock iscsiadm takes to change them. */
  readonly iscsiNodes: string;
  readonly iscsiSendTargets: string;
  readonly iscsiLockDir: string;
  /** xenstored's unix socket (XENSTORED_PATH, as libxenstore reads it, else its usual place). */
  readonly xenstored: string;
}

export const DEFAULT_CONFIG_FILE = "/etc/xen/scripts/block-iscsimple.conf";
export const DEFAULT_TAB_FILE = "/etc/xen/scripts/block-iscsimple-tab.conf";
export const DEFAULT_CHAP_FILE = "/etc/xen/scripts/block-iscsimple-chap.conf";

declare const __TEST_HOOKS__: boolean | undefined;
/**
 * The host's paths. __TEST_HOOKS__ is true only in build/sim/block-iscsimple (scripts/build-sea.mjs). The installed program has no code
 * that reads BLOCK_ISCSIMPLE_ROOT: xl passes its caller's environment to hotplug scripts, and the
 * variable would move the config, the CHAP file and the tools' PATH.
 */
export function hostPaths(env: NodeJS.ProcessEnv = process.env): HostPaths {
  // written out here (not in a constant) so that the build folds it and drops the branch
  if (typeof __TEST_HOOKS__ === "boolean" && __TEST_HOOKS__) return pathsUnder(env.BLOCK_ISCSIMPLE_ROOT ?? "", env);
  return pathsUnder("", env);
}

/** The host's paths under ROOT ("": the host's own): the simulated host of the tests. */
export function pathsUnder(root: string, env: NodeJS.ProcessEnv = process.env): HostPaths {
  if (root !== "" && !path.isAbsolute(root)) throw new FailedError("the simulated host's root must be an absolute path");
  const at = (p: string): string => (root === "" ? p : path.join(root, p));
  return {
    root,
    sys: at("/sys"),
    dev: at("/dev"),
    proc: "/proc",
    procfs: at("/proc"),
    procNetUnix: at("/proc/net/unix"),
    run: at("/run/block-iscsimple"),
    lib: at("/var/lib/block-iscsimple"),
    configFile: at(DEFAULT_CONFIG_FILE),
    tabFile: at(DEFAULT_TAB_FILE),
    chapFile: at(DEFAULT_CHAP_FILE),
    initiatorName: at("/etc/iscsi/initiatorname.iscsi"),
    iscsiNodes: at("/etc/iscsi/nodes"),
    iscsiSendTargets: at("/etc/iscsi/send_targets"),
    iscsiLockDir: at("/run/lock/iscsi"),
    xenstored: xenstoredSocket(env, at),
  };
}

function xenstoredSocket(env: NodeJS.ProcessEnv, at: (p: string) => string): string {
  const p = env.XENSTORED_PATH;
  if (p === undefined || p === "") return at("/var/run/xenstored/socket");
  if (!path.isAbsolute(p) || p.length > 107 || /[\0-\x1f]/.test(p)) throw new FailedError("XENSTORED_PATH must be an absolute path to xenstored's socket");
  return p;
}

/** The same path as the administrator knows it (without the test root), for messages. */
export function shown(paths: HostPaths, p: string): string {
  return paths.root !== "" && p.startsWith(`${paths.root}/`) ? p.slice(paths.root.length) : p;
}

/** The only places host tools are looked up (never the inherited PATH). */
export const TOOL_PATH = "/usr/sbin:/usr/bin:/sbin:/bin";

/** The PATH for host tools; under the test root its bin/ (the simulated tools) comes first. */
export function toolPath(root: string = hostPaths().root): string {
  return root === "" ? TOOL_PATH : `${path.join(root, "bin")}:${TOOL_PATH}`;
}
