// The simulated host's tools: iscsiadm, mdadm, multipath, multipathd, udevadm, blkid and the
// xenstore-* tools, as functions over the world (world.ts) and the sysfs and /dev trees under ROOT.
// fakehost.ts runs them as executables (the whole-process tests); the in-process engine tests call
// them through an injected executor. Every call is logged to ROOT/fake/calls.log as its real argv.
// Faults: ROOT/fake/faults.json maps "tool verb" to a Fault (world.ts).
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { callsFile, changeWorld, faultsFile, loadWorld, pause, readJson, writeAtomic, type Fault, type World } from "./world.ts";

/** The fake tools' executable script (SimHost gives the compiled one; else the source, run as it is). */
export const FAKEHOST = process.env.BLOCK_ISCSIMPLE_FAKEHOST ?? path.join(import.meta.dirname, "fakehost.ts");

/** What a call printed and its exit status. */
export interface Outcome {
  code: number;
  stdout: (string | Buffer)[];
  stderr: string[];
}

/** The call's fault, decided before it acts (a delay or a hang comes first; an exit replaces the action). */
export interface Prepared {
  /** "tool verb", the key of faults.json. */
  readonly key: string;
  readonly fault: Fault | null;
}

/** One line of calls.log: a call's argv, or a call that hangs. */
export type CallLine = { argv: string[] } | { hang: string };

export function logLine(root: string, line: CallLine): void {
  fs.appendFileSync(callsFile(root), `${JSON.stringify(line)}\n`);
}

/** A call that ends early with a status (the fake's process.exit inside an action). */
class Exit extends Error {
  readonly code: number;
  constructor(code: number) {
    super(`exit ${code}`);
    this.code = code;
  }
}

const opt = (args: readonly string[], flag: string): string | undefined => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
};

/** The verb a call is known by in faults.json (and in the tests' hang lines). */
export function verbOf(tool: string, args: readonly string[]): string {
  if (tool === "iscsiadm") {
    const mode = opt(args, "-m");
    if (mode === "discoverydb") return args.includes("--discover") ? "discovery" : "discoverydb";
    if (mode === "node" && opt(args, "-o") === "new") return "new";
    if (mode === "node" && opt(args, "-o") === "delete") return "delete";
    if (mode === "node" && args.includes("--login")) return "login";
    if (mode === "node" && args.includes("--logout")) return "logout";
    if (mode === "node" && opt(args, "-o") === "update") return "update";
    if (mode === "session" && args.includes("--rescan")) return "rescan";
    return mode ?? "";
  }
  if (tool === "mdadm") {
    if (args[0] === "--monitor") return "monitor";
    if (args[0] === "--build") return "build";
    if (args[0] === "--stop") return "stop";
    if (args[1] === "--add") return "add";
    if (args[1] === "--remove") return "remove";
    return "?";
  }
  if (tool === "multipath" || tool === "multipathd" || tool === "udevadm") return args[0] ?? "";
  return "";
}

/** Logs the call and finds its fault; an exit fault marked `once` is used up here. */
export function prepare(root: string, tool: string, args: readonly string[]): Prepared {
  const verb = verbOf(tool, args);
  const key = verb ? `${tool} ${verb}` : tool;
  logLine(root, { argv: [tool, ...args] });
  const all = readJson<Record<string, Fault>>(faultsFile(root), {});
  const fault = all[key] ?? null;
  if (fault?.exit !== undefined && fault.once && !fault.hang && !fault.hangAfter) {
    delete all[key];
    writeAtomic(faultsFile(root), JSON.stringify(all));
  }
  return { key, fault };
}

/** The outcome of an exit fault. */
export function faultOutcome(tool: string, f: Fault): Outcome {
  return { code: f.exit ?? 1, stdout: [], stderr: [`${f.stderr ?? `${tool}: simulated failure`}\n`] };
}

/** Runs one tool call against the world (no fault handling: see prepare). */
export function act(root: string, tool: string, args: readonly string[]): Outcome {
  const o: Outcome = { code: 0, stdout: [], stderr: [] };
  const t = new Tools(root, args, o);
  try {
    if (tool === "iscsiadm") t.iscsiadm();
    else if (tool === "mdadm") t.mdadm();
    else if (tool === "multipath") t.multipath();
    else if (tool === "multipathd") t.multipathd();
    else if (tool === "blkid") t.blkid();
    else if (tool === "udevadm") t.udevadm();
    else if (tool.startsWith("xenstore-")) t.xenstore(tool.replace("xenstore-", ""));
    else if (tool === "_appear") t.appear();
    else {
      o.stderr.push(`fakehost: unknown tool ${tool}\n`);
      o.code = 127;
    }
  } catch (err) {
    if (!(err instanceof Exit)) throw err;
    o.code = err.code;
  }
  return o;
}

