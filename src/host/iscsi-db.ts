import { InternalError } from "../core/errors";
import { link, mkdir, readdir, readFile, rm, stat } from "node:fs/promises";
import { closeSync, constants, existsSync, openSync } from "node:fs";
import { checkPrivateDir, readNoFollow, replaceFile } from "./safe-files";
import path from "node:path";
import { sleepMs, type Deadline } from "./clock";
import type { HostPaths } from "./paths";

/**
 * open-iscsi's node database, for the one thing iscsiadm cannot be told without a command line:
 * CHAP credentials. `iscsiadm -o update -n ...password -v SECRET` would put the secret in
 * /proc/PID/cmdline, readable by every local user. Instead the settings are written into the
 * record files the way iscsiadm writes them (`name = value` lines, read back byte for byte to the
 * end of the line), under iscsiadm's own lock (a link of /run/lock/iscsi/lock to lock.write), with
 * a temporary file and a rename. Node records: /etc/iscsi/nodes/IQN/PORTAL/IFACE (or the older
 * /etc/iscsi/nodes/IQN/PORTAL file); discovery records: /etc/iscsi/send_targets/ADDR,PORT/st_config.
 */
export class IscsiDb {
  constructor(private readonly paths: HostPaths) {}

  private async withIdbmLock<T>(deadline: Deadline, fn: () => Promise<T>): Promise<T> {
    // /run/lock is writable by everyone: its iscsi folder is used only as root's own (made here
    // 0700 if missing, as iscsiadm would make it), the lock file opened without following a link
    const dir = this.paths.iscsiLockDir;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    checkPrivateDir(dir);
    const lock = path.join(dir, "lock");
    const write = path.join(dir, "lock.write");
    closeSync(openSync(lock, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600));
    // iscsiadm waits 30 s for the lock, then goes on without it (a killed iscsiadm leaves it
    // behind): we wait at most 3 s, or what the deadline allows, and then do the same
    const limit = deadline.slice(3000);
    let held = false;
    for (;;) {
      try {
        await link(lock, write);
        held = true;
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST" || limit.remainingMs() <= 0) break;
        await sleepMs(10);
      }
    }
    try {
      return await fn();
    } finally {
      if (held) await rm(write, { force: true });
    }
  }

  /** The record files of IQN's node records (one per portal and iface). */
  private async nodeFiles(iqn: string): Promise<string[]> {
    const dir = path.join(this.paths.iscsiNodes, iqn);
    const out: string[] = [];
    let portals: string[];
    try {
      portals = (await readdir(dir)).sort();
    } catch {
      return [];
    }
    for (const p of portals) {
      const full = path.join(dir, p);
      const st = await stat(full).catch(() => null);
      if (p.startsWith(".")) continue;
      if (st?.isDirectory()) {
        for (const iface of (await readdir(full)).sort()) if (!iface.startsWith(".")) out.push(path.join(full, iface));
      } else if (st?.isFile()) {
        // the older layout, which open-iscsi still reads: nodes/IQN/ADDRESS,PORT is the record itself
        out.push(full);
      }
    }
    return out;
  }

  /**
   * The settings of each node record of IQN (one map per record file), as iscsiadm reads them at
   * login; none when the target has no record file here (or they cannot be read).
   */
  async nodeSettings(iqn: string): Promise<Record<string, string>[]> {
    const out: Record<string, string>[] = [];
    for (const f of await this.nodeFiles(iqn)) {
      const text = await readFile(f, "utf8").catch(() => null);
      if (text === null) return [];
      const rec: Record<string, string> = {};
      for (const line of text.split("\n")) {
        const i = line.indexOf("=");
        if (i > 0 && !line.startsWith("#")) rec[line.slice(0, i).trim()] = line.slice(i + 1).trim();
      }
      out.push(rec);
    }
    return out;
  }

  /** Sets NAME = VALUE lines in every node record of IQN; returns how many records were written. */
  async setNode(iqn: string, settings: readonly (readonly [string, string])[], deadline: Deadline): Promise<number> {
    return this.withIdbmLock(deadline, async () => {
      const files = await this.nodeFiles(iqn);
      for (const f of files) await rewrite(f, settings);
      return files.length;
    });
  }

  private discoveryFile(portal: string): string {
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(portal);
    if (!m) throw new InternalError(`portal '${portal}' is not HOST:PORT`);
    return path.join(this.paths.iscsiSendTargets, `${m[1]},${m[2]}`, "st_config");
  }

  /** Whether PORTAL (HOST:PORT) has a sendtargets discovery record. */
  hasDiscovery(portal: string): boolean {
    return existsSync(this.discoveryFile(portal));
  }

  /** Sets NAME = VALUE lines in the sendtargets discovery record of PORTAL (HOST:PORT). */
  async setDiscovery(portal: string, settings: readonly (readonly [string, string])[], deadline: Deadline): Promise<void> {
    const file = this.discoveryFile(portal);
    await this.withIdbmLock(deadline, () => rewrite(file, settings));
  }
}

/** Replaces (or appends) NAME = VALUE lines of a record file: a new file, then a rename. */
function rewrite(file: string, settings: readonly (readonly [string, string])[]): Promise<void> {
  for (const [name, value] of settings) {
    if (!/^[a-z_.[\]0-9]+$/i.test(name) || /[\r\n]/.test(value)) throw new InternalError(`bad node setting ${name}`);
  }
  const text = readNoFollow(file);
  if (text === null) throw new InternalError(`node record ${file} is gone`);
  const lines = text.split("\n").filter((l) => l !== "");
  const keyOf = (l: string): string => l.split("=")[0]?.trim() ?? "";
  const out = lines.filter((l) => !settings.some(([n]) => keyOf(l) === n || keyOf(l) === `${n}_length`));
  for (const [name, value] of settings) out.push(`${name} = ${value}`);
  // a new file (never through a link, only in a folder of root's) renamed over the record
  replaceFile(file, `${out.join("\n")}\n`, { mode: 0o600, durable: true });
  return Promise.resolve();
}
