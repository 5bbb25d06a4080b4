import { chapSettings, untrustedForDefault } from "../core/chap";
import type { Step } from "../core/plan";
import type { DevRef, Owner } from "../core/records";
import type { Deadline } from "../host/clock";
import { shown } from "../host/paths";
import { hexDev, sameDev, statBlock } from "../host/sysfs";
import type { Host } from "./host";
import type { Journal } from "./journal";
import { markGuard } from "./guard";
import { checkLocal, recordLocal } from "./local-leg";
import { useMultipath } from "./multipath";
import { devRef, findOurArray } from "./release";

/** What the steps found so far. */
export interface Found {
  iscsi: DevRef | null;
  local: DevRef | null;
  md: DevRef | null;
  /** hex major:minor and path of what the guest gets. */
  device: string | null;
  devicePath: string | null;
}

export interface StepContext {
  readonly host: Host;
  readonly journal: Journal;
  readonly owner: Owner;
  readonly deadline: Deadline;
  readonly found: Found;
  /** The attachment's id and label, and whether the administrator confirmed a new local disk. */
  readonly id: string;
  readonly label: string | null;
  readonly confirmedLocal: boolean;
  /** Whether the local leg is rebuilt from the iSCSI leg (false without one: MISSING). */
  readonly localOverwritten: boolean;
}

/** One line per step, for the log, `check` and error messages. */
export function stepTitle(s: Step): string {
  switch (s.kind) {
    case "discover": return `discover ${s.iqn} on ${s.portals.join(", ")}`;
    case "set-node": return `set ${s.name}=${/password/.test(s.name) ? "********" : s.value} for ${s.iqn}`;
    case "set-chap": return `set the CHAP credentials of ${s.iqn} in its node records`;
    case "claim-target": return `claim ${s.iqn}`;
    case "login": return `log in to ${s.iqn}`;
    case "rescan": return `rescan the sessions of ${s.iqn}`;
    case "set-recovery": return `set the sessions' replacement timeout to ${s.seconds} s`;
    case "clear-stale": return `forget that the local leg of ${s.label} was the only current copy (--prefer-iscsi)`;
    case "forget-decision": return `forget the one-time choice recorded for ${s.label} (block-iscsimple resolve)`;
    case "find-lun": return `find lun${s.lun} of ${s.iqn}`;
    case "multipath": return s.use === "no" ? `use one path of lun${s.lun} ([multipath] use = no)` : `use the multipath map of lun${s.lun}, if multipathd manages it`;
    case "check-local": return `check the local leg ${s.device}`;
    case "md-build": return `build /dev/md/${s.label}${s.first === "local" ? " from the local leg (it holds the current data)" : ""}`;
    case "md-speed": return `set the resync speed of /dev/md/${s.label}`;
    case "md-add": return `add the ${s.leg === "local" ? "local" : "iSCSI"} leg to /dev/md/${s.label}`;
    case "join-array": return `reuse /dev/md/${s.label} of ${s.from} (same VM)`;
    case "use-iscsi": return `use lun${s.lun} of ${s.iqn} directly`;
    case "publish": return "publish the device";
  }
}

