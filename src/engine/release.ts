import { readFile } from "node:fs/promises";
import { assessHealth, type Health } from "../core/health";
import type { ArrayState } from "../core/md-state";
import type { Undo } from "../core/plan";
import type { AttachmentRecord, DevRef } from "../core/records";
import type { Deadline } from "../host/clock";
import { pidAlive, processStart, targetLockName } from "../host/locks";
import type { MdArray } from "../host/md";
import { sameDev } from "../host/sysfs";
import type { Host } from "./host";
import type { Journal } from "./journal";
import { markGuard } from "./guard";

/**
 * The undo of each claim an attachment holds. Rollback of a failed add and `remove` both use
 * these, so connect and disconnect stay symmetric. Each looks at the host first: it is idempotent
 * and copes with an add that stopped anywhere (even SIGKILLed mid-command).
 */
export async function runUndo(host: Host, journal: Journal, undo: Undo, deadline: Deadline): Promise<void> {
  if (undo.kind === "stop-array") await releaseArray(host, journal, undo.label, deadline);
  else await releaseTarget(host, journal, undo.iqn, deadline);
}

/** The live array this record built, found by its members, never by its (unstable) name. */
export async function findOurArray(host: Host, r: AttachmentRecord): Promise<MdArray | null> {
  const legs = [r.iscsi, r.local].filter((d): d is DevRef => d !== null);
  for (const leg of legs) {
    const a = await host.md.findByMember(leg);
    if (a) return a;
  }
  return null;
}

async function releaseArray(host: Host, journal: Journal, label: string, deadline: Deadline): Promise<void> {
  const me = journal.record;
  if (!me.claimsArray) return;
  const others = (await host.store.attachments()).filter((r) => r.id !== me.id && r.label === label && r.claimsArray);
  if (others.length > 0) {
    host.log.step(`array of ${label} is still used by ${others.map((r) => r.id).join(", ")}: not stopped`);
  } else {
    const a = await findOurArray(host, me);
    if (a) {
      await noteDirection(host, me, a);
      host.log.step(`stopping ${a.name} (/dev/md/${label})`);
      await host.md.stop(a, label, deadline);
    }
  }
  await journal.update({ claimsArray: false });
}

/** The health of a record's array, or null when it has no live array. */
export async function healthOf(host: Host, r: AttachmentRecord): Promise<{ array: MdArray; state: ArrayState; health: Health } | null> {
  if (r.label === null) return null;
  const array = await findOurArray(host, r);
  return array ? { array, ...(await healthOfArray(host, r, array, r.label)) } : null;
}

/** The state of an array of a record (found already) and what it means for its legs. */
export async function healthOfArray(host: Host, r: AttachmentRecord, array: MdArray, label: string): Promise<{ state: ArrayState; health: Health }> {
  const state = await host.md.state(array, { iscsi: r.iscsi, local: r.local });
  return { state, health: assessHealth(state, r.iqn !== null, r.local !== null, label) };
}

/**
 * Before an array stops: if only its local leg is current (the iSCSI leg failed, or is still being
 * rebuilt from the local one), record it, so that the next add does not copy iSCSI over it. If the
 * iSCSI leg is current, any such record is obsolete.
 */
export async function noteDirection(host: Host, r: AttachmentRecord, a: MdArray): Promise<void> {
  if (r.label === null || r.iqn === null || r.local === null) return;
  const { health: h } = await healthOfArray(host, r, a, r.label);
  if (h.current === "local") {
    const why = `the array was stopped while its iSCSI leg was ${h.iscsi.state}${h.iscsi.progress !== null ? ` (${h.iscsi.progress}%)` : ""}`;
    if (await markGuard(host, r, why)) host.log.warn(`${r.label}: ${why}: the local leg holds the only current data`);
  } else if (h.iscsi.state === "in_sync") {
    if (await host.guard.clear(r.label)) host.log.step(`${r.label}: the iSCSI leg is in sync: the direction guard is cleared`);
  }
}

async function releaseTarget(host: Host, journal: Journal, iqn: string, deadline: Deadline): Promise<void> {
  const me = journal.record;
  // the lock is taken even without a claim: an add SIGKILLed while holding it leaves a stale lock,
  // which taking and releasing it here clears
  await host.locks.with(targetLockName(iqn), deadline, async () => {
    if (!me.claimsTarget) return;
    const users = (await host.store.attachments()).filter((r) => r.id !== me.id && r.iqn === iqn && r.claimsTarget);
    if (users.length > 0) {
      host.log.step(`${iqn} is still used by ${users.map((r) => r.id).join(", ")}: staying logged in`);
    } else {
      const t = await host.store.getTarget(iqn);
      if (t?.loggedInByUs) {
        await flushMaps(host, iqn, deadline);
        host.log.step(`logging out of ${iqn}`);
        await host.iscsi.logout(iqn, deadline);
      } else {
        host.log.step(`${iqn}: the session was not started by block-iscsimple, leaving it`);
      }
      await host.store.deleteTarget(iqn);
    }
    await journal.update({ claimsTarget: false });
  });
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

/** Kills the children a SIGKILLed add left running (a hung iscsiadm would otherwise log in later). */
export async function killOrphans(host: Host, r: AttachmentRecord): Promise<void> {
  if (r.pid === process.pid) return;
  if (r.pidStart ? (await processStart(host.paths.proc, r.pid)) === r.pidStart : pidAlive(r.pid)) return;
  for (const [pid, argv0] of r.children) {
    try {
      const cmd = (await readFile(`${host.paths.proc}/${pid}/cmdline`, "utf8")).split("\0")[0] ?? "";
      if (cmd.split("/").pop() !== argv0.split("/").pop() && !cmd.endsWith(argv0)) continue;
      process.kill(pid, "SIGKILL");
      host.log.step(`killed ${argv0} (pid ${pid}) left running by the interrupted add`);
    } catch {
      /* gone already */
    }
  }
}


export function devRef(path: string, name: string, dev: { major: number; minor: number }): DevRef {
  return { path, name, major: dev.major, minor: dev.minor };
}

export { sameDev };
