import { blkid } from "../core/commands";
import { RefusedError, InputError } from "../core/errors";
import { clashMessage, describeIdentity, judgeLocal, sameDisk, type LocalIdentity, type LocalVerdict, type LocalView } from "../core/local-leg";
import { describeOwner, type Owner } from "../core/records";
import type { Tab, TabEntry } from "../core/tab";
import { blockFamily, exclusiveOpenBusy, familyMembers, holders, mountsOn, openBy, stableId, swapOn } from "../host/blockdev";
import { sleepMs, type Deadline } from "../host/clock";
import { shown } from "../host/paths";
import { describePath, join, readText, sameDev, statBlock, type BlockDev } from "../host/sysfs";
import type { Host } from "./host";

export interface LocalCandidate {
  readonly label: string;
  /** The device path as the program opens it (under the test root in the simulation). */
  readonly path: string;
  /** The attachment asking (its own record is not a use). */
  readonly id: string;
  readonly owner: Owner;
  /** false when nothing is copied over the local leg (no iSCSI leg: MISSING). */
  readonly overwritten?: boolean;
}

/** The local leg as checked: its identity and the verdict, for the record. */
export interface LocalChecked {
  readonly identity: LocalIdentity;
  readonly device: string;
  readonly verdict: LocalVerdict;
}

/**
 * Everything that says whether a device may be written as LABEL's local leg: who uses it (ours,
 * iSCSI sessions, Xen backends, the kernel's holders, mounts, swap, open files, an exclusive
 * open), which disk the label used before, and (for a disk never used) whether it holds data.
 */
export async function inspectLocal(host: Host, c: LocalCandidate, deadline: Deadline, confirmed: boolean): Promise<LocalView> {
  const device = shown(host.paths, c.path);
  const dev = await statBlock(c.path);
  if (!dev) throw new InputError(`label '${c.label}': local leg ${device} is ${await describePath(c.path)}, not a block device`);
  const family = await blockFamily(host.paths, dev);
  if (!family) throw new RefusedError(`label '${c.label}': local leg ${device} (${dev.major}:${dev.minor}) is not known to the kernel (no /sys/dev/block/${dev.major}:${dev.minor})`);
  const members = familyMembers(family);
  const devs = members.map((m) => m.dev);
  const hit = (d: BlockDev | null | undefined): boolean => d != null && devs.some((x) => sameDev(x, d));
  const uses: string[] = [];
  for (const r of await host.store.attachments()) {
    if (r.id === c.id) continue;
    const roles: [string, BlockDev | null][] = [["iSCSI leg", r.iscsi], ["local leg", r.local], ["md array", r.md]];
    for (const [role, d] of roles) if (hit(d)) uses.push(`it is the ${role} of ${r.spec} (${describeOwner(r.owner)})`);
  }
  for (const lun of await host.iscsi.allLuns()) {
    if (hit(lun.dev)) uses.push(`it is lun${lun.lun} of ${lun.iqn} (iSCSI session ${lun.session})`);
    for (const h of await holders({ name: lun.name, dev: lun.dev, sysDir: join(host.paths.sys, "block", lun.name) })) {
      if (members.some((m) => m.name === h)) uses.push(`it is ${h}, built on lun${lun.lun} of ${lun.iqn}`);
    }
  }
  for (const m of members) for (const h of await holders(m)) uses.push(`${m.name} is held by ${h} (md, device-mapper, LVM...)`);
  uses.push(...(await mountsOn(host.paths, devs)), ...(await swapOn(host.paths, devs)), ...(await openersSettled(host, devs, deadline)));
  if (await exclusiveOpenBusy(c.path)) uses.push("the kernel refuses an exclusive open (something holds it)");
  if (c.owner.kind === "xen" || (await readText(join(host.paths.sys, "hypervisor/type"))) === "xen") {
    for (const b of await host.xs.backendDevices(deadline)) {
      if (c.owner.kind === "xen" && b.backend === c.owner.backend) continue;
      if (hit(b)) uses.push(`it is the disk of a Xen domain (${b.backend}/physical-device)`);
    }
  }
  const identity: LocalIdentity = { major: dev.major, minor: dev.minor, id: await stableId(family) };
  for (const g of await host.guard.list()) {
    if (g.label !== c.label && g.local && (sameDisk(g.local, identity) || hit(g.local))) {
      uses.push(`it holds the only current data of label '${g.label}' (direction guard since ${g.since})`);
    }
  }
  let recorded;
  try {
    recorded = await host.localStore.get(c.label);
  } catch (err) {
    throw new RefusedError(`label '${c.label}': the record of its local disk cannot be read (${(err as Error).message}); fix or remove it, then: block-iscsimple accept-local ${c.label}`);
  }
  const signatures = uses.length === 0 && recorded === null && !confirmed && c.overwritten !== false ? await probeSignatures(host, c.path, deadline) : [];
  return { label: c.label, device, identity, uses: [...new Set(uses)], recorded, signatures };
}

