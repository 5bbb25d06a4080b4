import { constants, readlinkSync, realpathSync } from "node:fs";
import { open } from "node:fs/promises";
import { FailedError, oneLine } from "../core/errors";
import type { HostPaths } from "./paths";
import { join, listDir, parseDevFile, readText, sameDev, statBlock, type BlockDev } from "./sysfs";

/** A block device as sysfs knows it. */
export interface BlockNode {
  readonly name: string;
  readonly dev: BlockDev;
  /** Its folder under /sys/devices. */
  readonly sysDir: string;
}

/** A device with its relatives: the disk it is a partition of, or the partitions it has. */
export interface BlockFamily {
  readonly self: BlockNode;
  readonly parent: BlockNode | null;
  readonly partitions: readonly BlockNode[];
}

export function familyMembers(f: BlockFamily): BlockNode[] {
  return [f.self, ...(f.parent ? [f.parent] : []), ...f.partitions];
}

async function nodeAt(dir: string): Promise<BlockNode | null> {
  const dev = parseDevFile(await readText(join(dir, "dev")));
  return dev ? { name: dir.split("/").pop() as string, dev, sysDir: dir } : null;
}

/** The sysfs folder of a device: /sys/dev/block/M:m (or, where that index is missing, a scan of /sys/block). */
async function sysDirOf(paths: HostPaths, dev: BlockDev): Promise<string | null> {
  const indexed = realOrNull(join(paths.sys, "dev/block", `${dev.major}:${dev.minor}`));
  if (indexed !== null) return indexed;
  for (const name of await listDir(join(paths.sys, "block"))) {
    const dir = realOrNull(join(paths.sys, "block", name));
    if (dir === null) continue;
    if (sameDev(parseDevFile(await readText(join(dir, "dev"))), dev)) return dir;
    for (const sub of await listDir(dir)) {
      if ((await readText(join(dir, sub, "partition"))) !== null && sameDev(parseDevFile(await readText(join(dir, sub, "dev"))), dev)) return join(dir, sub);
    }
  }
  return null;
}

export async function blockFamily(paths: HostPaths, dev: BlockDev): Promise<BlockFamily | null> {
  const dir = await sysDirOf(paths, dev);
  const self = dir ? await nodeAt(dir) : null;
  if (!dir || !self) return null;
  const isPartition = (await readText(join(dir, "partition"))) !== null;
  const parent = isPartition ? await nodeAt(dir.split("/").slice(0, -1).join("/")) : null;
  const partitions: BlockNode[] = [];
  if (!isPartition) {
    for (const sub of await listDir(dir)) {
      if ((await readText(join(dir, sub, "partition"))) === null) continue;
      const n = await nodeAt(join(dir, sub));
      if (n) partitions.push(n);
    }
  }
  return { self, parent, partitions };
}

/** What the kernel lists as holding a device (md, dm, bcache...): names under holders/. */
export async function holders(node: BlockNode): Promise<string[]> {
  return listDir(join(node.sysDir, "holders"));
}

const safe = (s: string): string => oneLine(s, 200);

/** A stable name for a device's own folder: dm uuid, loop backing file, SCSI/NVMe wwid, serial. */
async function ownId(dir: string): Promise<string | null> {
  const uuid = await readText(join(dir, "dm/uuid"));
  if (uuid) return `dm-uuid:${safe(uuid)}`;
  const backing = await readText(join(dir, "loop/backing_file"));
  if (backing) return `loop:${safe(backing)}`;
  for (const f of ["device/wwid", "wwid"]) {
    const w = await readText(join(dir, f));
    if (w) return `wwid:${safe(w)}`;
  }
  for (const f of ["device/serial", "serial"]) {
    const s = await readText(join(dir, f));
    if (s) return `serial:${safe(s)}`;
  }
  return null;
}

/** The stable id of a device; a partition is named by its disk's id and its number. */
export async function stableId(f: BlockFamily): Promise<string | null> {
  if (f.parent) {
    const disk = await ownId(f.parent.sysDir);
    const n = await readText(join(f.self.sysDir, "partition"));
    return disk && n ? `${disk}/part${n}` : null;
  }
  return ownId(f.self.sysDir);
}

/** Whether the kernel lets us open the device exclusively (EBUSY: md, dm, a mount or swap holds it). */
export async function exclusiveOpenBusy(devPath: string): Promise<boolean> {
  try {
    const fh = await open(devPath, constants.O_RDONLY | constants.O_EXCL);
    await fh.close();
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EBUSY";
  }
}

/** Mount points of filesystems on these devices (/proc/self/mountinfo, field 3 is major:minor). */
export async function mountsOn(paths: HostPaths, devs: readonly BlockDev[]): Promise<string[]> {
  const file = join(paths.procfs, "self/mountinfo");
  const text = await readText(file);
  if (text === null) throw new FailedError(`cannot read ${file}: cannot tell whether the device is mounted`);
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(" ");
    const d = parseDevFile(f[2] ?? "");
    if (d && devs.some((x) => sameDev(x, d))) out.push(`mounted on ${safe((f[4] ?? "?").replace(/\\040/g, " "))}`);
  }
  return out;
}

/** Active swap areas on these devices (/proc/swaps). */
export async function swapOn(paths: HostPaths, devs: readonly BlockDev[]): Promise<string[]> {
  const text = (await readText(join(paths.procfs, "swaps"))) ?? "";
  const out: string[] = [];
  for (const line of text.split("\n").slice(1)) {
    const file = line.split(/\s+/)[0];
    if (!file) continue;
    const d = await statBlock(file.replace(/\\040/g, " "));
    if (d && devs.some((x) => sameDev(x, d))) out.push(`active swap (${safe(file)})`);
  }
  return out;
}


/** Processes that hold one of these devices open (every /proc/PID/fd/N that is that block device). */
export async function openBy(paths: HostPaths, devs: readonly BlockDev[]): Promise<string[]> {
  const out: string[] = [];
  for (const pid of await listDir(paths.procfs)) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const fdDir = join(paths.procfs, pid, "fd");
    for (const fd of await listDir(fdDir)) {
      const link = join(fdDir, fd);
      let target: string;
      try {
        target = readlinkSync(link);
      } catch {
        continue;
      }
      // sockets, pipes and anon inodes; no device node can live in /proc or /sys
      if (!target.startsWith("/") || target.startsWith("/proc/") || target.startsWith("/sys/")) continue;
      const d = await statBlock(link);
      if (d && devs.some((x) => sameDev(x, d))) {
        const comm = (await readText(join(paths.procfs, pid, "comm"))) ?? "?";
        out.push(`held open by pid ${pid} (${safe(comm)})`);
        break;
      }
    }
  }
  return out;
}

function realOrNull(p: string): string | null {
  try {
    return realpathSync(p);
  } catch {
    return null;
  }
}
