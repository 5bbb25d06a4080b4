import { FailedError, InputError, InternalError, RefusedError } from "../core/errors";
import { describeQueueing, judgeQueueing } from "../core/multipath";
import type { Step } from "../core/plan";
import { pollUntil, type Deadline } from "../host/clock";
import type { MpathMap } from "../host/multipath";
import { shown } from "../host/paths";
import { hexDev, type BlockDev } from "../host/sysfs";
import type { Host } from "./host";
import { devRef } from "../core/records";
import type { StepContext } from "./step-context";

type MultipathStep = Extract<Step, { kind: "multipath" }>;

/**
 * After find-lun: when multipathd manages the LUN, its map becomes the iSCSI leg. The map is the
 * one holding the LUN's path devices (its dm uuid is mpath-WWID); when multipath claims the path
 * but has no map yet, we wait for multipathd to build it. A map that would queue I/O forever with
 * no path left is made to fail I/O instead (or we warn), so that md can fail over to the local leg.
 */
export async function useMultipath(c: StepContext, s: MultipathStep): Promise<void> {
  const { host, journal, deadline } = c;
  const lun = journal.record.iscsi;
  if (!lun) throw new InternalError("multipath before find-lun");
  const pathsOf = async () => (await host.iscsi.lunPaths(s.iqn, s.lun)).map((p) => p.name);
  let map = await host.mpath.mapOf(await pathsOf());
  if (s.use === "no") {
    if (map) throw new InputError(`lun${s.lun} of ${s.iqn} is held by the multipath map ${map.name}, but the config says [multipath] use = no`);
    return;
  }
  if (!map) {
    if (!(await host.mpath.daemonListening())) {
      await onePath(c, s, lun.path, "multipathd is not running");
      return;
    }
    let claimed = await host.mpath.claims(lun.path, deadline);
    if (claimed === false) {
      // multipath judges a path by its WWID in udev's database: a device that appeared a moment
      // ago may not be there yet (and md would then take the path from under multipathd)
      await host.mpath.settle(deadline.slice(s.waitS * 1000));
      claimed = await host.mpath.claims(lun.path, deadline);
    }
    if (claimed !== true) {
      await onePath(c, s, lun.path, claimed === null ? "multipath-tools is not installed" : "multipath does not claim it (blacklist or find_multipaths)");
      return;
    }
    const t0 = performance.now();
    map = await pollUntil(async () => host.mpath.mapOf(await pathsOf()), deadline.slice(s.waitS * 1000), 200);
    host.run.timings.add("wait-multipath", performance.now() - t0);
    if (!map) {
      throw new FailedError(
        `multipath claims ${shown(host.paths, lun.path)} (multipath -c) but multipathd built no map for it within ${s.waitS} s: is multipathd running? ([multipath] use = no uses one path)`,
      );
    }
  }
  map = await waitForAllPaths(c, map, pathsOf);
  // the map must be the LUN found: it holds that path, and multipath's WWID is the path's (a filer
  // that shows another volume at this LUN number through another portal gets a map of that volume)
  const pathWwid = journal.record.iscsiWwid;
  const mapWwid = map.wwid.toLowerCase();
  if (!map.paths.includes(lun.name) || (pathWwid != null && pathWwid !== mapWwid)) {
    throw new RefusedError(
      `lun${s.lun} of ${s.iqn} is ${shown(host.paths, lun.path)} (WWID ${pathWwid ?? "unknown"}), but the multipath map ${map.name} (WWID ${mapWwid}) over ${map.paths.join(", ")} ${map.paths.includes(lun.name) ? "names another volume" : "does not hold it"}: the filer may show another volume at this LUN number through another portal; nothing was copied ([multipath] use = no uses the one path)`,
    );
  }
  await checkQueueing(c, s, map);
  host.log.step(`lun${s.lun} of ${s.iqn} is the multipath map ${shown(host.paths, map.path)} (${hexDev(map.dev)}, WWID ${map.wwid}) over ${map.paths.join(", ")}`);
  // the map is known by its WWID only when the LUN's path said the same (find-lun read it)
  if (pathWwid == null) host.log.warn(`multipath map ${map.name} has WWID ${mapWwid}, the LUN's path none: no WWID is recorded`);
  await journal.update({ iscsi: devRef(map.path, map.kernelName, map.dev), iscsiWwid: pathWwid === mapWwid ? mapWwid : null });
}

/** Says why the leg is one path, when the target has several sessions. */
async function onePath(c: StepContext, s: MultipathStep, device: string, why: string): Promise<void> {
  const sessions = await c.host.iscsi.sessions(s.iqn);
  if (sessions.length > 1) c.host.log.step(`${shown(c.host.paths, device)} is one path of ${sessions.length}: ${why}`);
}

