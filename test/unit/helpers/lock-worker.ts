// A process that takes one lock again and again (the concurrency test of locks.test.ts runs several,
// and SIGKILLs some while they hold it). Inside the lock it claims a marker file with O_EXCL: a
// marker of a live other process means two holders at once, which it reports and stops on (exit 3).
// A marker of a dead process is what a SIGKILLed holder left: the new holder removes it.
// Args: KEYFILE DIR NAME ITERATIONS. Prints "done N" at the end.
import { linkSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Deadline, sleepMs } from "../../../src/host/clock";
import { Log } from "../../../src/host/log";
import { holderAlive, Locks, processStart } from "../../../src/host/locks";

const [keyFile = "", dir = "", name = "x", n = "10"] = process.argv.slice(2);
const marker = path.join(dir, "inside");
const locks = new Locks(keyFile, () => Promise.resolve(), new Log({ verbose: false, syslog: false, file: null, context: "worker" }));

const me = `${process.pid} ${await processStart("/proc", "self")}`;

/** Whether the process a marker names still runs (its pid and start time: a pid may be reused). */
async function running(text: string): Promise<boolean> {
  const [pid = "0", start = ""] = text.split(" ");
  return holderAlive("/proc", { pid: Number(pid), start });
}

async function claim(): Promise<void> {
  // the marker is born whole: written aside, then linked into place (fails if one is there)
  const mine = `${marker}.${process.pid}`;
  writeFileSync(mine, me);
  for (;;) {
    try {
      linkSync(mine, marker);
      rmSync(mine);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const other = readFileSync(marker, "utf8");
    // a holder SIGKILLed inside left its marker; the kernel frees its lock while it exits, so it may
    // still look alive for a moment: wait for it to be gone. A second live holder instead goes on
    // inside: it removes its marker (it is done) while we hold the lock, or stays inside: two holders.
    for (let waited = 0; await running(other); waited += 5) {
      const now = ((): string => {
        try {
          return readFileSync(marker, "utf8");
        } catch {
          return "";
        }
      })();
      if (now !== other || waited > 5000) {
        writeFileSync(path.join(dir, `violation.${process.pid}`), `pid ${process.pid} got the lock while ${other} held it (${now === other ? "still inside" : "it went on inside"})\n`);
        process.exit(3);
      }
      await sleepMs(5);
    }
    rmSync(marker, { force: true });
  }
}

for (let i = 0; i < Number(n); i++) {
  const lock = await locks.take(name, new Deadline(120_000));
  await claim();
  await sleepMs(Math.floor(Math.random() * 4));
  rmSync(marker, { force: true });
  await lock.release();
}
process.stdout.write(`done ${n}\n`);
