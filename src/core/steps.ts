import { redactArgv } from "./chap";
import { discoverydb, iscsiadm, mdadm, multipath, udevadm, xenstore, type Argv } from "./commands";
import { MAP_FORMAT } from "./multipath";
import type { Step, StepKind, Undo } from "./plan";

/** Names for what is only known when the plan runs. */
export interface Names {
  readonly iscsiDev: string;
  readonly localDev: string;
  readonly md: (label: string) => string;
  readonly backend: string | null;
}

export type StepOf<K extends StepKind> = Extract<Step, { kind: K }>;

/** What the core knows of a step kind: its line for the log, what `check` shows, its undo. */
export interface StepInfo<S extends Step> {
  /** One line, for the log, `check` and error messages. */
  readonly title: (s: S) => string;
  /** The commands (or actions) the step would run, for `check`. */
  readonly commands: (s: S, n: Names) => string[];
  /** The undo the step registers before it runs (so that a step killed half-way is undone too). */
  readonly undo?: (s: S) => Undo;
}

const show = (a: Argv): string => redactArgv(a).join(" ");

/**
 * Every step kind, in one place. The type makes the compiler reject a kind that is missing here
 * (as the engine's table of what each kind runs does).
 */
export const STEP_TABLE: { readonly [K in StepKind]: StepInfo<StepOf<K>> } = {
  discover: {
    title: (s) => `discover ${s.iqn} on ${s.portals.join(", ")}`,
    commands: (s) => [
      ...s.portals.flatMap((p) =>
        s.chap
          ? [show(discoverydb.create(p)), `(write discovery.sendtargets.auth.* into /etc/iscsi/send_targets/${p.replace(/:(\d+)$/, ",$1")}/st_config, under iscsiadm's lock)`, show(discoverydb.discover(p))]
          : [show(iscsiadm.discover(p))],
      ),
      show(iscsiadm.nodes()),
    ],
  },
  "set-node": {
    title: (s) => `set ${s.name}=${/password/.test(s.name) ? "********" : s.value} for ${s.iqn}`,
    commands: (s) => [`(write ${s.name} = ${/password/.test(s.name) ? "********" : s.value} into every node record of ${s.iqn} under /etc/iscsi/nodes, under iscsiadm's lock; if it has no record file there:) ${show(iscsiadm.setNode(s.iqn, s.name, s.value))}`],
  },
  "set-chap": {
    title: (s) => `set the CHAP credentials of ${s.iqn} in its node records`,
    commands: (s) => [
      `(write node.session.auth.* into every node record of ${s.iqn} under /etc/iscsi/nodes, under iscsiadm's lock: no secret on a command line)${s.onlyTo !== null ? `; [default] credentials: only if every portal of the target is one of ${s.onlyTo.join(", ") || "(no [iscsi] portals)"}` : ""}`,
    ],
  },
  "claim-target": {
    title: (s) => `claim ${s.iqn}`,
    commands: (s) => [`(record a user of ${s.iqn} under /run/block-iscsimple)`],
    undo: (s) => ({ kind: "release-target", iqn: s.iqn }),
  },
  login: {
    title: (s) => `log in to ${s.iqn}`,
    commands: (s) => [show(iscsiadm.login(s.iqn))],
  },
  rescan: {
    title: (s) => `rescan the sessions of ${s.iqn}`,
    commands: () => [show(iscsiadm.rescan(0)).replace(" 0 ", " SID ") + "   (each session of the target)"],
  },
  "set-recovery": {
    title: (s) => `set the sessions' replacement timeout to ${s.seconds} s`,
    commands: (s) => [`(write recovery_tmo=${s.seconds} to /sys/class/iscsi_session/session*/ of ${s.iqn})`],
  },
  "find-lun": {
    title: (s) => `find lun${s.lun} of ${s.iqn}`,
    commands: (s) => [
      `(wait for /sys/class/iscsi_session/session*/device/target*/*:*:*:${s.lun}/block/* of ${s.iqn})`,
      ...(s.refresh ? ["(the session existed: write 1 to its device/rescan, so that the kernel reads the LUN's identity again)"] : []),
      "(read its WWID: /sys/block/sdX/device/wwid)",
    ],
  },
  multipath: {
    title: (s) => (s.use === "no" ? `use one path of lun${s.lun} ([multipath] use = no)` : `use the multipath map of lun${s.lun}, if multipathd manages it`),
    commands: (s, n) =>
      s.use === "no"
        ? ["(refuse if a multipath map holds the LUN's path devices: [multipath] use = no)"]
        : [
            "(look for a multipath map among /sys/block/sdX/holders of the LUN's paths; if none, and multipathd listens on its socket in /proc/net/unix:)",
            `${show(multipath.claims(n.iscsiDev))}   (if it claims the path: wait up to ${s.waitS} s for multipathd's map)`,
            `${show(udevadm.settle(s.waitS))}   (if it does not: let udev record the path's WWID, then ask again)`,
            show(multipath.maps(MAP_FORMAT)),
            `${show(multipath.disableQueueing("MAP"))}   (only if the map queues I/O forever${s.queueing === "warn" ? "; [multipath] queueing = warn: a warning instead" : ""})`,
          ],
  },
  "check-local": {
    title: (s) => `check the local leg ${s.device}`,
    commands: (s) => [
      `(refuse ${s.device} if it, a partition of it or its disk is in use: our arrays and legs, iSCSI LUNs, Xen backends, sysfs holders, mounts, swap, open files, an exclusive open)`,
      `(refuse it if it is not the disk this label used before, or holds data and was never used: blkid -p; unless confirmed)`,
    ],
  },
  "md-build": {
    title: (s) => `build /dev/md/${s.label}${s.first === "local" ? " from the local leg (it holds the current data)" : ""}`,
    commands: (s, n) => [show(mdadm.build(n.md(s.label), s.first === "iscsi" ? n.iscsiDev : null, s.first === "local" ? n.localDev : null))],
    undo: (s) => ({ kind: "stop-array", label: s.label }),
  },
  "md-speed": {
    title: (s) => `set the resync speed of /dev/md/${s.label}`,
    commands: (s) => [`(write sync_speed_min=${s.min ?? "-"} sync_speed_max=${s.max ?? "-"} under /sys/block/mdN/md)`],
  },
  "md-add": {
    title: (s) => `add the ${s.leg === "local" ? "local" : "iSCSI"} leg to /dev/md/${s.label}`,
    commands: (s, n) =>
      s.leg === "local" ? [show(mdadm.add(n.md(s.label), n.localDev))] : [show(mdadm.add(n.md(s.label), n.iscsiDev)), "(mark it write-mostly: /sys/block/mdN/md/dev-*/state)"],
  },
  "clear-stale": {
    title: (s) => `forget that the local leg of ${s.label} was the only current copy (--prefer-iscsi)`,
    commands: (s) => [`(forget that the local leg of ${s.label} was the only current copy: --prefer-iscsi)`],
  },
  "forget-decision": {
    title: (s) => `forget the one-time choice recorded for ${s.label} (block-iscsimple resolve)`,
    commands: (s) => [`(forget the one-time choice recorded by block-iscsimple resolve ${s.label})`],
  },
  "join-array": {
    title: (s) => `reuse /dev/md/${s.label} of ${s.from} (same VM)`,
    commands: (s) => [`(reuse the array of ${s.from}: the same VM, a migration to localhost)`],
    undo: (s) => ({ kind: "stop-array", label: s.label }),
  },
  "use-iscsi": {
    title: (s) => `use lun${s.lun} of ${s.iqn} directly`,
    commands: (_s, n) => [`(give ${n.iscsiDev} to the guest)`],
  },
  publish: {
    title: () => "publish the device",
    commands: (_s, n) =>
      n.backend === null
        ? ["(print the device)"]
        : [show(xenstore.write([[`${n.backend}/physical-device`, "MAJ:MIN (hex)"], [`${n.backend}/physical-device-path`, "DEVICE"], [`${n.backend}/hotplug-status`, "connected"]]))],
  },
};

/** The table's entry for a step (TypeScript cannot correlate a union with a mapped type by itself). */
function infoOf<S extends Step>(s: S): StepInfo<S> {
  return STEP_TABLE[s.kind] as unknown as StepInfo<S>;
}

export function stepTitle(s: Step): string {
  return infoOf(s).title(s);
}

export function stepCommands(s: Step, n: Names): string[] {
  return infoOf(s).commands(s, n);
}

export function undoOf(s: Step): Undo | null {
  return infoOf(s).undo?.(s) ?? null;
}