const normPortal = (p: string): string => (/:\d+$/.test(p) ? p : `${p}:3260`);
const portalDir = (p: string): string => normPortal(p).replace(/:(\d+)$/, ",$1");
/**
 * The NAA identifier (32 hex digits) of the volume a target maps at LUN: a volume's own (the
 * filer's `volumes`, which a test changes to map another volume at the same LUN number), else one
 * made of the target and the LUN. The kernel shows it as "naa.X" (sysfs device/wwid), multipath as "3X".
 */
export function lunNaa(w: World, iqn: string, lun: number): string {
  const volume = w.filer[iqn]?.volumes?.[String(lun)] ?? `${iqn}#${lun}`;
  let h = 0x811c9dc5;
  const out: string[] = [];
  for (let round = 0; out.join("").length < 31; round++) {
    for (const c of `${round}:${volume}`) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
    out.push(h.toString(16).padStart(8, "0"));
  }
  return `6${out.join("").slice(0, 31)}`;
}
const wwidOf = (w: World, iqn: string, lun: number): string => `3${lunNaa(w, iqn, lun)}`;
const abs = (p: string): string => (p.startsWith("/") ? p : `/local/domain/0/${p}`);

/** A new node record as open-iscsi writes it: open-iscsi's defaults (15 s x 8 logins, 120 s replacement). */
export function nodeRecordText(iqn: string, portal: string): string {
  return [
    `node.name = ${iqn}`,
    "node.tpgt = 1",
    "node.session.initial_login_retry_max = 8",
    "node.session.timeo.replacement_timeout = 120",
    `node.conn[0].address = ${portal.replace(/:\d+$/, "")}`,
    `node.conn[0].port = ${/:(\d+)$/.exec(portal)?.[1] ?? "3260"}`,
    "node.conn[0].timeo.login_timeout = 15",
  ].join("\n");
}

/** A "name = value" record file of open-iscsi. */
export function readRecord(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const m = /^\s*([^\s=]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) out[m[1] as string] = m[2] as string;
  }
  return out;
}

/** A target's node settings as its record files hold them (every portal's, merged). */
export function fileSettings(root: string, iqn: string): Record<string, string> {
  const dir = path.join(root, `etc/iscsi/nodes/${iqn}`);
  const out: Record<string, string> = {};
  if (!fs.existsSync(dir)) return out;
  for (const f of recordFiles(dir)) Object.assign(out, readRecord(f));
  return out;
}

/** A target's record files: nodes/IQN/PORTAL,TPGT/IFACE, or the older flat nodes/IQN/ADDRESS,PORT. */
function recordFiles(dir: string): string[] {
  const out: string[] = [];
  for (const p of fs.readdirSync(dir)) {
    const full = path.join(dir, p);
    if (fs.statSync(full).isDirectory()) for (const f of fs.readdirSync(full)) out.push(path.join(full, f));
    else out.push(full);
  }
  return out;
}

class Tools {
  // plain fields, not parameter properties: Node's type stripping runs this file as it is
  private readonly root: string;
  private readonly args: readonly string[];
  private readonly o: Outcome;
  constructor(root: string, args: readonly string[], o: Outcome) {
    this.root = root;
    this.args = args;
    this.o = o;
  }

  private R = (p: string): string => path.join(this.root, p);
  private unR = (p: string): string => (p.startsWith(`${this.root}/`) ? p.slice(this.root.length) : p);
  private out = (s: string | Buffer): void => {
    this.o.stdout.push(s);
  };
  private err = (s: string): void => {
    this.o.stderr.push(s);
  };
  private exit(code: number): never {
    throw new Exit(code);
  }
  private mkdirp = (p: string): void => {
    fs.mkdirSync(p, { recursive: true });
  };
  private write(p: string, v: string): void {
    this.mkdirp(path.dirname(p));
    fs.writeFileSync(p, `${v}\n`);
  }
  private mknod(p: string, major: number, minor: number): void {
    this.mkdirp(path.dirname(p));
    fs.rmSync(p, { force: true });
    execFileSync("mknod", [p, "b", String(major), String(minor)]);
  }

  // ------------------------------------------------------------ iSCSI
  // Node and discovery records also exist as files, as open-iscsi keeps them (etc/iscsi/nodes/IQN/
  // PORTAL,TPGT/default and etc/iscsi/send_targets/ADDR,PORT/st_config): the program writes the CHAP
  // credentials there, and a login or a discovery reads them back.
  private nodeFile(iqn: string, portal: string): void {
    const f = this.R(`etc/iscsi/nodes/${iqn}/${portalDir(portal)},1/default`);
    if (!fs.existsSync(f)) this.write(f, nodeRecordText(iqn, normPortal(portal)));
  }