/** multipathd adds the paths one by one: wait a moment for those the sessions have, not for ever. */
async function waitForAllPaths(c: StepContext, first: MpathMap, pathsOf: () => Promise<string[]>): Promise<MpathMap> {
  const want = new Set(await pathsOf());
  const complete = await pollUntil(async () => {
    const m = await c.host.mpath.map(first.kernelName);
    return m && [...want].every((p) => m.paths.includes(p)) ? m : null;
  }, c.deadline.slice(3000), 200);
  if (complete) return complete;
  const now = (await c.host.mpath.map(first.kernelName)) ?? first;
  c.host.log.warn(`multipath map ${now.name} has ${now.paths.length} of the ${want.size} paths of its LUN (${[...want].join(", ")}); going on`);
  return now;
}

async function checkQueueing(c: StepContext, s: MultipathStep, map: MpathMap): Promise<void> {
  const { host, deadline } = c;
  const report = await host.mpath.report(map.name, deadline);
  if (!report) {
    host.log.warn(`multipathd did not report on map ${map.name}: cannot check that it fails I/O when no path is left`);
    return;
  }
  const q = judgeQueueing(report);
  if (q.kind !== "forever") {
    host.log.step(`multipath map ${map.name} ${describeQueueing(q)}`);
    return;
  }
  const why = `multipath map ${map.name} ${describeQueueing(q)} (no_path_retry queue): md could never fail over to the local leg`;
  if (s.queueing === "warn") {
    host.log.warn(`${why}; set no_path_retry to a number in multipath.conf ([multipath] queueing = warn leaves it)`);
    return;
  }
  await host.mpath.disableQueueing(map.name, deadline);
  const after = await host.mpath.report(map.name, deadline);
  if (!after || judgeQueueing(after).kind === "forever") throw new FailedError(`${why}, and multipathd disablequeueing did not change it`);
  host.log.step(`${why}: queueing disabled on it (multipathd disablequeueing); it now ${describeQueueing(judgeQueueing(after))}`);
}

/** The iSCSI leg's device as heal finds it, with every WWID that names it now. */
export interface IscsiLegNow {
  readonly path: string;
  readonly name: string;
  readonly dev: BlockDev;
  /** A map's own WWID and each of its paths' (one path: its own); null where the kernel gives none. */
  readonly wwids: readonly (string | null)[];
}

/**
 * The device of the iSCSI leg once its target is back, for heal: the LUN's multipath map when one
 * holds its paths (after multipathd has reinstated a path), else the LUN's device itself.
 */
export async function iscsiLegNow(host: Host, iqn: string, lun: number, deadline: Deadline): Promise<IscsiLegNow> {
  const dev = await host.iscsi.waitLun(iqn, lun, deadline);
  if (!dev) throw new FailedError(`lun${lun} of ${iqn} is not back (session logged in, but no device)`);
  const found = await host.iscsi.lunPaths(iqn, lun);
  const paths = found.map((p) => p.name);
  // what the kernel read when the device appeared may be another volume's: read it again
  const live: string[] = [];
  for (const p of found) if ((await host.iscsi.sessionState(p.session)) === "LOGGED_IN") live.push(p.name);
  await host.iscsi.refreshIdentity(live, deadline);
  // a path whose session is down tells nothing now: only the live paths' WWIDs are evidence
  const pathWwids = await Promise.all(live.map((p) => host.iscsi.wwid(p)));
  const map = await host.mpath.mapOf(paths);
  if (!map) return { ...dev, wwids: [live.includes(dev.name) ? await host.iscsi.wwid(dev.name) : null] };
  const active = await pollUntil(async () => {
    const r = await host.mpath.report(map.name, deadline);
    return r === null || r.activePaths > 0 ? true : null;
  }, deadline, 500);
  if (!active) throw new FailedError(`multipath map ${map.name} of lun${lun} has no active path yet; heal again when multipathd has reinstated one`);
  if (pathWwids.length === 0) throw new FailedError(`multipath map ${map.name} of lun${lun} has no path with a logged-in session yet; heal again when one is back`);
  return { path: map.path, name: map.kernelName, dev: map.dev, wwids: [map.wwid.toLowerCase(), ...pathWwids] };
}

/** Removes the multipath maps over the target's LUNs before logout, as multipath users should. */
export async function flushMaps(host: Host, iqn: string, deadline: Deadline): Promise<void> {
  const seen = new Set<string>();
  for (const { name } of await host.iscsi.lunPaths(iqn, null)) {
    const map = await host.mpath.mapOf([name]);
    if (!map || seen.has(map.kernelName)) continue;
    seen.add(map.kernelName);
    host.log.step(`removing the multipath map ${map.name} (${map.wwid}) before logout`);
    await host.mpath.flush(map.name, deadline);
  }
}
