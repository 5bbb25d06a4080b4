import { errorMessage, FailedError, InternalError, RefusedError } from "../core/errors";
import type { Step, StepKind } from "../core/plan";
import { devRef } from "../core/records";
import type { StepOf } from "../core/steps";
import { shown } from "../host/paths";
import { hexDev, sameDev, statBlock } from "../host/sysfs";
import { pollUntil } from "../host/clock";
import { findOurArray } from "./arrays";
import { markGuard } from "./guard";
import { checkLocal, recordLocal, sizeProblem } from "./local-leg";
import { useMultipath } from "./multipath";
import { writeChap, writeNodeSettings } from "./node-records";
import type { StepContext } from "./step-context";

type Runner<K extends StepKind> = (c: StepContext, s: StepOf<K>) => Promise<void>;

/**
 * What each step kind does on the host. Like the core's STEP_TABLE, the type makes the compiler
 * reject a kind that is not handled here. What a step finds goes into the journal's record.
 */
const RUN: { readonly [K in StepKind]: Runner<K> } = {
  discover: async ({ host, deadline }, s) => {
    const errors: unknown[] = [];
    for (const p of s.portals) {
      try {
        await host.iscsi.discover(p, deadline, s.chap ?? null);
      } catch (err) {
        errors.push(err);
      }
    }
    if ((await host.iscsi.nodePortals(s.iqn, deadline)).length === 0) {
      const why = errors.length ? `: ${errors.map(errorMessage).join("; ")}` : "";
      throw new FailedError(`no portal lists ${s.iqn} (sendtargets on ${s.portals.join(", ")}${why})`, { cause: errors.length === 1 ? errors[0] : errors.length ? new AggregateError(errors) : undefined });
    }
  },
  // into the record files, as iscsiadm -o update would (no process); iscsiadm where there are none
  "set-node": ({ host, deadline }, s) => writeNodeSettings(host, s.iqn, [[s.name, s.value]], deadline),
  "set-chap": ({ host, deadline }, s) => writeChap(host, s.iqn, { chap: s.chap, onlyTo: s.onlyTo }, deadline),
  "claim-target": async ({ host, journal }, s) => {
    const t = await host.store.getTarget(s.iqn);
    await host.store.putTarget({ iqn: s.iqn, loggedInByUs: s.login || (t?.loggedInByUs ?? false) });
    await journal.update({ claimsTarget: true });
  },
  login: ({ host, deadline }, s) => host.iscsi.login(s.iqn, deadline),
  rescan: ({ host, deadline }, s) => host.iscsi.rescan(s.iqn, deadline),
  "set-recovery": ({ host }, s) => host.iscsi.setRecoveryTimeout(s.iqn, s.seconds),
  "find-lun": async ({ host, journal, deadline }, s) => {
    const t0 = performance.now();
    const lun = await host.iscsi.waitLun(s.iqn, s.lun, deadline);
    host.run.timings.add("wait-device", performance.now() - t0);
    if (!lun) {
      const sessions = await host.iscsi.sessions(s.iqn);
      throw new FailedError(
        sessions.length === 0
          ? `no session to ${s.iqn} after login`
          : `lun${s.lun} did not appear on session ${sessions.join(", ")} of ${s.iqn} (does the target have that LUN?)`,
      );
    }
    // a device that was there before this add may show what the kernel read long ago: the filer may
    // have mapped another volume at the LUN since (the direction guard compares this WWID). It is
    // read again once its session is logged in; a session that stays in recovery gives no WWID
    // (nothing can then be copied over the LUN on the strength of it)
    let wwid: string | null = null;
    if (s.refresh) {
      const live = await pollUntil(async () => ((await host.iscsi.sessionState(lun.session)) === "LOGGED_IN" ? true : null), deadline.slice(5000), 100);
      if (live) {
        await host.iscsi.refreshIdentity([lun.name], deadline);
        wwid = await host.iscsi.wwid(lun.name);
      } else host.log.warn(`lun${s.lun} of ${s.iqn}: its session is not logged in: its WWID cannot be read anew, none is recorded`);
    } else wwid = await host.iscsi.wwid(lun.name);
    host.log.step(`lun${s.lun} of ${s.iqn} is ${shown(host.paths, lun.path)} (${hexDev(lun.dev)}${wwid ? `, WWID ${wwid}` : ""})`);
    await journal.update({ iscsi: devRef(lun.path, lun.name, lun.dev), iscsiWwid: wwid });
  },
  multipath: useMultipath,
  "check-local": async (c, s) => {
    // checked again right before the first write (the early check ran before login)
    const { host, journal, deadline } = c;
    if (c.label === null) throw new InternalError("check-local without a label");
    const checked = await checkLocal(host, { label: c.label, path: s.device, id: c.id, owner: c.owner, overwritten: c.localOverwritten }, deadline, c.confirmedLocal);
    // the LUN is found by now (the local leg is checked after it): the local disk must hold it
    const lun = journal.record.iscsi;
    const small = lun ? await sizeProblem(host, c.label, s.device, lun.name) : null;
    if (small) throw new RefusedError(small);
    if (checked.verdict === "record") await recordLocal(host, c.label, checked, c.confirmedLocal);
    const name = s.device.split("/").pop() as string;
    await journal.update({ local: devRef(s.device, name, checked.identity), localId: { ...checked.identity, device: checked.device } });
  },
  "md-build": async ({ host, journal, deadline }, s) => {
    await journal.update({ claimsArray: true });
    await host.md.atLabel(s.label); // drops a dangling /dev/md/LABEL left without udev
    const { iscsi, local } = journal.record;
    const iscsiFirst = s.first === "iscsi";
    await host.md.build(s.label, iscsiFirst ? (iscsi?.path ?? null) : null, iscsiFirst ? null : (local?.path ?? null), deadline);
    const a = await findOurArray(host, journal.record);
    if (!a) throw new FailedError(`mdadm reported success but no md array has the ${s.first} leg as a member`);
    host.log.step(`/dev/md/${s.label} is ${a.name} (${hexDev(a.dev)})`);
    await journal.update({ md: devRef(a.path, a.name, a.dev) });
    if (journal.record.iqn === null && (await markGuard(host, journal.record, "the array runs without an iSCSI leg (MISSING): only the local leg gets the VM's writes"))) {
      host.log.warn(`${s.label}: no iSCSI leg: the direction guard is set, so that no later add copies a LUN over this data`);
    }
  },
  "md-speed": async ({ host, journal }, s) => {
    const a = await findOurArray(host, journal.record);
    if (a) await host.md.setSpeed(a, s.min, s.max);
  },
  "md-add": async ({ host, journal, deadline }, s) => {
    const { iscsi, local, md } = journal.record;
    const leg = s.leg === "local" ? local : iscsi;
    if (!leg) throw new InternalError(`md-add of the ${s.leg} leg before it was found`);
    await host.md.add(s.label, leg.path, deadline);
    if (s.leg === "iscsi" && md) await host.md.setWriteMostly({ name: md.name, path: md.path, dev: md }, leg);
  },
  "clear-stale": async ({ host }, s) => {
    if (await host.guard.clear(s.label)) host.log.step(`the local data of ${s.label} is discarded (--prefer-iscsi): the guard is cleared`);
  },
  "forget-decision": async ({ host }, s) => {
    const g = await host.guard.get(s.label);
    if (g?.decision !== undefined && g.broken === undefined) {
      const { decision, ...rest } = g;
      await host.guard.put(rest);
      host.log.step(`${s.label}: the choice ${decision} (block-iscsimple resolve) was used; it is forgotten`);
    }
  },
  "join-array": async ({ host, journal }, s) => {
    const other = await host.store.getAttachment(s.from);
    const a = other ? await findOurArray(host, other) : null;
    if (!other || !a) throw new FailedError(`the array of ${s.from} is gone`);
    await journal.update({ claimsArray: true, iscsi: other.iscsi, local: other.local, md: devRef(a.path, a.name, a.dev) });
  },
  // the LUN itself goes to the guest: the record has no array (md stays null)
  "use-iscsi": () => Promise.resolve(),
  publish,
};

export function runStep(c: StepContext, s: Step): Promise<void> {
  return (RUN[s.kind] as unknown as Runner<StepKind>)(c, s);
}

/** stat()s the real device (never assumed), then tells xenstore (hotplug) or the caller (manual). */
async function publish(c: StepContext): Promise<void> {
  const { host, journal, owner, deadline } = c;
  const target = journal.record.md ?? journal.record.iscsi;
  if (!target) throw new InternalError("nothing to publish");
  const st = await statBlock(target.path);
  if (!sameDev(st, target)) throw new FailedError(`${shown(host.paths, target.path)} is not the device ${target.major}:${target.minor} any more`);
  let devicePath = target.path;
  const label = journal.record.label;
  if (journal.record.md && label !== null && sameDev(await statBlock(host.md.labelPath(label)), target)) devicePath = host.md.labelPath(label);
  const device = hexDev(target);
  await journal.update({ device, devicePath });
  if (owner.kind === "xen") {
    await host.xs.write(
      [
        [`${owner.backend}/physical-device`, device],
        [`${owner.backend}/physical-device-path`, devicePath],
        [`${owner.backend}/hotplug-status`, "connected"],
      ],
      deadline,
    );
  }
}