  /** iscsiadm -o update: the value goes into every record file of the target. */
  private updateFiles(iqn: string, name: string, value: string): void {
    const dir = this.R(`etc/iscsi/nodes/${iqn}`);
    if (!fs.existsSync(dir)) return;
    for (const file of recordFiles(dir)) {
      {
        const lines = fs.readFileSync(file, "utf8").split("\n").filter((l) => l !== "" && l.split("=")[0]?.trim() !== name);
        fs.writeFileSync(file, `${[...lines, `${name} = ${value}`].join("\n")}\n`);
      }
    }
  }

  lunDevices(w: World, sid: string): void {
    const s = w.sessions[sid];
    const t = s && w.filer[s.iqn];
    if (!s || !t) return;
    for (const lun of t.luns) {
      if (Object.values(w.disks).some((d) => d.sid === Number(sid) && d.lun === lun)) continue;
      const n = w.nextDisk++;
      const name = `sd${String.fromCharCode(98 + (n % 24))}${n >= 24 ? n : ""}`;
      const minor = 16 * (n + 1);
      w.disks[name] = { sid: Number(sid), lun, iqn: s.iqn, major: 8, minor, portal: s.portal };
      const hctl = `${s.host}:0:0:${lun}`;
      const scsi = `sys/class/iscsi_session/session${sid}/device/target${s.host}:0:0/${hctl}`;
      this.write(this.R(`${scsi}/block/${name}/dev`), `8:${minor}`);
      this.write(this.R(`sys/block/${name}/dev`), `8:${minor}`);
      this.write(this.R(`sys/block/${name}/size`), String(131072 * (lun + 1)));
      this.write(this.R(`${scsi}/vendor`), "IET");
      this.write(this.R(`${scsi}/model`), "VIRTUAL-DISK");
      if (!w.noWwid) this.write(this.R(`${scsi}/wwid`), `naa.${lunNaa(w, s.iqn, lun)}`);
      // /sys/block/sdX/device is the SCSI device's folder, as in the kernel's sysfs
      fs.rmSync(this.R(`sys/block/${name}/device`), { force: true });
      fs.symlinkSync(path.relative(this.R(`sys/block/${name}`), this.R(scsi)), this.R(`sys/block/${name}/device`));
      this.mknod(this.R(`dev/${name}`), 8, minor);
      this.mpathAddPath(w, name, s.iqn, lun);
      if (w.udev) {
        const link = this.R(`dev/disk/by-path/ip-${s.portal}-iscsi-${s.iqn}-lun-${lun}`);
        this.mkdirp(path.dirname(link));
        fs.rmSync(link, { force: true });
        fs.symlinkSync(`../../${name}`, link);
      }
    }
  }

  private dropSession(w: World, sid: string): void {
    for (const [name, d] of Object.entries(w.disks)) {
      if (d.sid !== Number(sid)) continue;
      this.mpathRemovePath(w, name);
      fs.rmSync(this.R(`dev/${name}`), { force: true });
      fs.rmSync(this.R(`sys/block/${name}`), { recursive: true, force: true });
      fs.rmSync(this.R(`dev/disk/by-path/ip-${d.portal}-iscsi-${d.iqn}-lun-${d.lun}`), { force: true });
      delete w.disks[name];
    }
    fs.rmSync(this.R(`sys/class/iscsi_session/session${sid}`), { recursive: true, force: true });
    delete w.sessions[sid];
  }

