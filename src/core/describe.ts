import { redactArgv } from "./chap";
import { discoverydb, iscsiadm, mdadm, multipath, udevadm, xenstore, type Argv } from "./commands";
import { MAP_FORMAT } from "./multipath";
import type { Step } from "./plan";

/** Names for what is only known when the plan runs. */
export interface Names {
  readonly iscsiDev: string;
  readonly localDev: string;
  readonly md: (label: string) => string;
  readonly backend: string | null;
}

/** The commands (or actions) a step would run, for `check`. */
export function stepCommands(s: Step, n: Names): string[] {
  const show = (a: Argv): string => redactArgv(a).join(" ");
  switch (s.kind) {
    case "discover":
      return [
        ...s.portals.flatMap((p) =>
          s.chap ? [show(discoverydb.create(p)), `(write discovery.sendtargets.auth.* into /etc/iscsi/send_targets/${p.replace(/:(\d+)$/, ",$1")}/st_config, under iscsiadm's lock)`, show(discoverydb.discover(p))] : [show(iscsiadm.discover(p))],
        ),
        show(iscsiadm.nodes()),
      ];
    case "set-chap":
      return [
        `(write node.session.auth.* into every node record of ${s.iqn} under /etc/iscsi/nodes, under iscsiadm's lock: no secret on a command line)${s.onlyTo !== null ? `; [default] credentials: only if every portal of the target is one of ${s.onlyTo.join(", ") || "(no [iscsi] portals)"}` : ""}`,
      ];
    case "set-node":
      return [show(iscsiadm.setNode(s.iqn, s.name, s.value))];
    case "claim-target":
      return [`(record a user of ${s.iqn} under /run/block-iscsimple)`];
    case "login":
      return [show(iscsiadm.login(s.iqn))];
    case "rescan":
      return [show(iscsiadm.rescan(0)).replace(" 0 ", " SID ") + "   (each session of the target)"];
    case "set-recovery":
      return [`(write recovery_tmo=${s.seconds} to /sys/class/iscsi_session/session*/ of ${s.iqn})`];
    case "clear-stale":
      return [`(forget that the local leg of ${s.label} was the only current copy: --prefer-iscsi)`];
    case "forget-decision":
      return [`(forget the one-time choice recorded by block-iscsimple resolve ${s.label})`];
    case "find-lun":
      return [`(wait for /sys/class/iscsi_session/session*/device/target*/*:*:*:${s.lun}/block/* of ${s.iqn})`];
    case "multipath":
      return s.use === "no"
        ? ["(refuse if a multipath map holds the LUN's path devices: [multipath] use = no)"]
        : [
            "(look for a multipath map among /sys/block/sdX/holders of the LUN's paths; if none, and multipathd listens on its socket in /proc/net/unix:)",
            `${show(multipath.claims(n.iscsiDev))}   (if it claims the path: wait up to ${s.waitS} s for multipathd's map)`,
            `${show(udevadm.settle(s.waitS))}   (if it does not: let udev record the path's WWID, then ask again)`,
            show(multipath.maps(MAP_FORMAT)),
            `${show(multipath.disableQueueing("MAP"))}   (only if the map queues I/O forever${s.queueing === "warn" ? "; [multipath] queueing = warn: a warning instead" : ""})`,
          ];
    case "check-local":
      return [
        `(refuse ${s.device} if it, a partition of it or its disk is in use: our arrays and legs, iSCSI LUNs, Xen backends, sysfs holders, mounts, swap, open files, an exclusive open)`,
        `(refuse it if it is not the disk this label used before, or holds data and was never used: blkid -p; unless confirmed)`,
      ];
    case "md-build":
      return [show(mdadm.build(n.md(s.label), s.first === "iscsi" ? n.iscsiDev : null, s.first === "local" ? n.localDev : null))];
    case "md-speed":
      return [`(write sync_speed_min=${s.min ?? "-"} sync_speed_max=${s.max ?? "-"} under /sys/block/mdN/md)`];
    case "md-add":
      return s.leg === "local"
        ? [show(mdadm.add(n.md(s.label), n.localDev))]
        : [show(mdadm.add(n.md(s.label), n.iscsiDev)), "(mark it write-mostly: /sys/block/mdN/md/dev-*/state)"];
    case "join-array":
      return [`(reuse the array of ${s.from}: the same VM, a migration to localhost)`];
    case "use-iscsi":
      return [`(give ${n.iscsiDev} to the guest)`];
    case "publish":
      return n.backend === null
        ? ["(print the device)"]
        : [show(xenstore.write([[`${n.backend}/physical-device`, "MAJ:MIN (hex)"], [`${n.backend}/physical-device-path`, "DEVICE"], [`${n.backend}/hotplug-status`, "connected"]]))];
  }
}
