import { chapFor, chapIsDefault, untrustedForDefault, type ChapTable } from "../core/chap";
import { writeChap, writeNodeSettings } from "./node-records";
import { iscsiadm, parseNodeList } from "../core/commands";
import { loginSettings } from "../core/plan";
import type { Config } from "../core/config";
import { sleepMs, type Deadline } from "../host/clock";
import { shown } from "../host/paths";
import { join, listDir, readText } from "../host/sysfs";
import type { Host } from "./host";
import { flushMaps } from "./multipath";
import { targetLockName } from "../host/locks";
import { iscsiNameProblem } from "../core/iqn";
import { parsePortal } from "../core/portal";

export interface DiscoveredLun {
  readonly lun: number;
  readonly device: string;
  readonly sizeBytes: number;
  readonly vendor: string;
  readonly model: string;
  readonly scsiId: string | null;
  readonly diskLine: string;
}

export interface DiscoveredTarget {
  readonly iqn: string;
  readonly portals: string[];
  luns?: DiscoveredLun[];
  lunError?: string;
}

/** A target name or portal a filer announced that would not pass as a spec: shown escaped, never used. */
export interface RejectedTarget {
  /** The name as announced, control characters escaped. */
  readonly name: string;
  readonly portal: string;
  readonly why: string;
}

/** Text from the network, made safe for a terminal: control characters as \xHH, bounded. */
export function escapeShown(s: string, max = 200): string {
  const e = s.replace(/[\u0000-\u001f\u007f-\u009f\\]/g, (c) => (c === "\\" ? "\\\\" : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`));
  return e.length > max ? `${e.slice(0, max)}…` : e;
}

/**
 * sendtargets on each portal (nonpersistent: no node record is left), grouped by target. Every name
 * and portal is checked with the rules of a spec: what fails is listed as rejected, and never used.
 */
export async function discoverTargets(host: Host, portals: readonly string[], chap: ChapTable, deadline: Deadline, rejected: RejectedTarget[] = []): Promise<DiscoveredTarget[]> {
  const byIqn = new Map<string, DiscoveredTarget>();
  for (const portal of portals) {
    // a listing: no node record is made or changed, and a discovery record made for it goes again
    const out = await host.iscsi.discover(portal, deadline, chap.discovery, true);
    for (const { portal: p, iqn } of parseNodeList(out)) {
      const why = iscsiNameProblem(iqn) ?? (typeof parsePortal(p) === "string" ? `portal ${escapeShown(p, 80)}: ${parsePortal(p) as string}` : null);
      if (why) {
        if (!rejected.some((r) => r.name === escapeShown(iqn))) rejected.push({ name: escapeShown(iqn), portal: escapeShown(p, 80), why: escapeShown(why) });
        continue;
      }
      const t = byIqn.get(iqn) ?? { iqn, portals: [] };
      if (!t.portals.includes(p)) t.portals.push(p);
      byIqn.set(iqn, t);
    }
  }
  return [...byIqn.values()].sort((a, b) => a.iqn.localeCompare(b.iqn));
}

/**
 * Lists a target's LUNs: logs in if no session exists (and out again), reads sysfs. Holds the
 * target's lock throughout, as add and remove do, so no attachment can start using the short
 * session meanwhile; and never logs out of (or deletes the node record of) a target that an
 * attachment uses.
 */
export async function listLuns(host: Host, t: DiscoveredTarget, config: Config, chap: ChapTable, trusted: readonly string[], deadline: Deadline): Promise<DiscoveredLun[]> {
  await host.store.ensure();
  return host.locks.with(targetLockName(t.iqn), deadline, () => listLunsLocked(host, t, config, chap, trusted, deadline));
}

async function listLunsLocked(host: Host, t: DiscoveredTarget, config: Config, chap: ChapTable, trusted: readonly string[], deadline: Deadline): Promise<DiscoveredLun[]> {
  const had = await host.iscsi.sessions(t.iqn);
  let created = false;
  let loggedIn = false;
  try {
    if (had.length === 0) {
      if ((await host.iscsi.nodePortals(t.iqn, deadline)).length === 0) {
        for (const p of t.portals) await host.run.run(iscsiadm.newNode(t.iqn, p), deadline);
        created = true;
      }
      // [default] credentials only to portals the administrator named on the command line
      const untrusted = chapIsDefault(chap, t.iqn) ? untrustedForDefault(t.portals, trusted) : [];
      if (untrusted.length > 0) host.log.warn(`the [default] CHAP credentials are not offered to ${t.iqn} at ${untrusted.join(", ")}: not a portal named on the command line`);
      const c = untrusted.length > 0 ? null : chapFor(chap, t.iqn);
      await writeNodeSettings(host, t.iqn, loginSettings(config), deadline);
      // secrets into the node records' files, never on a command line
      // [default] credentials: also only to the portals of the node records that are named
      if (c) await writeChap(host, t.iqn, { chap: c, onlyTo: chapIsDefault(chap, t.iqn) ? trusted : null }, deadline);
      await host.iscsi.login(t.iqn, deadline);
      loggedIn = true;
      await settle(host, t.iqn, deadline);
    }
    return await readLuns(host, t.iqn);
  } finally {
    const users = (await host.store.attachments()).filter((r) => r.iqn === t.iqn && r.claimsTarget);
    if (users.length > 0 && (loggedIn || created)) {
      host.log.warn(`${t.iqn} is used by ${users.map((r) => r.spec).join(", ")}: its session and node record stay`);
      loggedIn = false;
      created = false;
    }
    if (loggedIn) {
      // multipathd may have built maps over the LUNs meanwhile: remove them first, as remove does
      await flushMaps(host, t.iqn, deadline).catch(() => undefined);
      await host.iscsi.logout(t.iqn, deadline).catch(() => undefined);
    }
    if (created) await host.run.run(iscsiadm.deleteNode(t.iqn), deadline, [0, 21]).catch(() => undefined);
  }
}

/** Waits until the LUNs the login found stop appearing (no fixed sleep: 300 ms without change). */
async function settle(host: Host, iqn: string, deadline: Deadline): Promise<void> {
  let last = -1;
  let stableSince = performance.now();
  while (deadline.remainingMs() > 0) {
    const n = (await readLuns(host, iqn)).length;
    if (n !== last) {
      last = n;
      stableSince = performance.now();
    } else if (n > 0 && performance.now() - stableSince > 300) return;
    else if (performance.now() - stableSince > 3000) return;
    await sleepMs(50);
  }
}

async function readLuns(host: Host, iqn: string): Promise<DiscoveredLun[]> {
  const out: DiscoveredLun[] = [];
  const seen = new Set<number>();
  for (const { lun, dir } of await host.iscsi.lunDirs(iqn)) {
    const [name] = await listDir(join(dir, "block"));
    if (name === undefined || seen.has(lun)) continue; // no block device: the target's controller LUN
    seen.add(lun);
    const sectors = Number((await readText(join(host.paths.sys, "block", name, "size"))) ?? "0");
    out.push({
      lun,
      device: shown(host.paths, join(host.paths.dev, name)),
      sizeBytes: sectors * 512,
      vendor: escapeShown((await readText(join(dir, "vendor"))) ?? "", 40),
      model: escapeShown((await readText(join(dir, "model"))) ?? "", 40),
      scsiId: ((id) => (id === null ? null : escapeShown(id, 120)))(await readText(join(dir, "wwid"))),
      diskLine: `'vdev=xvdX,access=w,script=block-iscsimple,target=lun${lun}@${iqn}'`,
    });
  }
  return out.sort((a, b) => a.lun - b.lun);
}