  iscsiadm(): void {
    const { args } = this;
    const mode = opt(args, "-m");
    const iqn = opt(args, "-T") ?? "";
    const verb = verbOf("iscsiadm", args);
    changeWorld(this.root, (w) => {
      if (verb === "discoverydb" && opt(args, "-o") === "delete") {
        const portal = normPortal(opt(args, "-p") ?? "");
        if (!w.discoverydb?.[portal] && !fs.existsSync(this.R(`etc/iscsi/send_targets/${portalDir(portal)}`))) this.fail(21, "iscsiadm: No records found\n");
        else {
          delete w.discoverydb?.[portal];
          fs.rmSync(this.R(`etc/iscsi/send_targets/${portalDir(portal)}`), { recursive: true, force: true });
        }
      } else if (verb === "discoverydb") {
        const portal = normPortal(opt(args, "-p") ?? "");
        w.discoverydb = w.discoverydb ?? {};
        w.discoverydb[portal] = w.discoverydb[portal] ?? {};
        const st = this.R(`etc/iscsi/send_targets/${portalDir(portal)}/st_config`);
        if (!fs.existsSync(st)) this.write(st, `discovery.sendtargets.address = ${portal.replace(/:\d+$/, "")}`);
      } else if (verb === "discovery") {
        const portal = normPortal(opt(args, "-p") ?? "");
        const found = Object.entries(w.filer).filter(([, t]) => t.portals.includes(portal));
        const stFile = this.R(`etc/iscsi/send_targets/${portalDir(portal)}/st_config`);
        const db = { ...(w.discoverydb?.[portal] ?? {}), ...(fs.existsSync(stFile) ? readRecord(stFile) : {}) };
        if (!w.portalsUp.includes(portal)) {
          this.err(`iscsiadm: cannot make connection to ${portal}: Connection refused\n`);
          this.o.code = 4;
        } else if (
          w.discoveryChap &&
          (mode !== "discoverydb" || db["discovery.sendtargets.auth.username"] !== w.discoveryChap.user || db["discovery.sendtargets.auth.password"] !== w.discoveryChap.pass)
        ) {
          this.err("iscsiadm: Login failed to authenticate with target\niscsiadm: discovery login to 192.0.2.10 rejected: initiator failed authorization\n");
          this.o.code = 24;
        } else {
          // as open-iscsi (iscsiadm.c, do_software_sendtargets): the -o given are OR-ed; none means
          // new + update + delete, and an update deletes the record and writes it anew from
          // iscsid.conf's defaults (idbm_add_node with overwrite): what was written into it is lost.
          // nonpersistent touches no record. (delete, of records the answer lacks, is not modelled.)
          const ops = args.flatMap((a, i) => (a === "-o" && args[i + 1] !== undefined ? [args[i + 1] as string] : []));
          const persistent = !ops.includes("nonpersistent");
          const doNew = ops.length === 0 || ops.includes("new");
          const doUpdate = ops.length === 0 || ops.includes("update");
          for (const [name, t] of found) {
            if (persistent) {
              const had = w.nodes[name] !== undefined;
              if (had && doUpdate) {
                w.nodes[name] = { portals: t.portals, settings: {} };
                fs.rmSync(this.R(`etc/iscsi/nodes/${name}`), { recursive: true, force: true });
                for (const p of t.portals) this.nodeFile(name, p);
              } else if (!had && doNew) {
                w.nodes[name] = { portals: t.portals, settings: {} };
                for (const p of t.portals) this.nodeFile(name, p);
              }
            }
            for (const p of t.portals) this.out(`${p},1 ${name}\n`);
          }
        }
      } else if (verb === "new") {
        const p = normPortal(opt(args, "-p") ?? "");
        const node = (w.nodes[iqn] = w.nodes[iqn] ?? { portals: [], settings: {} });
        if (!node.portals.includes(p)) node.portals.push(p);
        this.nodeFile(iqn, p);
        this.out(`New iSCSI node [tcp:[hw=,ip=,net_if=,iscsi_if=default] ${p},-1 ${iqn}] added\n`);
      } else if (verb === "delete") {
        if (!w.nodes[iqn]) this.fail(21, "iscsiadm: No records found\n");
        else {
          delete w.nodes[iqn];
          fs.rmSync(this.R(`etc/iscsi/nodes/${iqn}`), { recursive: true, force: true });
        }
      } else if (verb === "node") {
        const lines = Object.entries(w.nodes).flatMap(([name, n]) => n.portals.map((p) => `${p},1 ${name}\n`));
        if (lines.length === 0) this.fail(21, "iscsiadm: No records found\n");
        else this.out(lines.join(""));
      } else if (verb === "update") {
        const node = w.nodes[iqn];
        if (!node) this.fail(21, "iscsiadm: No records found\n");
        else {
          node.settings[opt(args, "-n") ?? ""] = opt(args, "-v") ?? "";
          this.updateFiles(iqn, opt(args, "-n") ?? "", opt(args, "-v") ?? "");
        }
      } else if (verb === "login") {
        this.login(w, iqn);
      } else if (verb === "logout") {
        const sids = Object.entries(w.sessions).filter(([, s]) => s.iqn === iqn).map(([sid]) => sid);
        if (sids.length === 0) this.fail(21, "iscsiadm: No matching sessions found\n");
        for (const sid of sids) this.dropSession(w, sid);
      } else if (verb === "rescan") {
        const sid = opt(args, "-r") ?? "";
        if (!w.sessions[sid]) this.fail(21, "iscsiadm: No session found.\n");
        else this.lunDevices(w, sid);
      } else this.fail(7, `fake iscsiadm: unsupported ${args.join(" ")}\n`);
    });
  }

