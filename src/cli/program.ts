import { Command, CommanderError, Option } from "commander";
import { EXIT } from "../core/errors";
import { DEFAULT_CONFIG_FILE, DEFAULT_TAB_FILE } from "../host/paths";
import { requireRoot, type GlobalOptions } from "./context";
import { discoverCommand } from "./discover";
import { healCommand, monitorCommand } from "./health";
import { check, status } from "./inspect";
import { manualAdd, manualRemove } from "./manual";
import { DEFAULT_KEEP_S, migrateCommand, prepareCommand } from "./migrate";
import { acceptLocal, resolve } from "./safety";
import { xlDisk } from "./xl-disk";

declare const __VERSION__: string;
export const VERSION = typeof __VERSION__ === "string" ? __VERSION__ : "0.0.0-dev";

const SPEC = "lun1@iqn.2014-06.fr.example.filer1:vm-sn-1+my-vm-disk";

/** The command line for administrators. Each action sets `result` to the exit code. */
export function buildProgram(setResult: (code: number) => void): Command {
  const program = new Command("block-iscsimple")
    .description("Attach iSCSI LUNs mirrored with a local device (md RAID1) for Xen, as a block-hotplug script or by hand.")
    .version(VERSION, "-V, --version")
    .addOption(new Option("--config <file>", "config file").default(undefined, DEFAULT_CONFIG_FILE))
    .addOption(new Option("--tab <file>", "label table").default(undefined, DEFAULT_TAB_FILE))
    .option("-v, --verbose", "show each step and command on stderr")
    .exitOverride()
    .addHelpText(
      "after",
      `
As a Xen block-hotplug script (run by xl with XENBUS_PATH set), write the disk as:
  'vdev=xvda2,access=w,script=block-iscsimple,target=${SPEC}'

Examples:
  block-iscsimple add ${SPEC}
  block-iscsimple status
  block-iscsimple check ${SPEC}`,
    );
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();

  program
    .command("add")
    .description("attach SPEC ([lunN@]IQN[+LABEL]) and print the block device to use")
    .argument("<spec>", "target spec [lunN@]IQN[+LABEL]")
    .option("-r, --read-only", "attach for reading only (the LUN may then be shared read-only)")
    .addOption(new Option("--prefer-local", "the local leg holds the only current data: build from it and rebuild the iSCSI leg").conflicts("preferIscsi"))
    .addOption(new Option("--prefer-iscsi", "the local leg holds the only current data: discard it, rebuild it from iSCSI"))
    .option("--new-local-disk", "the local leg is a new (or replaced) disk that may be overwritten, though it holds data or differs from the one the label used")
    .addHelpText("after", `\nExample:\n  block-iscsimple add ${SPEC}\n  /dev/md/my-vm-disk`)
    .action(async (spec: string, o: { readOnly?: boolean; preferLocal?: boolean; preferIscsi?: boolean; newLocalDisk?: boolean }) =>
      setResult(await manualAdd(spec, { ...globals(), ...o })),
    );

  program
    .command("remove")
    .description("detach SPEC: stop its array, log out when no other disk uses the target")
    .argument("<spec>", "the spec given to add")
    .addHelpText("after", `\nExample:\n  block-iscsimple remove ${SPEC}`)
    .action(async (spec: string) => setResult(await manualRemove(spec, globals())));

  program
    .command("migrate")
    .description("live-migrate DOMAIN to HOST with xl migrate: refuses while a disk's iSCSI leg is not current, logs in to the LUNs on HOST first (prepare), then migrates")
    .argument("<domain>", "the domain's name or id")
    .argument("<host>", "the destination (as for xl migrate)")
    .argument("[xl-options...]", "after --: xl migrate's -e, -p, -D, --debug")
    .option("-s, --ssh <command>", "the transport, as xl migrate's -s (default ssh); it also runs prepare on HOST")
    .option("--force", "migrate although a disk's iSCSI leg is not current: the destination then runs on data older than the VM's")
    .option("--keep <seconds>", `how long HOST keeps the prepared sessions for the adds (default ${DEFAULT_KEEP_S})`)
    .option("--no-prepare", "do not log in on HOST beforehand (the adds, in the VM's downtime, log in)")
    .addHelpText("after", "\nExamples:\n  block-iscsimple migrate my-vm host-b\n  block-iscsimple migrate my-vm host-b --ssh 'ssh -p 2222' -- --debug")
    .action(async (domain: string, host: string, xlArgs: string[], o: { ssh?: string; force?: boolean; keep?: string; prepare?: boolean }) =>
      setResult(await migrateCommand(domain, host, xlArgs, { ...globals(), ...o })),
    );

  program
    .command("prepare")
    .description("on a migration's destination: log in to each SPEC's target and find its LUN now, for the add that comes while the VM is suspended")
    .argument("[spec...]", "the disks' specs (their labels are ignored: only the iSCSI part is prepared)")
    .option("--keep <seconds>", `release a prepared session no add adopted after this long (default ${DEFAULT_KEEP_S}; the monitor does it)`)
    .option("--release", "release these prepared sessions now (a migration that did not happen)")
    .option("--expire", "release every prepared session whose time is up (where the monitor does not run)")
    .addHelpText("after", `\nExamples:\n  block-iscsimple prepare ${SPEC}\n  block-iscsimple prepare --release ${SPEC}`)
    .action(async (specs: string[], o: { keep?: string; release?: boolean; expire?: boolean }) => setResult(await prepareCommand(specs, { ...globals(), ...o })));

  program
    .command("status")
    .description("list attachments: spec, domain, iSCSI session, md array state and resync, local leg")
    .option("--json", "machine-readable output")
    .addHelpText("after", "\nExample:\n  block-iscsimple status --json")
    .action(async (o: { json?: boolean }) => setResult(await status({ ...globals(), ...o })));

  program
    .command("heal")
    .description("bring a failed leg of a mirror back: the iSCSI leg once the target answers again (md copies local -> iSCSI), or a replaced local disk")
    .argument("<label-or-spec>", "the label (or spec) of an attached mirror")
    .option("-w, --wait", "wait until the resync is done, reporting progress")
    .addHelpText("after", "\nExample:\n  block-iscsimple heal my-vm-disk --wait")
    .action(async (what: string, o: { wait?: boolean }) => setResult(await healCommand(what, { ...globals(), ...o })));

  program
    .command("monitor")
    .description("watch our arrays: follow md's events (mdadm --monitor) and look at them every [monitor] interval s; record a failed iSCSI leg at once, heal when the target is back, release expired prepared sessions, write the metrics file")
    .option("--once", "look once and exit")
    .addHelpText("after", "\nExample:\n  systemctl enable --now block-iscsimple-monitor   (runs: block-iscsimple monitor)")
    .action(async (o: { once?: boolean }) => setResult(await monitorCommand({ ...globals(), ...o })));

  program
    .command("accept-local")
    .description("confirm that the disk tab.conf names for LABEL may be overwritten: a new disk that holds data, or a replacement of the label's old disk")
    .argument("<label>", "the label of tab.conf")
    .addHelpText("after", "\nExample:\n  block-iscsimple accept-local my-vm-disk")
    .action(async (label: string) => setResult(await acceptLocal(label, globals())));

  program
    .command("resolve")
    .description("decide about a set direction guard (the local leg holds the only current data) for the next add of LABEL")
    .argument("<label>", "the label whose guard is set (block-iscsimple status lists them)")
    .option("--prefer-local", "keep the local data: the next add builds from the local leg and rebuilds the iSCSI LUN")
    .option("--prefer-iscsi", "discard the local data: the next add rebuilds the local leg from the iSCSI LUN")
    .option("--forget", "remove the guard (after you checked the disks by hand)")
    .addHelpText("after", "\nExample:\n  block-iscsimple resolve my-vm-disk --prefer-local\n  xl create my-vm.cfg")
    .action(async (label: string, o: { preferLocal?: boolean; preferIscsi?: boolean; forget?: boolean }) => setResult(await resolve(label, { ...globals(), ...o })));

  program
    .command("discover")
    .description("list the targets a filer's portals offer (sendtargets), with --luns their LUNs and the disk line to paste")
    .argument("<portal...>", "HOST[:PORT] of each portal")
    .option("--luns", "also list each target's LUNs (size, vendor/model, SCSI id), logging in only as long as needed")
    .option("--json", "machine-readable output")
    .addHelpText("after", "\nExample:\n  block-iscsimple discover 192.0.2.10 192.0.2.11 --luns")
    .action(async (portals: string[], o: { luns?: boolean; json?: boolean }) => setResult(await discoverCommand(portals, { ...globals(), ...o })));

  program
    .command("check")
    .description("validate the config, tab.conf and SPECs, and print the plan of each SPEC without changing anything")
    .argument("[spec...]", "target specs to plan")
    .addHelpText("after", `\nExample:\n  block-iscsimple check ${SPEC}`)
    .action(async (specs: string[]) => setResult(await check(specs, globals())));

  program
    .command("xl-disk")
    .description("convert a legacy 'iscsimple:SPEC,VDEV,MODE' disk entry to the xl spelling")
    .argument("[entry]", "the legacy disk entry")
    .option("-i, --in-place <file>", "convert every such entry of a domU config file (keeps FILE.bak)")
    .addHelpText(
      "after",
      `\nExamples:\n  block-iscsimple xl-disk 'iscsimple:${SPEC},xvda2,w'\n  'vdev=xvda2,access=rw,script=block-iscsimple,target=${SPEC}'\n  block-iscsimple xl-disk --in-place /etc/xen/my-vm.cfg`,
    )
    .action((entry: string | undefined, o: { inPlace?: string }) => setResult(xlDisk(entry, o)));

  // the commands that look at the host's disks, state and iSCSI records run as root only (status says
  // it itself: it has exit codes of its own; xl-disk converts a user's file as that user)
  program.hook("preAction", (_program, action) => {
    if (!["status", "xl-disk", "help"].includes(action.name())) requireRoot(action.name());
  });
  // one error style: commander's own errors as the program's, one line, with where the usage is
  const errorsAsOurs = (c: Command, name: string): void => {
    c.configureOutput({
      outputError: (str) => process.stderr.write(`block-iscsimple: ${str.replace(/^error: /, "").trim()} (block-iscsimple${name} --help shows the usage)\n`),
    });
  };
  errorsAsOurs(program, "");
  for (const c of program.commands) {
    c.exitOverride();
    errorsAsOurs(c, ` ${c.name()}`);
  }
  return program;
}

export function usageExit(err: CommanderError): number {
  if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") return EXIT.ok;
  return EXIT.badInput;
}
