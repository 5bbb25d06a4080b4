import lockfile from "proper-lockfile";
import { sleepMs, type Deadline } from "./clock";
import type { Log } from "./log";
import { join } from "./sysfs";

/**
 * Locks under /run/block-iscsimple/locks with proper-lockfile. A lock whose holder died (even by
 * SIGKILL) goes stale after STALE_MS, so it delays the next caller by a few seconds at most.
 * Order: the disk's lock (label, or target+LUN) first, then the target's.
 */
export const STALE_MS = 5000;
const UPDATE_MS = 1000;

export type Release = () => Promise<void>;

export class Locks {
  constructor(
    private readonly dir: string,
    private readonly log: Log,
    /** Told how long each wait for a held lock took (for the timings). */
    private readonly waitedMs: (ms: number) => void = () => undefined,
  ) {}

  async take(name: string, deadline: Deadline): Promise<Release> {
    const file = join(this.dir, name);
    let waited = false;
    const t0 = performance.now();
    for (;;) {
      try {
        const release = await lockfile.lock(file, {
          realpath: false,
          stale: STALE_MS,
          update: UPDATE_MS,
          retries: 0,
          onCompromised: (err) => this.log.warn(`lock ${name} was lost: ${err.message}`),
        });
        if (waited) {
          const ms = performance.now() - t0;
          this.waitedMs(ms);
          this.log.step(`lock ${name} taken after ${Math.round(ms)} ms`);
        }
        return async () => {
          try {
            await release();
          } catch {
            /* already released or compromised */
          }
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ELOCKED") throw err;
        if (deadline.remainingMs() < 50) throw new Error(`lock ${name} is held by another block-iscsimple and was not freed in time`);
        waited = true;
        await sleepMs(Math.min(50, deadline.remainingMs()));
      }
    }
  }
}

export function diskLockName(spec: { iqn: string | null; lun: number; label: string | null }): string {
  return spec.label !== null ? `label-${spec.label}` : `lun-${spec.iqn ?? "MISSING"}-${spec.lun}`;
}

export function targetLockName(iqn: string): string {
  return `target-${iqn}`;
}
