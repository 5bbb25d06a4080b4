// The simulated host: one script plays iscsiadm, mdadm, udevadm, logger and the xenstore-* tools.
// State lives under $BLOCK_ISCSIMPLE_ROOT: fake/world.json (filer, node DB, sessions, arrays,
// xenstore), plus the sysfs and /dev trees the program reads (real block device nodes, by mknod).
// Faults: fake/faults.json maps "tool verb" to {exit, stderr, hang, delayMs}; every call is
// appended to fake/calls.log ("tool verb args", then "hang" when it hangs).
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const ROOT = process.env.BLOCK_ISCSIMPLE_ROOT;
if (!ROOT) { process.stderr.write("fakehost: BLOCK_ISCSIMPLE_ROOT not set\n"); process.exit(99); }
const FAKE = path.join(ROOT, "fake");
const WORLD = path.join(FAKE, "world.json");
const LOCK = path.join(FAKE, "lock");
const [tool, ...args] = process.argv.slice(2);

const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const readJson = (f, d) => { try { return JSON.parse(fs.readFileSync(f, "utf8")); } catch { return d; } };
const log = (line) => fs.appendFileSync(path.join(FAKE, "calls.log"), `${line}\n`);
const out = (s) => process.stdout.write(s);
const err = (s) => process.stderr.write(s);

function lock() {
  for (let i = 0; ; i++) {
    try { fs.mkdirSync(LOCK); return; } catch { if (i > 5000) throw new Error("fakehost: world lock stuck"); sleep(2); }
  }
}
const unlock = () => fs.rmSync(LOCK, { recursive: true, force: true });
const load = () => readJson(WORLD, {});
const save = (w) => { fs.writeFileSync(`${WORLD}.tmp`, JSON.stringify(w, null, 1)); fs.renameSync(`${WORLD}.tmp`, WORLD); };

let after = null;
/** Applies a configured fault for "tool verb": delay, hang (forever, before or after acting) or an exit. */
function fault(verb) {
  const key = verb ? `${tool} ${verb}` : tool;
  log(`${key} ${args.join(" ")}`);
  const f = readJson(path.join(FAKE, "faults.json"), {})[key];
  if (!f) return;
  if (f.hangAfter) { after = key; return; }
  if (f.delayMs) sleep(f.delayMs);
  if (f.hang) { log(`${key} hang`); for (;;) sleep(60_000); }
  if (f.exit !== undefined) {
    if (f.once) { const all = readJson(path.join(FAKE, "faults.json"), {}); delete all[key]; fs.writeFileSync(path.join(FAKE, "faults.json"), JSON.stringify(all)); }
    err(`${f.stderr ?? `${tool}: simulated failure`}\n`);
    process.exit(f.exit);
  }
}

/** Ends the call; with a hangAfter fault, hangs once the action is done. */
function finish(code) {
  if (after) { log(`${after} hang`); for (;;) sleep(60_000); }
  process.exit(code);
}

const R = (p) => path.join(ROOT, p);
const mkdirp = (p) => fs.mkdirSync(p, { recursive: true });
const write = (p, v) => { mkdirp(path.dirname(p)); fs.writeFileSync(p, `${v}\n`); };
function mknod(p, major, minor) {
  mkdirp(path.dirname(p));
  fs.rmSync(p, { force: true });
  execFileSync("mknod", [p, "b", String(major), String(minor)]);
}
const unR = (p) => (p.startsWith(`${ROOT}/`) ? p.slice(ROOT.length) : p);
const normPortal = (p) => (/:\d+$/.test(p) ? p : `${p}:3260`);

