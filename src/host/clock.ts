import { setTimeout as sleepMs } from "node:timers/promises";

export { sleepMs };

/** A point in time every step of an operation must finish by. */
export class Deadline {
  private readonly end: number;
  constructor(
    readonly totalMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.end = now() + totalMs;
  }
  remainingMs(): number {
    return Math.max(0, this.end - this.now());
  }
  expired(): boolean {
    return this.remainingMs() <= 0;
  }
  /** A child deadline: at most `ms` from now, never past this one. */
  slice(ms: number): Deadline {
    return new Deadline(Math.min(ms, this.remainingMs()), this.now);
  }
}

/** Polls `probe` until it returns a value, with a growing interval, until the deadline. */
export async function pollUntil<T>(probe: () => Promise<T | null>, deadline: Deadline, maxIntervalMs = 100): Promise<T | null> {
  let interval = 5;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    const left = deadline.remainingMs();
    if (left <= 0) return null;
    await sleepMs(Math.min(interval, left));
    interval = Math.min(maxIntervalMs, interval * 2);
  }
}
