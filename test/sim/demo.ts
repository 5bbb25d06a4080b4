// make demo-sim: the seed's two-LUN VM on the simulated host, as xl would drive it, printing
// every host command the program ran, what it wrote to xenstore, `status`, and the teardown.
import { readFileSync } from "node:fs";
import { IQN, SimHost } from "./simhost.ts";

const h = new SimHost({ nodes: false, config: "[iscsi]\nportals = 192.0.2.10\n[md]\nsync-speed-max = 100000\n" });
const say = (s = ""): void => console.log(s);
const shown = (s: string): string => s.replaceAll(h.root, "");
let seen = 0;
const newCalls = (): string[] => {
  const all = h.calls();
  const fresh = all.slice(seen);
  seen = all.length;
  // the fakes log each call's argv as it ran
  return fresh.map((c) => `    $ ${shown(c)}`);
};

const disks = [
  { vdev: "xvda2", devid: 51714, spec: `lun0@${IQN}+my-vm-disk` },
  { vdev: "xvda3", devid: 51715, spec: `lun1@${IQN}+my-vm-data` },
];
say("== the domU's disks, in xl's spelling (domain 3)");
for (const d of disks) say(`  'vdev=${d.vdev},access=w,script=block-iscsimple,target=${d.spec}'`);
say("\n== /etc/xen/scripts/block-iscsimple-tab.conf");
say(readFileSync(h.file("etc/xen/scripts/block-iscsimple-tab.conf"), "utf8").replace(/^/gm, "  ").trimEnd());

say("\n== xl create: libxl runs `block-iscsimple add` for both disks at once");
const bes = disks.map((d) => h.backend(3, d.devid, d.spec));
const adds = await Promise.all(bes.map((be) => h.run(["add"], { xenbus: be })));
say("  host commands run (both processes, in the order they ran):");
for (const c of newCalls()) say(c);
for (const [i, be] of bes.entries()) {
  say(`  ${be}: exit ${adds[i]!.code}, physical-device=${h.xs(`${be}/physical-device`)} physical-device-path=${shown(h.xs(`${be}/physical-device-path`) ?? "")} hotplug-status=${h.xs(`${be}/hotplug-status`)}`);
}

say("\n== block-iscsimple status");
say((await h.run(["status"])).stdout.replace(/^/gm, "  ").trimEnd());

say("\n== xl destroy: libxl runs `block-iscsimple remove` for each disk");
for (const be of bes) {
  const r = await h.run(["remove"], { xenbus: be });
  say(`  remove ${be}: exit ${r.code}`);
  for (const c of newCalls()) say(c);
}
say(`\n== left on the host: ${h.leftovers().length === 0 ? "nothing (no session, array, state file or lock)" : h.leftovers().join(", ")}`);
h.cleanup();