  private fail(code: number, message: string): void {
    this.err(message);
    this.o.code = code;
  }

  private login(w: World, iqn: string): void {
    const rec = w.nodes[iqn];
    if (!rec) return this.fail(21, "iscsiadm: No records found\n");
    const settings = { ...rec.settings, ...fileSettings(this.root, iqn) };
    if (Object.values(w.sessions).some((s) => s.iqn === iqn)) return this.fail(15, "iscsiadm: default: 1 session requested, but 1 already present.\n");
    const chap = w.filer[iqn]?.chap;
    if (chap && (settings["node.session.auth.authmethod"] !== "CHAP" || settings["node.session.auth.username"] !== chap.user || settings["node.session.auth.password"] !== chap.pass)) {
      return this.fail(
        24,
        `iscsiadm: Could not login to [iface: default, target: ${iqn}, portal: ${rec.portals[0]}].\niscsiadm: initiator reported error (24 - iSCSI login failed due to authorization failure)\n`,
      );
    }
    const up = rec.portals.filter((p) => w.portalsUp.includes(p));
    // like iscsiadm: any portal that fails makes the exit status non-zero, even when others logged in
    for (const p of rec.portals.filter((x) => !up.includes(x))) {
      this.fail(8, `iscsiadm: Could not login to [iface: default, target: ${iqn}, portal: ${p}].\niscsiadm: initiator reported error (8 - connection timed out)\n`);
    }
    if (up.length < rec.portals.length && up.length > 0) this.err("iscsiadm: Could not log into all portals\n");
    for (const p of up) {
      const sid = w.nextSid++;
      w.sessions[sid] = { iqn, portal: p, host: w.nextHost++ };
      this.write(this.R(`sys/class/iscsi_session/session${sid}/targetname`), iqn);
      this.write(this.R(`sys/class/iscsi_session/session${sid}/state`), "LOGGED_IN");
      this.write(this.R(`sys/class/iscsi_session/session${sid}/recovery_tmo`), settings["node.session.timeo.replacement_timeout"] ?? "120");
      this.out(`Login to [iface: default, target: ${iqn}, portal: ${p}] successful.\n`);
      if (w.deviceDelayMs > 0) {
        // the LUNs appear a moment later, as udev and the SCSI scan make them
        spawn(process.execPath, [FAKEHOST, "_appear", String(sid), String(w.deviceDelayMs)], {
          detached: true,
          stdio: "ignore",
          env: { ...process.env, BLOCK_ISCSIMPLE_ROOT: this.root },
        }).unref();
      } else this.lunDevices(w, String(sid));
    }
  }

  /** `_appear SID MS`: a login's LUN devices, after a delay (run detached). */
  appear(): void {
    const [sid = "", ms = "0"] = this.args;
    pause(Number(ms));
    changeWorld(this.root, (w) => {
      if (w.sessions[sid]) this.lunDevices(w, sid);
    });
  }

  // ------------------------------------------------------------ dm-multipath
  // w.mpath: maps use major 252. multipathd builds a map when a claimed path appears (if the daemon
  // runs), drops a path when its device goes, and removes a map whose last path went (unless md holds it).
  mpathAddPath(w: World, sd: string, iqn: string, lun: number): void {
    const m = w.mpath;
    if (!m || !m.daemon || !m.buildMaps || !m.claim) return;
    if (m.claim === "after-settle") {
      m.pending = [...(m.pending ?? []), [sd, iqn, lun]];
      return;
    }
    const wwid = m.otherWwid ?? wwidOf(w, iqn, lun);
    let kn = Object.keys(m.maps).find((k) => m.maps[k]?.wwid === wwid);
    if (!kn) {
      const n = m.next++;
      kn = `dm-${n}`;
      const name = `mpath${String.fromCharCode(97 + n)}`;
      m.maps[kn] = { name, wwid, paths: [], queueing: m.queueing, minor: n };
      this.write(this.R(`sys/block/${kn}/dev`), `252:${n}`);
      this.write(this.R(`sys/block/${kn}/dm/name`), name);
      this.write(this.R(`sys/block/${kn}/dm/uuid`), `mpath-${wwid}`);
      this.mknod(this.R(`dev/${kn}`), 252, n);
      this.mkdirp(this.R("dev/mapper"));
      fs.rmSync(this.R(`dev/mapper/${name}`), { force: true });
      if (w.udev) fs.symlinkSync(`../${kn}`, this.R(`dev/mapper/${name}`));
      else this.mknod(this.R(`dev/mapper/${name}`), 252, n);
    }
    m.maps[kn]?.paths.push(sd);
    this.mkdirp(this.R(`sys/block/${kn}/slaves/${sd}`));
    this.mkdirp(this.R(`sys/block/${sd}/holders/${kn}`));
  }

