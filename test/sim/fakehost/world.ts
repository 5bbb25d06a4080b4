// The simulated host's world: one schema, shared by the fake tools (fakehost.ts, tools.ts) and the
// tests (simhost.ts). It lives in ROOT/fake/world.json; every change takes ROOT/fake/lock and
// replaces the file atomically (write a temporary file, rename), so that a reader never sees half a
// file. The lock names its holder's pid: a holder that died (SIGKILLed by a deadline, by the
// program's orphan killer, or a fake that exited inside it) never blocks the next one.
// Runs under Node's type stripping (fakehost.ts) as well as vitest: erasable TypeScript only.
import fs from "node:fs";
import path from "node:path";

export interface Chap {
  user: string;
  pass: string;
}

export interface Member {
  name: string;
  major: number;
  minor: number;
  state: string;
  slot?: number;
  added?: boolean;
}

export interface MpathMap {
  name: string;
  wwid: string;
  paths: string[];
  queueing: string;
  minor: number;
}

export interface Mpath {
  daemon: boolean;
  buildMaps?: boolean;
  claim: boolean | "after-settle";
  queueing: string;
  features: string;
  stuck?: boolean;
  maps: Record<string, MpathMap>;
  next: number;
  pending?: [string, string, number][];
  /** The WWID multipathd gives the maps it builds from now on, when not the path's (another volume). */
  otherWwid?: string;
}

export interface World {
  udev: boolean;
  /** volumes: which volume each LUN (by number) maps, when a test says (its WWID follows it). */
  filer: Record<string, { portals: string[]; luns: number[]; chap?: Chap; volumes?: Record<string, string> }>;
  discoveryChap?: Chap;
  portalsUp: string[];
  nodes: Record<string, { portals: string[]; settings: Record<string, string> }>;
  discoverydb?: Record<string, Record<string, string>>;
  sessions: Record<string, { iqn: string; portal: string; host: number }>;
  nextSid: number;
  nextHost: number;
  nextDisk: number;
  disks: Record<string, { sid: number; lun: number; iqn: string; major: number; minor: number; portal: string }>;
  md: Record<string, { label: string; members: Member[] }>;
  xenstore: Record<string, string>;
  deviceDelayMs: number;
  /** blkid -p answers, by device path (as the administrator writes it). */
  signatures?: Record<string, string>;
  mpath: Mpath | null;
  /** The kernel gives no WWID for new LUN devices (no device/wwid). */
  noWwid?: boolean;
  /** udevadm settle ran (multipath's "after-settle" claim). */
  settled?: boolean;
}

/** A fault for "tool verb" (the verb as the fake names the call): see tools.ts. */
export interface Fault {
  hangAfter?: boolean;
  exit?: number;
  stderr?: string;
  hang?: boolean;
  delayMs?: number;
  once?: boolean;
}

export const fakeDir = (root: string): string => path.join(root, "fake");
const worldFile = (root: string): string => path.join(fakeDir(root), "world.json");
const lockFile = (root: string): string => path.join(fakeDir(root), "lock");
export const faultsFile = (root: string): string => path.join(fakeDir(root), "faults.json");
export const callsFile = (root: string): string => path.join(fakeDir(root), "calls.log");

/** Sleeps without an event loop (the fake tools are short synchronous programs). */
export const pause = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Writes a file whole or not at all (a reader sees the old or the new text). */
export function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

export function readJson<T>(file: string, fallback: T): T {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return fallback;
  }
  return JSON.parse(text) as T;
}

/**
 * Holds the world lock while FN runs. Waits as long as a live process holds it (no give-up by the
 * clock: a busy machine only makes it slower); takes it over from a dead holder.
 */
export function withLock<T>(root: string, fn: () => T): T {
  const file = lockFile(root);
  // the lock file is born with its holder's pid in it: written aside, then linked into place
  const mine = `${file}.${process.pid}`;
  fs.writeFileSync(mine, String(process.pid));
  try {
    for (;;) {
      try {
        fs.linkSync(mine, file);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      let holder = 0;
      try {
        holder = Number(fs.readFileSync(file, "utf8"));
      } catch {
        continue; // released meanwhile
      }
      if (holder === process.pid) throw new Error("fakehost: world lock taken twice by one process");
      if (holder > 0 && !alive(holder)) {
        // two takers may find the same dead holder: only one of them renames the file away
        const dead = `${file}.dead-${holder}-${process.pid}`;
        try {
          fs.renameSync(file, dead);
          if (Number(fs.readFileSync(dead, "utf8")) === holder) fs.rmSync(dead, { force: true });
          else {
            // a live holder's lock after all: put it back (unless someone took the lock meanwhile)
            try {
              fs.linkSync(dead, file);
            } finally {
              fs.rmSync(dead, { force: true });
            }
          }
        } catch {
          /* another taker was first */
        }
        continue;
      }
      pause(2);
    }
  } finally {
    fs.rmSync(mine, { force: true });
  }
  try {
    return fn();
  } finally {
    fs.rmSync(file, { force: true });
  }
}

export function loadWorld(root: string): World {
  return readJson<World>(worldFile(root), {} as World);
}

export function saveWorld(root: string, w: World): void {
  writeAtomic(worldFile(root), JSON.stringify(w, null, 1));
}

/** Changes the world under its lock. */
export function changeWorld<T>(root: string, change: (w: World) => T): T {
  return withLock(root, () => {
    const w = loadWorld(root);
    const out = change(w);
    saveWorld(root, w);
    return out;
  });
}
