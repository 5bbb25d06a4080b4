// Locks the kernel releases with their holder (src/host/locks.ts): at most one holder at a time,
// ever; a stopped holder keeps its lock; a dead one loses it, with no takeover by anyone.
import { spawn, type ChildProcess } from "node:child_process";
import { connect } from "node:net";
import { lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import esbuild from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Deadline } from "../../src/host/clock";
import { Log } from "../../src/host/log";
import { lockAddress, Locks } from "../../src/host/locks";

const REPO = path.resolve(import.meta.dirname, "../..");
const WORKER = path.join(REPO, "build/test/lock-worker.mjs");
const quiet = new Log({ verbose: false, syslog: false, file: null, context: "test" });
const dirs: string[] = [];
const dir = (): string => {
  const d = mkdtempSync(path.join(os.tmpdir(), "bilocks-"));
  dirs.push(d);
  return d;
};
const locksIn = (d: string): Locks => new Locks(path.join(d, "lock-key"), () => Promise.resolve(), quiet);

beforeAll(() => {
  // the worker runs the program's Locks in a process of its own
  esbuild.buildSync({ entryPoints: [path.join(REPO, "test/unit/helpers/lock-worker.ts")], bundle: true, platform: "node", format: "esm", target: "node24", outfile: WORKER, logLevel: "warning" });
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A process that holds lock NAME (once) until killed: a worker that takes it and sleeps. */
function holder(d: string, name: string, o: { uid?: number } = {}): Promise<ChildProcess> {
  const code = `
    const net = require("node:net");
    const s = net.createServer();
    s.listen({ path: "\\0" + process.argv[1], exclusive: true }, () => process.stdout.write("held\\n"));
    setInterval(() => {}, 1000);`;
  const key = readFileSync(path.join(d, "lock-key"));
  const child = spawn(process.execPath, ["-e", code, lockAddress(key, name)], { stdio: ["ignore", "pipe", "inherit"], ...(o.uid !== undefined ? { uid: o.uid, gid: o.uid } : {}) });
  return new Promise((resolve, reject) => {
    child.stdout?.once("data", () => resolve(child));
    child.once("exit", (c) => reject(new Error(`holder exited ${c}`)));
  });
}

describe("locks: the kernel's, released with their holder", () => {
  it("a stopped holder keeps its lock however long; once it is SIGKILLed the next caller gets it, without a takeover", async () => {
    const d = dir();
    const locks = locksIn(d);
    await (await locks.take("warm-up", new Deadline(2000))).release(); // makes the key
    const h = await holder(d, "label-vm");
    h.kill("SIGSTOP");
    await expect(locks.take("label-vm", new Deadline(1500))).rejects.toThrow(new RegExp(`lock label-vm is held by another block-iscsimple \\(pid ${h.pid}, still running\\) and was not freed in time`));
    h.kill("SIGKILL");
    await new Promise((r) => h.on("exit", r));
    const lock = await locks.take("label-vm", new Deadline(10_000));
    await lock.check();
    await lock.release();
    // released: taken again at once, by the same process or another
    await (await locks.take("label-vm", new Deadline(2000))).release();
  });

  it("a holder that is not block-iscsimple (another user squatting the name) is named in the error", async () => {
    const d = dir();
    const locks = locksIn(d);
    await (await locks.take("warm-up", new Deadline(2000))).release();
    const h = await holder(d, "target-x", { uid: 65534 });
    try {
      await expect(locks.take("target-x", new Deadline(500))).rejects.toThrow(/held by a process that is not block-iscsimple \(pid \d+, node, uid 65534\): it blocks every add of this disk/);
    } finally {
      h.kill("SIGKILL");
    }
  });

  it("a connection to the lock's socket (anyone may connect to an abstract one) neither delays the release nor keeps the name taken", async () => {
    const d = dir();
    const locks = locksIn(d);
    const lock = await locks.take("label-c", new Deadline(2000));
    const key = readFileSync(path.join(d, "lock-key"));
    const client = connect({ path: `\0${lockAddress(key, "label-c")}` });
    await new Promise<void>((res) => client.once("connect", () => res()));
    const closed = new Promise<void>((res) => client.once("close", () => res()));
    // the holder closes such a connection at once; its release does not wait for anything
    await closed;
    const again = connect({ path: `\0${lockAddress(key, "label-c")}` });
    again.on("error", () => undefined);
    await lock.release();
    const next = await locksIn(d).take("label-c", new Deadline(2000));
    await next.release();
    again.destroy();
  });

  it("a key file replaced meanwhile (the state folder wiped) makes a long-running holder use the new key", async () => {
    const d = dir();
    const locks = locksIn(d);
    await (await locks.take("x", new Deadline(2000))).release();
    rmSync(path.join(d, "lock-key"));
    const other = locksIn(d);
    const held = await other.take("label-k", new Deadline(2000)); // makes a new key
    await expect(locks.take("label-k", new Deadline(300))).rejects.toThrow(/not freed in time/);
    await held.release();
  });

  it("two tasks of one process take one lock in turn (the monitor's md events and its rounds), never both", async () => {
    const locks = locksIn(dir());
    const lock = await locks.take("label-a", new Deadline(2000));
    await expect(locks.take("label-a", new Deadline(300))).rejects.toThrow(/lock label-a is held by this process \(another of its tasks\) and was not freed in time/);
    const second = locks.take("label-a", new Deadline(5000));
    let got = false;
    void second.then(() => (got = true));
    await new Promise((r) => setTimeout(r, 200));
    expect(got).toBe(false);
    await lock.release();
    await expect(lock.check()).rejects.toThrow(/not held any more/);
    await (await second).release();
    expect(got).toBe(true);
  });

  it("the key that names the locks is private: made 0600 and whole, never read through a link, and others' names differ", async () => {
    const d = dir();
    await (await locksIn(d).take("x", new Deadline(2000))).release();
    const st = lstatSync(path.join(d, "lock-key"));
    expect(st.isFile() && (st.mode & 0o777) === 0o600).toBe(true);
    expect(readFileSync(path.join(d, "lock-key"), "utf8")).toMatch(/^[0-9a-f]{64}$/);
    expect(readdirSync(d)).toEqual(["lock-key"]);
    const e = dir();
    symlinkSync(path.join(d, "lock-key"), path.join(e, "lock-key"));
    await expect(locksIn(e).take("x", new Deadline(2000))).rejects.toThrow(/lock-key: cannot be read: .*ELOOP/);
    const f = dir();
    writeFileSync(path.join(f, "lock-key"), "0".repeat(64), { mode: 0o644 });
    await expect(locksIn(f).take("x", new Deadline(2000))).rejects.toThrow(/not a private file of ours .*mode 644/);
    expect(lockAddress(Buffer.from("a".repeat(64)), "x")).not.toBe(lockAddress(Buffer.from("b".repeat(64)), "x"));
  });

  it(
    "many processes taking one lock, some SIGKILLed while they hold it: never two holders",
    async () => {
      const d = dir();
      await (await locksIn(d).take("warm-up", new Deadline(2000))).release();
      const WORKERS = 6;
      const ITERATIONS = 40;
      const KILLS = 12;
      const running = new Set<ChildProcess>();
      const finished: number[] = [];
      let killed = 0;
      let started = 0;
      const start = (): void => {
        started += 1;
        const c = spawn(process.execPath, [WORKER, path.join(d, "lock-key"), d, "label-shared", String(ITERATIONS)], { stdio: ["ignore", "pipe", "inherit"] });
        let out = "";
        c.stdout?.on("data", (b: Buffer) => (out += b.toString()));
        running.add(c);
        c.on("exit", (code, signal) => {
          running.delete(c);
          if (signal === "SIGKILL") killed += 1;
          else finished.push(/done/.test(out) ? (code ?? -1) : -1);
        });
      };
      for (let i = 0; i < WORKERS; i++) start();
      // kill a holder (the one whose marker is there) now and then, and start another in its place
      let kills = 0;
      while (kills < KILLS && running.size > 0) {
        await new Promise((r) => setTimeout(r, 30));
        // the holder removes its marker when it lets go: it may be gone between a look and a read
        let inside: string;
        try {
          inside = readFileSync(path.join(d, "inside"), "utf8");
        } catch {
          continue;
        }
        const pid = Number((inside.split(" ")[0] ?? "0") || "0");
        const victim = [...running].find((c) => c.pid === pid);
        if (!victim) continue;
        victim.kill("SIGKILL");
        kills += 1;
        start();
      }
      while (running.size > 0) await new Promise((r) => setTimeout(r, 50));
      const violations = readdirSync(d).filter((f) => f.startsWith("violation."));
      expect(violations.map((f) => readFileSync(path.join(d, f), "utf8"))).toEqual([]);
      // holders were killed inside the lock (a kill may land just after a worker's end: it finished)
      expect(kills).toBe(KILLS);
      expect(killed).toBeGreaterThan(KILLS / 2);
      expect(finished.every((c) => c === 0)).toBe(true);
      expect(finished.length + killed).toBe(started);
    },
    180_000,
  );
});