  private mapInUse(w: World, kn: string): boolean {
    const n = w.mpath?.maps[kn]?.minor;
    return Object.values(w.md).some((a) => a.members.some((x) => x.major === 252 && x.minor === n));
  }

  private removeMap(w: World, kn: string): void {
    const map = w.mpath?.maps[kn];
    if (!map || !w.mpath) return;
    for (const sd of map.paths) fs.rmSync(this.R(`sys/block/${sd}/holders/${kn}`), { recursive: true, force: true });
    fs.rmSync(this.R(`sys/block/${kn}`), { recursive: true, force: true });
    fs.rmSync(this.R(`dev/${kn}`), { force: true });
    fs.rmSync(this.R(`dev/mapper/${map.name}`), { force: true });
    delete w.mpath.maps[kn];
  }

  private mpathRemovePath(w: World, sd: string): void {
    if (!w.mpath) return;
    for (const [kn, map] of Object.entries(w.mpath.maps)) {
      if (!map.paths.includes(sd)) continue;
      map.paths = map.paths.filter((p) => p !== sd);
      fs.rmSync(this.R(`sys/block/${kn}/slaves/${sd}`), { recursive: true, force: true });
      if (map.paths.length === 0 && !this.mapInUse(w, kn)) this.removeMap(w, kn);
    }
  }

  private activePaths(w: World, paths: readonly string[]): number {
    return paths.filter((sd) => {
      const sid = w.disks[sd]?.sid;
      try {
        return fs.readFileSync(this.R(`sys/class/iscsi_session/session${sid}/state`), "utf8").trim() === "LOGGED_IN";
      } catch {
        return false;
      }
    }).length;
  }

  multipath(): void {
    const { args } = this;
    changeWorld(this.root, (w) => {
      const m = w.mpath;
      if (!m) return this.fail(1, "fake multipath: not installed\n");
      if (args[0] === "-c") {
        // claim "after-settle": the WWID is only in udev's database once udevadm settle ran
        const dev = this.unR(args[1] ?? "");
        if (m.claim === true || (m.claim === "after-settle" && w.settled)) this.out(`${dev} is a valid multipath device path\n`);
        else {
          this.out(`${dev} is not a valid multipath device path\n`);
          this.o.code = 1;
        }
      } else if (args[0] === "-f") {
        const kn = Object.keys(m.maps).find((k) => m.maps[k]?.name === args[1]);
        if (!kn) this.fail(1, `${args[1]}: map not present\n`);
        else if (this.mapInUse(w, kn)) this.fail(1, `${args[1]}: map in use\n`);
        else this.removeMap(w, kn);
      } else this.fail(1, `fake multipath: unsupported ${args.join(" ")}\n`);
    });
  }

  multipathd(): void {
    const { args } = this;
    const verb = args.slice(0, 2).join(" ");
    changeWorld(this.root, (w) => {
      const m = w.mpath;
      if (!m?.daemon) return this.fail(1, "ux_socket_connect: Connection refused\n");
      if (verb === "show maps") {
        const fmt = args[4] ?? "%n %w";
        for (const map of Object.values(m.maps)) {
          const features = map.queueing === "on" || (map.queueing === "-" && m.features.includes("queue_if_no_path")) ? "1 queue_if_no_path" : "0";
          this.out(`${fmt.replace("%n", map.name).replace("%w", map.wwid).replace("%Q", map.queueing).replace("%N", String(this.activePaths(w, map.paths))).replace("%f", features)}\n`);
        }
      } else if (verb === "disablequeueing map") {
        const map = Object.values(m.maps).find((x) => x.name === args[2]);
        if (!map) {
          this.out("fail\n");
          this.o.code = 1;
        } else {
          if (!m.stuck) map.queueing = "off";
          this.out("ok\n");
        }
      } else this.fail(1, `fake multipathd: unsupported ${args.join(" ")}\n`);
    });
  }

  // ------------------------------------------------------------ md
  private devOf(p: string): { major: number; minor: number } | null {
    const st = fs.statSync(p);
    if (!st.isBlockDevice()) return null;
    return { major: Math.floor(st.rdev / 256) & 0xfff, minor: (st.rdev & 0xff) | (Math.floor(st.rdev / 4096) & 0xfff00) };
  }

