// The simulated host's tools as executables: SimHost puts a wrapper for each tool on PATH that runs
// `node fakehost.ts TOOL ARGS...` (Node strips the types). State and faults: world.ts, tools.ts.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { act, faultOutcome, logLine, prepare, type Outcome } from "./tools.ts";
import { fakeDir, loadWorld, pause as sleep } from "./world.ts";

const ROOT = process.env.BLOCK_ISCSIMPLE_ROOT;
if (!ROOT) {
  process.stderr.write("fakehost: BLOCK_ISCSIMPLE_ROOT not set\n");
  process.exit(99);
}
const root = ROOT;
const [tool = "", ...args] = process.argv.slice(2);
const hangForever = (key: string): never => {
  logLine(root, { hang: key });
  for (;;) sleep(60_000);
};

function writeAll(fd: number, chunk: string | Buffer): void {
  const b = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
  for (let off = 0; off < b.length; ) off += fs.writeSync(fd, b, off);
}

function finish(o: Outcome): never {
  for (const chunk of o.stdout) writeAll(1, chunk);
  for (const line of o.stderr) writeAll(2, line);
  process.exit(o.code);
}

/**
 * mdadm --monitor --program=P: runs P Fail /dev/mdN /dev/MEMBER when a member turns faulty (polls the
 * world), P's stdout its own as with mdadm; also P with the words of each line a test appends to
 * fake/mdadm-monitor.inject (other events).
 */
function mdadmMonitor(): never {
  const prog = args.find((a) => a.startsWith("--program="))?.slice("--program=".length) ?? "";
  const seen = new Map<string, boolean>();
  const ready = path.join(fakeDir(root), "mdadm-monitor.ready");
  const inject = path.join(fakeDir(root), "mdadm-monitor.inject");
  let injected = 0;
  for (;;) {
    const lines = fs.existsSync(inject) ? fs.readFileSync(inject, "utf8").split("\n").filter((l) => l !== "") : [];
    for (; injected < lines.length; injected++) spawnSync(prog, (lines[injected] as string).split(" "), { stdio: ["ignore", "inherit", "ignore"] });
    const w = loadWorld(root);
    for (const [md, a] of Object.entries(w.md ?? {})) {
      for (const m of a.members) {
        const key = `${md}/${m.name}`;
        const faulty = m.state.includes("faulty");
        if (faulty && seen.get(key) === false) {
          fs.appendFileSync(path.join(fakeDir(root), "md-events.log"), `Fail /dev/${md} /dev/${m.name}\n`);
          spawnSync(prog, ["Fail", `/dev/${md}`, `/dev/${m.name}`], { stdio: ["ignore", "inherit", "ignore"] });
        }
        seen.set(key, faulty);
      }
    }
    // like mdadm, it reports changes from the state it first saw: say when that is (a test that
    // fails a leg before it would wait for an event that never comes)
    if (!fs.existsSync(ready)) fs.writeFileSync(ready, `${process.pid}\n`);
    sleep(50);
  }
}

if (tool === "logger") {
  fs.appendFileSync(path.join(fakeDir(root), "syslog.log"), fs.readFileSync(0, "utf8"));
} else if (tool === "_appear") {
  act(root, tool, args);
} else {
  const { key, fault } = prepare(root, tool, args);
  if (fault?.delayMs) sleep(fault.delayMs);
  if (fault?.hang) hangForever(key);
  if (fault && fault.exit !== undefined && !fault.hangAfter) finish(faultOutcome(tool, fault));
  if (tool === "mdadm" && args[0] === "--monitor") mdadmMonitor();
  const o = act(root, tool, args);
  if (fault?.hangAfter) {
    // the action is done (its output lost, as when a tool hangs before it prints): then it hangs
    hangForever(key);
  }
  finish(o);
}
