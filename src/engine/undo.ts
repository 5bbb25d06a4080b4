import { errorMessage } from "../core/errors";
import type { Undo } from "../core/plan";
import type { Deadline } from "../host/clock";
import { targetLockName } from "../host/locks";
import type { Host } from "./host";
import type { Journal } from "./journal";
import { findOurArray, noteDirection } from "./arrays";
import { flushMaps } from "./multipath";

/**
 * The undo of each claim an attachment holds. Rollback of a failed add and `remove` both use
 * these, so connect and disconnect stay symmetric. Each looks at the host first: it is idempotent
 * and copes with an add that stopped anywhere (even SIGKILLed mid-command).
 */
export async function runUndo(host: Host, journal: Journal, undo: Undo, deadline: Deadline): Promise<void> {
  if (undo.kind === "stop-array") await releaseArray(host, journal, undo.label, deadline);
  else await releaseTarget(host, journal, undo.iqn, deadline);
}

/**
 * Runs the undos in order (the rollback of an add, a remove), then forgets the record if they all
 * went well. Stops at the first that fails: never log out from under an array that could not be
 * stopped. BEFORE runs ahead of each (a remove checks that its lock is still its own). Returns the
 * problems: none means done.
 */
export async function undoAll(host: Host, journal: Journal, undos: readonly Undo[], deadline: Deadline, before?: () => Promise<void>): Promise<string[]> {
  const problems: string[] = [];
  // status says "removing" from now on, not an attachment whose array is going away under it
  await journal.update({ removing: journal.record.removing ?? new Date().toISOString() });
  for (const u of undos) {
    try {
      await before?.();
      await runUndo(host, journal, u, deadline);
    } catch (err) {
      problems.push(errorMessage(err));
      break;
    }
  }
  host.run.watcher = null;
  await journal.settle();
  if (problems.length === 0) await host.store.deleteAttachment(journal.record.id);
  return problems;
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
