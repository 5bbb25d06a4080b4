import { multipath, udevadm } from "../core/commands";
import { MAP_FORMAT, parseMapReport, validMapName, type MapReport } from "../core/multipath";
import { sleepMs, type Deadline } from "./clock";
import type { HostPaths } from "./paths";
import { CommandError, type Runner } from "./run";
import { join, listDir, parseDevFile, readText, sameDev, statBlock, type BlockDev } from "./sysfs";

/** A dm-multipath map, as sysfs shows it. */
export interface MpathMap {
  /** The map's name (/dev/mapper/NAME). */
  readonly name: string;
  /** Its kernel name, dm-N. */
  readonly kernelName: string;
  readonly wwid: string;
  /** /dev/mapper/NAME, or /dev/dm-N when udev made no link. */
  readonly path: string;
  readonly dev: BlockDev;
  /** The path devices (sdX) under it. */
  readonly paths: readonly string[];
}

/** The abstract unix socket multipathd listens on (its clients connect to it). */
const MULTIPATHD_SOCKET = "@/org/kernel/linux/storage/multipathd";

/** dm-multipath through sysfs, multipath and multipathd. */
export class Multipath {
  constructor(
    private readonly run: Runner,
    private readonly paths: HostPaths,
  ) {}

  /** Whether multipathd (or systemd for it) listens on its socket: a read of /proc/net/unix, no command. */
  async daemonListening(): Promise<boolean> {
    const text = (await readText(this.paths.procNetUnix)) ?? "";
    return text.split("\n").some((line) => line.trimEnd().endsWith(` ${MULTIPATHD_SOCKET}`));
  }

  /** The multipath map holding any of these path devices (sdX), from /sys/block/sdX/holders. */
  async mapOf(pathDevices: readonly string[]): Promise<MpathMap | null> {
    for (const sd of pathDevices) {
      for (const holder of await listDir(join(this.paths.sys, "block", sd, "holders"))) {
        const m = await this.map(holder);
        if (m) return m;
      }
    }
    return null;
  }

  /** dm-N as a multipath map, or null when it is another kind of dm device (or gone). */
  async map(kernelName: string): Promise<MpathMap | null> {
    if (!/^dm-\d+$/.test(kernelName)) return null;
    const base = join(this.paths.sys, "block", kernelName);
    const uuid = await readText(join(base, "dm", "uuid"));
    const name = await readText(join(base, "dm", "name"));
    const dev = parseDevFile(await readText(join(base, "dev")));
    if (!uuid?.startsWith("mpath-") || !name || !validMapName(name) || !dev) return null;
    let path = join(this.paths.dev, "mapper", name);
    if (!sameDev(await statBlock(path), dev)) path = join(this.paths.dev, kernelName);
    if (!sameDev(await statBlock(path), dev)) return null;
    return { name, kernelName, wwid: uuid.slice("mpath-".length), path, dev, paths: await listDir(join(base, "slaves")) };
  }

  /**
   * Whether multipath's configuration makes DEV a multipath path (`multipath -c`): true, false,
   * or null when multipath-tools is not installed.
   */
  async claims(dev: string, deadline: Deadline): Promise<boolean | null> {
    try {
      return (await this.run.run(multipath.claims(dev), deadline, [0, 1])).code === 0;
    } catch (err) {
      if (err instanceof CommandError && err.notFound) return null;
      throw err;
    }
  }

  /** Lets udev finish the queued events (a timeout, or no udevadm at all, is not an error). */
  async settle(deadline: Deadline): Promise<void> {
    const seconds = Math.max(1, Math.floor(deadline.remainingMs() / 1000));
    try {
      await this.run.run(udevadm.settle(seconds), deadline, [0, 1]);
    } catch (err) {
      if (!(err instanceof CommandError)) throw err;
    }
  }

  /** multipathd's report on a map, or null when multipathd does not answer (not running). */
  async report(name: string, deadline: Deadline): Promise<MapReport | null> {
    try {
      const r = await this.run.run(multipath.maps(MAP_FORMAT), deadline);
      return parseMapReport(r.stdout).find((m) => m.name === name) ?? null;
    } catch (err) {
      if (err instanceof CommandError && (err.status !== null || err.notFound)) return null;
      throw err;
    }
  }

  async disableQueueing(name: string, deadline: Deadline): Promise<void> {
    await this.run.run(multipath.disableQueueing(name), deadline);
  }

  /**
   * Removes the map (`multipath -f`), retrying while it is still busy (udev may hold it open for a
   * moment after the array above it stopped).
   */
  async flush(name: string, deadline: Deadline): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.run.run(multipath.flush(name), deadline);
        return;
      } catch (err) {
        if (!(err instanceof CommandError) || err.status === null || attempt >= 5 || deadline.remainingMs() < 1500) throw err;
        await sleepMs(200 * attempt);
      }
    }
  }
}
