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

/** libxl SIGKILLs a hotplug script 40 s after it started: everything, the error report included, ends by then. */
export const HOTPLUG_LIMIT_MS = 38_000;
/** The least time kept for undoing a failed add. */
export const ROLLBACK_MIN_MS = 8000;
/** Kept at the very end to write hotplug-error to xenstore. */
export const REPORT_MS = 2000;

/**
 * The time of one operation, split: the steps (at most the configured deadline), then the rollback
 * (at least ROLLBACK_MIN_MS, and whatever the steps left), then the error report. With a hard limit
 * (hotplug: 38 s from the process start) the steps get less when the three would not fit.
 */
export class Budget {
  private readonly end: Deadline;
  readonly forward: Deadline;
  constructor(configuredMs: number, hardLimitMs: number | null, now: () => number = () => performance.now()) {
    const total = hardLimitMs ?? configuredMs + ROLLBACK_MIN_MS + REPORT_MS;
    this.end = new Deadline(total, now);
    this.forward = new Deadline(Math.max(0, Math.min(configuredMs, total - ROLLBACK_MIN_MS - REPORT_MS)), now);
  }
  /** All that is left but the report's share. */
  rollback(): Deadline {
    return this.end.slice(Math.max(0, this.end.remainingMs() - REPORT_MS));
  }
  report(): Deadline {
    return this.end.slice(REPORT_MS);
  }
  /** Milliseconds until the hard end. */
  leftMs(): number {
    return this.end.remainingMs();
  }
}

/** The budget of a hotplug call: 38 s from the process start (start-up is already spent). */
export function hotplugBudget(configuredMs: number): Budget {
  return new Budget(configuredMs, Math.max(0, HOTPLUG_LIMIT_MS - process.uptime() * 1000));
}