// ---------------------------------------------------------------- iSCSI
// Node and discovery records also exist as files, as open-iscsi keeps them (etc/iscsi/nodes/IQN/
// PORTAL,TPGT/default and etc/iscsi/send_targets/ADDR,PORT/st_config): the program writes the CHAP
// credentials there, and a login or a discovery reads them back ("name = value" to the end of the line).
const portalDir = (p) => normPortal(p).replace(/:(\d+)$/, ",$1");
function nodeFile(iqn, portal) {
  const f = R(`etc/iscsi/nodes/${iqn}/${portalDir(portal)},1/default`);
  if (!fs.existsSync(f)) write(f, `node.name = ${iqn}\nnode.tpgt = 1\nnode.conn[0].address = ${normPortal(portal).replace(/:\d+$/, "")}`);
}
function readRecord(file) {
  const out = {};
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const m = /^\s*([^\s=]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}
function fileSettings(iqn) {
  const dir = R(`etc/iscsi/nodes/${iqn}`);
  const out = {};
  if (!fs.existsSync(dir)) return out;
  for (const p of fs.readdirSync(dir)) for (const f of fs.readdirSync(path.join(dir, p))) Object.assign(out, readRecord(path.join(dir, p, f)));
  return out;
}
function lunDevices(w, sid) {
  const s = w.sessions[sid];
  const t = w.filer[s.iqn];
  for (const lun of t.luns) {
    if (Object.values(w.disks).some((d) => d.sid === Number(sid) && d.lun === lun)) continue;
    const n = w.nextDisk++;
    const name = `sd${String.fromCharCode(98 + (n % 24))}${n >= 24 ? n : ""}`;
    const minor = 16 * (n + 1);
    w.disks[name] = { sid: Number(sid), lun, iqn: s.iqn, major: 8, minor, portal: s.portal };
    const hctl = `${s.host}:0:0:${lun}`;
    write(R(`sys/class/iscsi_session/session${sid}/device/target${s.host}:0:0/${hctl}/block/${name}/dev`), `8:${minor}`);
    write(R(`sys/block/${name}/dev`), `8:${minor}`);
    write(R(`sys/block/${name}/size`), String(131072 * (lun + 1)));
    write(R(`sys/class/iscsi_session/session${sid}/device/target${s.host}:0:0/${hctl}/vendor`), "IET");
    write(R(`sys/class/iscsi_session/session${sid}/device/target${s.host}:0:0/${hctl}/model`), "VIRTUAL-DISK");
    write(R(`sys/class/iscsi_session/session${sid}/device/target${s.host}:0:0/${hctl}/wwid`), `naa.60000000000000000e0000000${s.host}0${lun}`);
    mknod(R(`dev/${name}`), 8, minor);
    mpathAddPath(w, name, s.iqn, lun);
    if (w.udev) {
      const link = R(`dev/disk/by-path/ip-${s.portal}-iscsi-${s.iqn}-lun-${lun}`);
      mkdirp(path.dirname(link));
      fs.rmSync(link, { force: true });
      fs.symlinkSync(`../../${name}`, link);
    }
  }
}

function dropSession(w, sid) {
  for (const [name, d] of Object.entries(w.disks)) {
    if (d.sid !== Number(sid)) continue;
    mpathRemovePath(w, name);
    fs.rmSync(R(`dev/${name}`), { force: true });
    fs.rmSync(R(`sys/block/${name}`), { recursive: true, force: true });
    fs.rmSync(R(`dev/disk/by-path/ip-${d.portal}-iscsi-${d.iqn}-lun-${d.lun}`), { force: true });
    delete w.disks[name];
  }
  fs.rmSync(R(`sys/class/iscsi_session/session${sid}`), { recursive: true, force: true });
  delete w.sessions[sid];
}

function iscsiadm() {
  const opt = (flag) => { const i = args.indexOf(flag); return i >= 0 ? args[i + 1] : undefined; };
  const mode = opt("-m");
  const iqn = opt("-T");
  let verb = mode;
  if (mode === "discoverydb") verb = args.includes("--discover") ? "discovery" : "discoverydb";
  else if (mode === "node" && opt("-o") === "new") verb = "new";
  else if (mode === "node" && opt("-o") === "delete") verb = "delete";
  else if (mode === "node" && args.includes("--login")) verb = "login";
  else if (mode === "node" && args.includes("--logout")) verb = "logout";
  else if (mode === "node" && opt("-o") === "update") verb = "update";
  else if (mode === "session" && args.includes("--rescan")) verb = "rescan";
  fault(verb);
  lock();
  let code = 0;
  try {
    const w = load();
    if (verb === "discoverydb") {
      const portal = normPortal(opt("-p"));
      w.discoverydb = w.discoverydb ?? {};
      w.discoverydb[portal] = w.discoverydb[portal] ?? {};
      if (opt("-o") === "update") w.discoverydb[portal][opt("-n")] = opt("-v");
      const st = R(`etc/iscsi/send_targets/${portalDir(portal)}/st_config`);
      if (!fs.existsSync(st)) write(st, `discovery.sendtargets.address = ${portal.replace(/:\d+$/, "")}`);
    } else if (verb === "discovery") {
      const portal = normPortal(opt("-p"));
      const found = Object.entries(w.filer).filter(([, t]) => t.portals.includes(portal));
      const stFile = R(`etc/iscsi/send_targets/${portalDir(portal)}/st_config`);
      const db = { ...((w.discoverydb ?? {})[portal] ?? {}), ...(fs.existsSync(stFile) ? readRecord(stFile) : {}) };
      if (!w.portalsUp.includes(portal)) { err(`iscsiadm: cannot make connection to ${portal}: Connection refused\n`); code = 4; }
      else if (w.discoveryChap && (mode !== "discoverydb" || db["discovery.sendtargets.auth.username"] !== w.discoveryChap.user || db["discovery.sendtargets.auth.password"] !== w.discoveryChap.pass)) {
        err("iscsiadm: Login failed to authenticate with target\niscsiadm: discovery login to 192.0.2.10 rejected: initiator failed authorization\n"); code = 24;
      }
      else for (const [name, t] of found) {
        if (!args.includes("nonpersistent")) { w.nodes[name] = { portals: t.portals, settings: w.nodes[name]?.settings ?? {} }; for (const p of t.portals) nodeFile(name, p); }
        for (const p of t.portals) out(`${p},1 ${name}\n`);
      }
    } else if (verb === "new") {
      const p = normPortal(opt("-p"));
      w.nodes[iqn] = w.nodes[iqn] ?? { portals: [], settings: {} };
      if (!w.nodes[iqn].portals.includes(p)) w.nodes[iqn].portals.push(p);
      nodeFile(iqn, p);
      out(`New iSCSI node [tcp:[hw=,ip=,net_if=,iscsi_if=default] ${p},-1 ${iqn}] added\n`);
    } else if (verb === "delete") {
      if (!w.nodes[iqn]) { err("iscsiadm: No records found\n"); code = 21; } else { delete w.nodes[iqn]; fs.rmSync(R(`etc/iscsi/nodes/${iqn}`), { recursive: true, force: true }); }
    } else if (verb === "node") {
      const lines = Object.entries(w.nodes).flatMap(([name, n]) => n.portals.map((p) => `${p},1 ${name}\n`));
      if (lines.length === 0) { err("iscsiadm: No records found\n"); code = 21; } else out(lines.join(""));
    } else if (verb === "update") {
      if (!w.nodes[iqn]) { err("iscsiadm: No records found\n"); code = 21; }
      else w.nodes[iqn].settings[opt("-n")] = opt("-v");
    } else if (verb === "login") {
      const node = w.nodes[iqn] && { ...w.nodes[iqn], settings: { ...w.nodes[iqn].settings, ...fileSettings(iqn) } };
      if (!node) { err("iscsiadm: No records found\n"); code = 21; }
      else if (Object.values(w.sessions).some((s) => s.iqn === iqn)) { err("iscsiadm: default: 1 session requested, but 1 already present.\n"); code = 15; }
      else if (w.filer[iqn]?.chap && (node.settings["node.session.auth.authmethod"] !== "CHAP" || node.settings["node.session.auth.username"] !== w.filer[iqn].chap.user || node.settings["node.session.auth.password"] !== w.filer[iqn].chap.pass)) {
        err(`iscsiadm: Could not login to [iface: default, target: ${iqn}, portal: ${node.portals[0]}].\niscsiadm: initiator reported error (24 - iSCSI login failed due to authorization failure)\n`); code = 24;
      }
      else {
        const up = node.portals.filter((p) => w.portalsUp.includes(p));
        // like iscsiadm: any portal that fails makes the exit status non-zero, even when others logged in
        for (const p of node.portals.filter((x) => !up.includes(x))) {
          err(`iscsiadm: Could not login to [iface: default, target: ${iqn}, portal: ${p}].\niscsiadm: initiator reported error (8 - connection timed out)\n`);
          code = 8;
        }
        if (up.length < node.portals.length && up.length > 0) err("iscsiadm: Could not log into all portals\n");
        for (const p of up) {
          const sid = w.nextSid++;
          w.sessions[sid] = { iqn, portal: p, host: w.nextHost++ };
          write(R(`sys/class/iscsi_session/session${sid}/targetname`), iqn);
          write(R(`sys/class/iscsi_session/session${sid}/state`), "LOGGED_IN");
          write(R(`sys/class/iscsi_session/session${sid}/recovery_tmo`), node.settings["node.session.timeo.replacement_timeout"] ?? "120");
          out(`Login to [iface: default, target: ${iqn}, portal: ${p}] successful.\n`);
          if (w.deviceDelayMs > 0) {
            spawn(process.execPath, [process.argv[1], "_appear", String(sid), String(w.deviceDelayMs)], { detached: true, stdio: "ignore", env: process.env }).unref();
          } else lunDevices(w, sid);
        }
      }
    } else if (verb === "logout") {
      const sids = Object.entries(w.sessions).filter(([, s]) => s.iqn === iqn).map(([sid]) => sid);
      if (sids.length === 0) { err("iscsiadm: No matching sessions found\n"); code = 21; }
      for (const sid of sids) dropSession(w, sid);
    } else if (verb === "rescan") {
      const sid = opt("-r");
      if (!w.sessions[sid]) { err("iscsiadm: No session found.\n"); code = 21; } else lunDevices(w, sid);
    } else { err(`fake iscsiadm: unsupported ${args.join(" ")}\n`); code = 7; }
    save(w);
  } finally { unlock(); }
  finish(code);
}

// ---------------------------------------------------------------- dm-multipath
// w.mpath: {daemon, claim, queueing, features, maps: {dm-N: {name, wwid, paths, queueing}}, next}; maps
// use major 252. multipathd builds a map when a claimed path appears (if the daemon runs), drops a
// path when its device goes, and removes a map whose last path went (unless md holds it).
const wwidOf = (iqn, lun) => `360000000000000000e${Buffer.from(iqn).toString("hex").slice(-10)}0${lun}`;
function mpathAddPath(w, sd, iqn, lun) {
  const m = w.mpath;
  if (!m || !m.daemon || !m.buildMaps || !m.claim) return;
  if (m.claim === "after-settle") { m.pending = [...(m.pending ?? []), [sd, iqn, lun]]; return; }
  const wwid = wwidOf(iqn, lun);
  let kn = Object.keys(m.maps).find((k) => m.maps[k].wwid === wwid);
  if (!kn) {
    const n = m.next++;
    kn = `dm-${n}`;
    const name = `mpath${String.fromCharCode(97 + n)}`;
    m.maps[kn] = { name, wwid, paths: [], queueing: m.queueing, minor: n };
    write(R(`sys/block/${kn}/dev`), `252:${n}`);
    write(R(`sys/block/${kn}/dm/name`), name);
    write(R(`sys/block/${kn}/dm/uuid`), `mpath-${wwid}`);
    mknod(R(`dev/${kn}`), 252, n);
    mkdirp(R("dev/mapper"));
    fs.rmSync(R(`dev/mapper/${name}`), { force: true });
    if (w.udev) fs.symlinkSync(`../${kn}`, R(`dev/mapper/${name}`)); else mknod(R(`dev/mapper/${name}`), 252, n);
  }
  m.maps[kn].paths.push(sd);
  mkdirp(R(`sys/block/${kn}/slaves/${sd}`));
  mkdirp(R(`sys/block/${sd}/holders/${kn}`));
}
function mapInUse(w, kn) {
  const n = w.mpath.maps[kn].minor;
  return Object.values(w.md).some((a) => a.members.some((x) => x.major === 252 && x.minor === n));
}
function removeMap(w, kn) {
  const map = w.mpath.maps[kn];
  for (const sd of map.paths) fs.rmSync(R(`sys/block/${sd}/holders/${kn}`), { recursive: true, force: true });
  fs.rmSync(R(`sys/block/${kn}`), { recursive: true, force: true });
  fs.rmSync(R(`dev/${kn}`), { force: true });
  fs.rmSync(R(`dev/mapper/${map.name}`), { force: true });
  delete w.mpath.maps[kn];
}
function mpathRemovePath(w, sd) {
  if (!w.mpath) return;
  for (const [kn, map] of Object.entries(w.mpath.maps)) {
    if (!map.paths.includes(sd)) continue;
    map.paths = map.paths.filter((p) => p !== sd);
    fs.rmSync(R(`sys/block/${kn}/slaves/${sd}`), { recursive: true, force: true });
    if (map.paths.length === 0 && !mapInUse(w, kn)) removeMap(w, kn);
  }
}
const sessionOf = (w, sd) => w.disks[sd]?.sid;
function activePaths(w, map) {
  return map.paths.filter((sd) => { const sid = sessionOf(w, sd); try { return fs.readFileSync(R(`sys/class/iscsi_session/session${sid}/state`), "utf8").trim() === "LOGGED_IN"; } catch { return false; } }).length;
}

function multipath() {
  const verb = args[0];
  fault(verb);
  lock();
  let code = 0;
  try {
    const w = load();
    const m = w.mpath;
    if (verb === "-c") {
      // claim "after-settle": the WWID is only in udev's database once udevadm settle ran
      if (m.claim === true || (m.claim === "after-settle" && w.settled)) out(`${unR(args[1])} is a valid multipath device path\n`); else { out(`${unR(args[1])} is not a valid multipath device path\n`); code = 1; }
    } else if (verb === "-f") {
      const kn = Object.keys(m.maps).find((k) => m.maps[k].name === args[1]);
      if (!kn) { err(`${args[1]}: map not present\n`); code = 1; }
      else if (mapInUse(w, kn)) { err(`${args[1]}: map in use\n`); code = 1; }
      else removeMap(w, kn);
    } else { err(`fake multipath: unsupported ${args.join(" ")}\n`); code = 1; }
    save(w);
  } finally { unlock(); }
  finish(code);
}

function multipathd() {
  const verb = args.slice(0, 2).join(" ");
  fault(args[0]);
  lock();
  let code = 0;
  try {
    const w = load();
    const m = w.mpath;
    if (!m.daemon) { err("ux_socket_connect: Connection refused\n"); code = 1; }
    else if (verb === "show maps") {
      const fmt = args[4] ?? "%n %w";
      for (const [, map] of Object.entries(m.maps)) {
        const features = map.queueing === "on" || (map.queueing === "-" && m.features.includes("queue_if_no_path")) ? "1 queue_if_no_path" : "0";
        out(`${fmt.replace("%n", map.name).replace("%w", map.wwid).replace("%Q", map.queueing).replace("%N", String(activePaths(w, map))).replace("%f", features)}\n`);
      }
    } else if (verb === "disablequeueing map") {
      const map = Object.values(m.maps).find((x) => x.name === args[2]);
      if (!map) { out("fail\n"); code = 1; } else { if (!m.stuck) map.queueing = "off"; out("ok\n"); }
    } else { err(`fake multipathd: unsupported ${args.join(" ")}\n`); code = 1; }
    save(w);
  } finally { unlock(); }
  finish(code);
}

// ---------------------------------------------------------------- md
function devOf(p) {
  const st = fs.statSync(p);
  if (!st.isBlockDevice()) return null;
  return { major: Math.floor(st.rdev / 256) & 0xfff, minor: st.rdev & 0xff | ((Math.floor(st.rdev / 4096) & 0xfff00)) };
}

/** The sysfs folder of a device (by major:minor), where the kernel lists its holders. */
function sysDirOfDev(d) {
  try { return fs.realpathSync(R(`sys/dev/block/${d.major}:${d.minor}`)); } catch { /* not indexed */ }
  for (const n of fs.existsSync(R("sys/block")) ? fs.readdirSync(R("sys/block")) : []) {
    try { if (fs.readFileSync(R(`sys/block/${n}/dev`), "utf8").trim() === `${d.major}:${d.minor}`) return R(`sys/block/${n}`); } catch { /* */ }
  }
  return null;
}
function setHolder(d, md, on) {
  const dir = sysDirOfDev(d);
  if (!dir) return;
  if (on) mkdirp(path.join(dir, "holders", md)); else fs.rmSync(path.join(dir, "holders", md), { recursive: true, force: true });
}

/** mdadm --monitor --program=P: runs P Fail /dev/mdN /dev/MEMBER when a member turns faulty (polls the world). */
function mdadmMonitor() {
  fault("monitor");
  const prog = args.find((a) => a.startsWith("--program="))?.slice("--program=".length);
  const seen = new Map();
  for (;;) {
    const w = load();
    for (const [md, a] of Object.entries(w.md ?? {})) {
      for (const m of a.members) {
        const key = `${md}/${m.name}`;
        const faulty = m.state.includes("faulty");
        if (faulty && seen.get(key) === false) {
          log(`mdadm-monitor Fail /dev/${md} /dev/${m.name}`);
          spawn(prog, ["Fail", `/dev/${md}`, `/dev/${m.name}`], { stdio: "ignore", env: process.env });
        }
        seen.set(key, faulty);
      }
    }
    sleep(50);
  }
}

function mdadm() {
  if (args[0] === "--monitor") return mdadmMonitor();
  const verb = args[0] === "--build" ? "build" : args[0] === "--stop" ? "stop" : args[1] === "--add" ? "add" : args[1] === "--remove" ? "remove" : "?";
  fault(verb);
  lock();
  let code = 0;
  try {
    const w = load();
    const mdArg = verb === "add" || verb === "remove" ? args[0] : args[1];
    if (verb === "build") {
      const members = args.slice(2).filter((a) => !a.startsWith("--"));
      const wm = args.indexOf("--write-mostly");
      const label = path.basename(mdArg);
      if (fs.existsSync(mdArg)) { err(`mdadm: ${unR(mdArg)} already exists\n`); process.exit(1); }
      const legs = [];
      for (const [i, m] of members.entries()) {
        if (m === "missing") continue;
        let d = null;
        try { d = devOf(m); } catch { /* missing */ }
        if (!d) { err(`mdadm: cannot open ${unR(m)}: No such file or directory\n`); process.exit(1); }
        const name = path.basename(fs.realpathSync(m));
        if (Object.values(w.md).some((a) => a.members.some((x) => x.major === d.major && x.minor === d.minor))) {
          err(`mdadm: cannot open ${unR(m)}: Device or resource busy\n`); process.exit(1);
        }
        const writeMostly = wm >= 0 && args.indexOf(m) > wm;
        legs.push({ name, ...d, state: writeMostly ? "in_sync,write_mostly" : "in_sync", slot: i });
      }
      let n = 127;
      while (w.md[`md${n}`]) n--;
      const md = `md${n}`;
      w.md[md] = { label, members: legs };
      write(R(`sys/block/${md}/dev`), `9:${n}`);
      write(R(`sys/block/${md}/md/array_state`), "clean");
      write(R(`sys/block/${md}/md/sync_action`), "idle");
      write(R(`sys/block/${md}/md/sync_completed`), "none");
      write(R(`sys/block/${md}/md/degraded`), String(2 - legs.length));
      write(R(`sys/block/${md}/md/sync_speed_min`), "1000 (system)");
      write(R(`sys/block/${md}/md/sync_speed_max`), "200000 (system)");
      for (const l of legs) {
        setHolder(l, md, true);
        write(R(`sys/block/${md}/slaves/${l.name}/dev`), `${l.major}:${l.minor}`);
        write(R(`sys/block/${md}/md/dev-${l.name}/state`), l.state);
      }
      mknod(R(`dev/${md}`), 9, n);
      mkdirp(R("dev/md"));
      fs.rmSync(mdArg, { force: true });
      fs.symlinkSync(w.udev ? `../${md}` : R(`dev/${md}`), mdArg);
      err(`mdadm: array ${unR(mdArg)} built and started.\n`);
    } else if (verb === "add" || verb === "stop" || verb === "remove") {
      let md = null;
      try { const d = devOf(mdArg); if (d && d.major === 9) md = `md${d.minor}`; } catch { /* */ }
      if (!md || !w.md[md]) { err(`mdadm: error opening ${unR(mdArg)}: No such file or directory\n`); process.exit(1); }
      if (verb === "remove") {
        if (args[2] !== "failed") { err("fake mdadm: only --remove failed\n"); process.exit(2); }
        for (const m of w.md[md].members.filter((x) => x.state.includes("faulty"))) {
          setHolder(m, md, false);
          fs.rmSync(R(`sys/block/${md}/slaves/${m.name}`), { recursive: true, force: true });
          fs.rmSync(R(`sys/block/${md}/md/dev-${m.name}`), { recursive: true, force: true });
          err(`mdadm: hot removed ${m.name} from ${unR(mdArg)}\n`);
        }
        w.md[md].members = w.md[md].members.filter((x) => !x.state.includes("faulty"));
      } else if (verb === "add") {
        const dev = args[2];
        let d = null;
        try { d = devOf(dev); } catch { /* */ }
        if (!d) { err(`mdadm: stat failed for ${unR(dev)}: No such file or directory\n`); process.exit(1); }
        if (Object.values(w.md).some((a) => a.members.some((x) => x.major === d.major && x.minor === d.minor))) {
          err(`mdadm: Cannot open ${unR(dev)}: Device or resource busy\n`); process.exit(1);
        }
        const name = path.basename(fs.realpathSync(dev));
        w.md[md].members.push({ name, ...d, state: "spare", added: true });
        setHolder(d, md, true);
        write(R(`sys/block/${md}/slaves/${name}/dev`), `${d.major}:${d.minor}`);
        write(R(`sys/block/${md}/md/dev-${name}/state`), "spare");
        write(R(`sys/block/${md}/md/sync_action`), "recover");
        write(R(`sys/block/${md}/md/sync_completed`), "2048 / 131072");
        write(R(`sys/block/${md}/md/degraded`), "1");
        err(`mdadm: added ${unR(dev)}\n`);
      } else {
        const label = w.md[md].label;
        for (const m of w.md[md].members) setHolder(m, md, false);
        delete w.md[md];
        fs.rmSync(R(`sys/block/${md}`), { recursive: true, force: true });
        fs.rmSync(R(`dev/${md}`), { force: true });
        if (w.udev) fs.rmSync(R(`dev/md/${label}`), { force: true });
        err(`mdadm: stopped ${unR(mdArg)}\n`);
      }
    } else { err(`fake mdadm: unsupported ${args.join(" ")}\n`); code = 2; }
    save(w);
  } finally { unlock(); }
  finish(code);
}

// ---------------------------------------------------------------- xenstore
const abs = (p) => (p.startsWith("/") ? p : `/local/domain/0/${p}`);
function xenstore() {
  const verb = tool.replace("xenstore-", "");
  fault("");
  lock();
  let code = 0;
  try {
    const w = load();
    const xs = w.xenstore;
    if (verb === "read") {
      const vals = [];
      for (const k of args) {
        if (!(abs(k) in xs)) { err(`xenstore-read: couldn't read path ${k}\n`); code = 1; break; }
        vals.push(xs[abs(k)]);
      }
      // a value written as "\u0000b64:..." stands for raw bytes (not UTF-8), as xenstore can hold
      if (code === 0) for (const v of vals) process.stdout.write(v.startsWith("\u0000b64:") ? Buffer.concat([Buffer.from(v.slice(5), "base64"), Buffer.from("\n")]) : `${v}\n`);
    } else if (verb === "write") {
      for (let i = 0; i + 1 < args.length; i += 2) xs[abs(args[i])] = args[i + 1];
    } else if (verb === "exists") {
      const k = abs(args[0]);
      code = Object.keys(xs).some((x) => x === k || x.startsWith(`${k}/`)) ? 0 : 1;
    } else if (verb === "rm") {
      for (const a of args) for (const x of Object.keys(xs)) if (x === abs(a) || x.startsWith(`${abs(a)}/`)) delete xs[x];
    } else if (verb === "ls") {
      const k = abs(args[args.length - 1]);
      const keys = Object.keys(xs).filter((x) => x === k || x.startsWith(`${k}/`)).sort();
      if (keys.length === 0) { err(`xenstore-ls: could not access ${k}: No such file or directory\n`); code = 1; }
      else out(keys.map((x) => `${x} = "${xs[x]}"\n`).join(""));
    } else if (verb === "list") {
      const k = abs(args[0]);
      const kids = new Set(Object.keys(xs).filter((x) => x.startsWith(`${k}/`)).map((x) => x.slice(k.length + 1).split("/")[0]));
      out([...kids].map((c) => `${c}\n`).join(""));
    }
    save(w);
  } finally { unlock(); }
  finish(code);
}

// ---------------------------------------------------------------- blkid
function blkid() {
  fault("");
  const dev = unR(args[args.length - 1]);
  const sig = load().signatures?.[dev];
  if (!fs.existsSync(args[args.length - 1])) { err(`blkid: error: ${dev}: No such file or directory\n`); process.exit(2); }
  if (sig) { out(`DEVNAME=${dev}\n${sig}\n`); finish(0); }
  finish(2);
}

// ---------------------------------------------------------------- misc
if (tool === "_appear") {
  sleep(Number(args[1]));
  lock();
  try { const w = load(); if (w.sessions[args[0]]) lunDevices(w, args[0]); save(w); } finally { unlock(); }
} else if (tool === "iscsiadm") iscsiadm();
else if (tool === "mdadm") mdadm();
else if (tool === "multipath") multipath();
else if (tool === "blkid") blkid();
else if (tool === "multipathd") multipathd();
else if (tool?.startsWith("xenstore-")) xenstore();
else if (tool === "logger") {
  const input = fs.readFileSync(0, "utf8");
  fs.appendFileSync(path.join(FAKE, "syslog.log"), input);
} else if (tool === "udevadm") {
  fault(args[0] ?? "");
  if (args[0] === "settle") {
    // the queued events are done: multipathd builds the maps it was waiting for
    lock();
    try {
      const w = load();
      w.settled = true;
      if (w.mpath?.claim === "after-settle") { const p = w.mpath.pending ?? []; w.mpath.claim = true; w.mpath.pending = []; for (const [sd, iqn, lun] of p) mpathAddPath(w, sd, iqn, lun); }
      save(w);
    } finally { unlock(); }
  }
}
else { err(`fakehost: unknown tool ${tool}\n`); process.exit(127); }