export async function runStep(c: StepContext, s: Step): Promise<void> {
  const { host, journal, deadline, found } = c;
  switch (s.kind) {
    case "discover": {
      const errors: string[] = [];
      for (const p of s.portals) {
        try {
          await host.iscsi.discover(p, deadline, s.chap ?? null);
        } catch (err) {
          errors.push(err instanceof Error ? err.message : String(err));
        }
      }
      if ((await host.iscsi.nodePortals(s.iqn, deadline)).length === 0) {
        throw new Error(`no portal lists ${s.iqn} (sendtargets on ${s.portals.join(", ")}${errors.length ? `: ${errors.join("; ")}` : ""})`);
      }
      return;
    }
    case "set-node":
      return host.iscsi.setNode(s.iqn, s.name, s.value, deadline);
    case "set-chap": {
      if (s.onlyTo !== null) {
        const bad = untrustedForDefault(await host.iscsi.nodePortals(s.iqn, deadline), s.onlyTo);
        if (bad.length > 0) {
          host.log.warn(`the [default] CHAP credentials are not offered to ${s.iqn}: its portal ${bad.join(", ")} is not one of [iscsi] portals (give the target a section of its own in the CHAP file)`);
          return;
        }
      }
      if ((await host.iscsiDb.setNode(s.iqn, chapSettings("node.session.auth", s.chap), deadline)) === 0) {
        throw new Error(`no node record of ${s.iqn} under ${shown(host.paths, host.paths.iscsiNodes)} to hold its CHAP credentials`);
      }
      return;
    }
    case "claim-target": {
      const t = await host.store.getTarget(s.iqn);
      await host.store.putTarget({ iqn: s.iqn, loggedInByUs: s.login || (t?.loggedInByUs ?? false) });
      await journal.update({ claimsTarget: true });
      return;
    }
    case "login":
      return host.iscsi.login(s.iqn, deadline);
    case "rescan":
      return host.iscsi.rescan(s.iqn, deadline);
    case "set-recovery":
      return host.iscsi.setRecoveryTimeout(s.iqn, s.seconds);
    case "clear-stale":
      if (await host.guard.clear(s.label)) host.log.step(`the local data of ${s.label} is discarded (--prefer-iscsi): the guard is cleared`);
      return;
    case "forget-decision": {
      const g = await host.guard.get(s.label);
      if (g?.decision !== undefined && g.broken === undefined) {
        const { decision, ...rest } = g;
        await host.guard.put(rest);
        host.log.step(`${s.label}: the choice ${decision} (block-iscsimple resolve) was used; it is forgotten`);
      }
      return;
    }
    case "find-lun": {
      const t0 = performance.now();
      const lun = await host.iscsi.waitLun(s.iqn, s.lun, deadline);
      host.run.timings.add("wait-device", performance.now() - t0);
      if (!lun) {
        const sessions = await host.iscsi.sessions(s.iqn);
        throw new Error(
          sessions.length === 0
            ? `no session to ${s.iqn} after login`
            : `lun${s.lun} did not appear on session ${sessions.join(", ")} of ${s.iqn} (does the target have that LUN?)`,
        );
      }
      found.iscsi = devRef(lun.path, lun.name, lun.dev);
      const wwid = await host.iscsi.wwid(lun.name);
      host.log.step(`lun${s.lun} of ${s.iqn} is ${shown(host.paths, lun.path)} (${hexDev(lun.dev)}${wwid ? `, WWID ${wwid}` : ""})`);
      await journal.update({ iscsi: found.iscsi, iscsiWwid: wwid });
      return;
    }
    case "multipath":
      return useMultipath(c, s);
    case "check-local": {
      // checked again right before the first write (the early check ran before login)
      if (c.label === null) throw new Error("internal: check-local without a label");
      const checked = await checkLocal(host, { label: c.label, path: s.device, id: c.id, owner: c.owner, overwritten: c.localOverwritten }, deadline, c.confirmedLocal);
      if (checked.verdict === "record") await recordLocal(host, c.label, checked, c.confirmedLocal);
      const name = s.device.split("/").pop() as string;
      found.local = devRef(s.device, name, checked.identity);
      await journal.update({ local: found.local, localId: { ...checked.identity, device: checked.device } });
      return;
    }
    case "md-build": {
      await journal.update({ claimsArray: true });
      await host.md.atLabel(s.label); // drops a dangling /dev/md/LABEL left without udev
      const iscsiFirst = s.first === "iscsi";
      await host.md.build(s.label, iscsiFirst ? (found.iscsi?.path ?? null) : null, iscsiFirst ? null : (found.local?.path ?? null), deadline);
      const a = await findOurArray(host, journal.record);
      if (!a) throw new Error(`mdadm reported success but no md array has the ${s.first} leg as a member`);
      found.md = devRef(a.path, a.name, a.dev);
      host.log.step(`/dev/md/${s.label} is ${a.name} (${hexDev(a.dev)})`);
      await journal.update({ md: found.md });
      if (journal.record.iqn === null && (await markGuard(host, journal.record, "the array runs without an iSCSI leg (MISSING): only the local leg gets the VM's writes"))) {
        host.log.warn(`${s.label}: no iSCSI leg: the direction guard is set, so that no later add copies a LUN over this data`);
      }
      return;
    }
    case "md-speed": {
      const a = await findOurArray(host, journal.record);
      if (a) await host.md.setSpeed(a, s.min, s.max);
      return;
    }
    case "md-add": {
      const leg = (s.leg === "local" ? found.local : found.iscsi) as DevRef;
      await host.md.add(s.label, leg.path, deadline);
      if (s.leg === "iscsi" && found.md) {
        await host.md.setWriteMostly({ name: found.md.name, path: found.md.path, dev: found.md }, leg);
      }
      return;
    }
    case "join-array": {
      const other = await host.store.getAttachment(s.from);
      const a = other ? await findOurArray(host, other) : null;
      if (!other || !a) throw new Error(`the array of ${s.from} is gone`);
      found.iscsi = other.iscsi;
      found.local = other.local;
      found.md = devRef(a.path, a.name, a.dev);
      await journal.update({ claimsArray: true, iscsi: other.iscsi, local: other.local, md: found.md });
      return;
    }
    case "use-iscsi":
      found.md = null;
      return;
    case "publish":
      return publish(c);
  }
}

/** stat()s the real device (never assumed), then tells xenstore (hotplug) or the caller (manual). */
async function publish(c: StepContext): Promise<void> {
  const { host, journal, found, owner, deadline } = c;
  const target = found.md ?? found.iscsi;
  if (!target) throw new Error("internal: nothing to publish");
  const st = await statBlock(target.path);
  if (!sameDev(st, target)) throw new Error(`${shown(host.paths, target.path)} is not the device ${target.major}:${target.minor} any more`);
  let devicePath = target.path;
  const label = journal.record.label;
  if (found.md && label !== null && sameDev(await statBlock(host.md.labelPath(label)), target)) devicePath = host.md.labelPath(label);
  found.device = hexDev(target);
  found.devicePath = devicePath;
  await journal.update({ device: found.device, devicePath });
  if (owner.kind === "xen") {
    await host.xs.write(
      [
        [`${owner.backend}/physical-device`, found.device],
        [`${owner.backend}/physical-device-path`, devicePath],
        [`${owner.backend}/hotplug-status`, "connected"],
      ],
      deadline,
    );
  }
}