  /** The sysfs folder of a device (by major:minor), where the kernel lists its holders. */
  private sysDirOfDev(d: { major: number; minor: number }): string | null {
    try {
      return fs.realpathSync(this.R(`sys/dev/block/${d.major}:${d.minor}`));
    } catch {
      /* not indexed */
    }
    for (const n of fs.existsSync(this.R("sys/block")) ? fs.readdirSync(this.R("sys/block")) : []) {
      try {
        if (fs.readFileSync(this.R(`sys/block/${n}/dev`), "utf8").trim() === `${d.major}:${d.minor}`) return this.R(`sys/block/${n}`);
      } catch {
        /* */
      }
    }
    return null;
  }

  private setHolder(d: { major: number; minor: number }, md: string, on: boolean): void {
    const dir = this.sysDirOfDev(d);
    if (!dir) return;
    if (on) this.mkdirp(path.join(dir, "holders", md));
    else fs.rmSync(path.join(dir, "holders", md), { recursive: true, force: true });
  }

  private openDev(p: string): { major: number; minor: number } | null {
    try {
      return this.devOf(p);
    } catch {
      return null;
    }
  }

  mdadm(): void {
    const { args } = this;
    const verb = verbOf("mdadm", args);
    changeWorld(this.root, (w) => {
      const mdArg = (verb === "add" || verb === "remove" ? args[0] : args[1]) ?? "";
      const inUse = (d: { major: number; minor: number }): boolean => Object.values(w.md).some((a) => a.members.some((x) => x.major === d.major && x.minor === d.minor));
      if (verb === "build") {
        const members = args.slice(2).filter((a) => !a.startsWith("--"));
        const wm = args.indexOf("--write-mostly");
        const label = path.basename(mdArg);
        if (fs.existsSync(mdArg)) return this.fail(1, `mdadm: ${this.unR(mdArg)} already exists\n`);
        const legs = [];
        for (const [i, m] of members.entries()) {
          if (m === "missing") continue;
          const d = this.openDev(m);
          if (!d) return this.fail(1, `mdadm: cannot open ${this.unR(m)}: No such file or directory\n`);
          if (inUse(d)) return this.fail(1, `mdadm: cannot open ${this.unR(m)}: Device or resource busy\n`);
          const writeMostly = wm >= 0 && args.indexOf(m) > wm;
          legs.push({ name: path.basename(fs.realpathSync(m)), ...d, state: writeMostly ? "in_sync,write_mostly" : "in_sync", slot: i });
        }
        let n = 127;
        while (w.md[`md${n}`]) n--;
        const md = `md${n}`;
        w.md[md] = { label, members: legs };
        const sys = `sys/block/${md}`;
        this.write(this.R(`${sys}/dev`), `9:${n}`);
        this.write(this.R(`${sys}/md/array_state`), "clean");
        this.write(this.R(`${sys}/md/sync_action`), "idle");
        this.write(this.R(`${sys}/md/sync_completed`), "none");
        this.write(this.R(`${sys}/md/degraded`), String(2 - legs.length));
        this.write(this.R(`${sys}/md/sync_speed_min`), "1000 (system)");
        this.write(this.R(`${sys}/md/sync_speed_max`), "200000 (system)");
        for (const l of legs) {
          this.setHolder(l, md, true);
          this.write(this.R(`${sys}/slaves/${l.name}/dev`), `${l.major}:${l.minor}`);
          this.write(this.R(`${sys}/md/dev-${l.name}/state`), l.state);
        }
        this.mknod(this.R(`dev/${md}`), 9, n);
        this.mkdirp(this.R("dev/md"));
        fs.rmSync(mdArg, { force: true });
        fs.symlinkSync(w.udev ? `../${md}` : this.R(`dev/${md}`), mdArg);
        this.err(`mdadm: array ${this.unR(mdArg)} built and started.\n`);
        return;
      }
      if (verb !== "add" && verb !== "stop" && verb !== "remove") return this.fail(2, `fake mdadm: unsupported ${args.join(" ")}\n`);
      const d0 = this.openDev(mdArg);
      const md = d0 && d0.major === 9 ? `md${d0.minor}` : null;
      const array = md ? w.md[md] : undefined;
      if (!md || !array) return this.fail(1, `mdadm: error opening ${this.unR(mdArg)}: No such file or directory\n`);
      const sys = `sys/block/${md}`;
      if (verb === "remove") {
        if (args[2] !== "failed") return this.fail(2, "fake mdadm: only --remove failed\n");
        for (const m of array.members.filter((x) => x.state.includes("faulty"))) {
          this.setHolder(m, md, false);
          fs.rmSync(this.R(`${sys}/slaves/${m.name}`), { recursive: true, force: true });
          fs.rmSync(this.R(`${sys}/md/dev-${m.name}`), { recursive: true, force: true });
          this.err(`mdadm: hot removed ${m.name} from ${this.unR(mdArg)}\n`);
        }
        array.members = array.members.filter((x) => !x.state.includes("faulty"));
      } else if (verb === "add") {
        const dev = args[2] ?? "";
        const d = this.openDev(dev);
        if (!d) return this.fail(1, `mdadm: stat failed for ${this.unR(dev)}: No such file or directory\n`);
        if (inUse(d)) return this.fail(1, `mdadm: Cannot open ${this.unR(dev)}: Device or resource busy\n`);
        const name = path.basename(fs.realpathSync(dev));
        array.members.push({ name, ...d, state: "spare", added: true });
        this.setHolder(d, md, true);
        this.write(this.R(`${sys}/slaves/${name}/dev`), `${d.major}:${d.minor}`);
        this.write(this.R(`${sys}/md/dev-${name}/state`), "spare");
        this.write(this.R(`${sys}/md/sync_action`), "recover");
        this.write(this.R(`${sys}/md/sync_completed`), "2048 / 131072");
        this.write(this.R(`${sys}/md/degraded`), "1");
        this.err(`mdadm: added ${this.unR(dev)}\n`);
      } else {
        for (const m of array.members) this.setHolder(m, md, false);
        delete w.md[md];
        fs.rmSync(this.R(sys), { recursive: true, force: true });
        fs.rmSync(this.R(`dev/${md}`), { force: true });
        if (w.udev) fs.rmSync(this.R(`dev/md/${array.label}`), { force: true });
        this.err(`mdadm: stopped ${this.unR(mdArg)}\n`);
      }
    });
  }

