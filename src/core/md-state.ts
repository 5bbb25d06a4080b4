/** The state of one of our md arrays, read from /sys/block/mdN/md (pure interpretation). */
export interface LegState {
  readonly device: string;
  readonly role: "iscsi" | "local" | "other";
  /** From rdN/state: in_sync, write_mostly, faulty, ... */
  readonly flags: readonly string[];
}

export interface ArrayState {
  readonly md: string;
  readonly arrayState: string;
  readonly syncAction: string;
  /** 0..100 while a resync/recovery runs, null otherwise. */
  readonly progress: number | null;
  readonly degraded: number;
  readonly legs: readonly LegState[];
}

/** sync_completed holds "done / total" in sectors, or "none". */
export function parseSyncCompleted(text: string): number | null {
  const m = /^(\d+)\s*\/\s*(\d+)/.exec(text.trim());
  if (!m) return null;
  const total = Number(m[2]);
  if (total === 0) return null;
  return Math.min(100, Math.floor((Number(m[1]) * 1000) / total) / 10);
}

export function summariseArray(a: ArrayState): string {
  const progress = a.progress !== null ? ` ${a.syncAction} ${a.progress.toFixed(1)}%` : "";
  return `${a.md} ${a.arrayState}${a.degraded > 0 ? `, degraded (${a.degraded} missing)` : ""}${progress}`;
}