/** udev probes a device for a moment after its last writer closed it (md stopping an array, say). */
const UDEV_COMM = /udev/;
const UDEV_WAIT_MS = 3000;

/**
 * The processes holding the devices open; opens by udev's workers alone are waited out (up to
 * UDEV_WAIT_MS), since udev probes a device right after md or another writer let it go.
 */
async function openersSettled(host: Host, devs: readonly BlockDev[], deadline: Deadline): Promise<string[]> {
  const limit = deadline.slice(UDEV_WAIT_MS);
  for (;;) {
    const found = await openBy(host.paths, devs);
    if (found.length === 0 || !found.every((f) => UDEV_COMM.test(f)) || limit.remainingMs() <= 0) return found;
    await sleepMs(Math.min(100, limit.remainingMs()));
  }
}

/** What blkid finds on a device: filesystems, LVM, RAID members, partition tables. */
async function probeSignatures(host: Host, path: string, deadline: Deadline): Promise<string[]> {
  let r;
  try {
    r = await host.run.run(blkid.probe(path), deadline, [0, 2, 8]);
  } catch (err) {
    throw new RefusedError(`cannot tell whether ${shown(host.paths, path)} holds data: ${(err as Error).message} (blkid, from util-linux, checks a disk never used before)`);
  }
  if (r.code === 2) return [];
  if (r.code === 8) return ["several signatures (blkid: ambivalent)"];
  const kv = new Map<string, string>();
  for (const line of r.stdout.split("\n")) {
    const m = /^([A-Z_]+)=([A-Za-z0-9_.+-]{1,40})$/.exec(line.trim());
    if (m) kv.set(m[1] as string, m[2] as string);
  }
  const out: string[] = [];
  const type = kv.get("TYPE");
  if (type) out.push(`${type} data${kv.get("USAGE") ? ` (${kv.get("USAGE")})` : ""}`);
  if (kv.get("PTTYPE")) out.push(`a ${kv.get("PTTYPE")} partition table`);
  return out.length > 0 ? out : ["a signature blkid found"];
}

/** Checks the local leg and, when the verdict says so, records its disk as the label's. */
export async function checkLocal(host: Host, c: LocalCandidate, deadline: Deadline, confirmed: boolean): Promise<LocalChecked> {
  const view = await inspectLocal(host, c, deadline, confirmed);
  const verdict = judgeLocal(view, confirmed, c.overwritten !== false);
  return { identity: view.identity, device: view.device, verdict };
}

export async function recordLocal(host: Host, label: string, checked: LocalChecked, accepted: boolean): Promise<void> {
  await host.localStore.put({ label, device: checked.device, ...checked.identity, since: new Date().toISOString(), ...(accepted ? { accepted: true } : {}) });
  host.log.step(`${label}: its local leg is ${checked.device} (${describeIdentity(checked.identity)})${accepted ? ", confirmed by the administrator" : ""}`);
}

/**
 * Two labels of tab.conf must not name one disk (or a disk and a partition of it): each would
 * overwrite the other's data. Throws the tab.conf error for LABEL (or, with label null, the first clash).
 */
export async function tabClash(host: Host, tab: Tab, file: string, label: string | null): Promise<void> {
  const devs: { e: TabEntry; devs: BlockDev[]; shown: string }[] = [];
  for (const e of tab.values()) {
    if (e.device === null) continue;
    const dev = await statBlock(host.paths.root + e.device);
    if (!dev) continue; // reported by itself when used
    const family = await blockFamily(host.paths, dev);
    devs.push({ e, devs: family ? familyMembers(family).map((m) => m.dev) : [dev], shown: `${dev.major}:${dev.minor}` });
  }
  for (const a of devs) {
    if (label !== null && a.e.label !== label) continue;
    for (const b of devs) {
      if (b.e === a.e || !a.devs.some((x) => b.devs.some((y) => sameDev(x, y)))) continue;
      throw new InputError(clashMessage(file, { label: a.e.label, line: a.e.line, other: b.e.label, otherLine: b.e.line }, `${a.e.device} ${a.shown}, ${b.e.device} ${b.shown}`));
    }
  }
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(bytes % 2 ** 20 === 0 ? 0 : 1)} MiB`;

/**
 * Why LOCAL cannot be the local leg of a mirror of the LUN whose device is LUNNAME (sysfs name):
 * it is smaller. null when it is large enough, or when a size cannot be read.
 */
export async function sizeProblem(host: Host, label: string, local: string, lunName: string): Promise<string | null> {
  const lunSectors = Number(await readText(join(host.paths.sys, "block", lunName, "size")));
  const dev = await statBlock(local);
  const family = dev ? await blockFamily(host.paths, dev) : null;
  const localSectors = family ? Number(await readText(join(family.self.sysDir, "size"))) : NaN;
  if (!(lunSectors > 0) || !(localSectors > 0) || localSectors >= lunSectors) return null;
  return `label '${label}': the local leg ${shown(host.paths, local)} (${mib(localSectors * 512)}) is smaller than its LUN (${mib(lunSectors * 512)}): it cannot hold a mirror of it; give the label a disk at least as large`;
}