  // ------------------------------------------------------------ xenstore
  xenstore(verb: string): void {
    const { args } = this;
    changeWorld(this.root, (w) => {
      const xs = w.xenstore;
      if (verb === "read") {
        const vals: string[] = [];
        for (const k of args) {
          const v = xs[abs(k)];
          if (v === undefined) return this.fail(1, `xenstore-read: couldn't read path ${k}\n`);
          vals.push(v);
        }
        // a value written as "\u0000b64:..." stands for raw bytes (not UTF-8), as xenstore can hold
        for (const v of vals) this.out(v.startsWith("\u0000b64:") ? Buffer.concat([Buffer.from(v.slice(5), "base64"), Buffer.from("\n")]) : `${v}\n`);
      } else if (verb === "write") {
        for (let i = 0; i + 1 < args.length; i += 2) xs[abs(args[i] as string)] = args[i + 1] as string;
      } else if (verb === "exists") {
        const k = abs(args[0] ?? "");
        this.o.code = Object.keys(xs).some((x) => x === k || x.startsWith(`${k}/`)) ? 0 : 1;
      } else if (verb === "rm") {
        for (const a of args) for (const x of Object.keys(xs)) if (x === abs(a) || x.startsWith(`${abs(a)}/`)) delete xs[x];
      } else if (verb === "ls") {
        const k = abs(args[args.length - 1] ?? "");
        const keys = Object.keys(xs)
          .filter((x) => x === k || x.startsWith(`${k}/`))
          .sort();
        if (keys.length === 0) this.fail(1, `xenstore-ls: could not access ${k}: No such file or directory\n`);
        else this.out(keys.map((x) => `${x} = "${xs[x]}"\n`).join(""));
      } else if (verb === "list") {
        const k = abs(args[0] ?? "");
        const kids = new Set(
          Object.keys(xs)
            .filter((x) => x.startsWith(`${k}/`))
            .map((x) => x.slice(k.length + 1).split("/")[0]),
        );
        this.out([...kids].map((c) => `${c}\n`).join(""));
      }
    });
  }

  // ------------------------------------------------------------ blkid, udevadm
  blkid(): void {
    const file = this.args[this.args.length - 1] ?? "";
    const dev = this.unR(file);
    if (!fs.existsSync(file)) {
      this.err(`blkid: error: ${dev}: No such file or directory\n`);
      this.exit(2);
    }
    const sig = loadWorld(this.root).signatures?.[dev];
    if (sig) this.out(`DEVNAME=${dev}\n${sig}\n`);
    else this.o.code = 2;
  }

  udevadm(): void {
    if (this.args[0] !== "settle") return;
    // the queued events are done: multipathd builds the maps it was waiting for
    changeWorld(this.root, (w) => {
      w.settled = true;
      if (w.mpath?.claim === "after-settle") {
        const pending = w.mpath.pending ?? [];
        w.mpath.claim = true;
        w.mpath.pending = [];
        for (const [sd, iqn, lun] of pending) this.mpathAddPath(w, sd, iqn, lun);
      }
    });
  }
}
