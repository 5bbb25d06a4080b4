/**
 * dm-multipath, as the program sees it: multipathd's per-map report and what its queueing policy
 * means for the RAID1 above it. md can only fail the iSCSI leg over to the local one when I/O on
 * that leg ends with an error: a map that queues I/O forever when it has no path hangs the VM.
 */

/** What `multipathd show maps raw format MAP_FORMAT` reports about one map. */
export interface MapReport {
  readonly name: string;
  /** The map's dm uuid without "mpath-": the LUN's WWID. */
  readonly wwid: string;
  /** multipathd's "queueing" column: off, on, -, "N chk" or "N sec". */
  readonly queueing: string;
  /** Paths multipathd counts as active. */
  readonly activePaths: number;
  /** The map's dm features, e.g. "1 queue_if_no_path" or "0". */
  readonly features: string;
}

/** name, uuid, queueing, active paths, features; "|" cannot occur in any of them. */
export const MAP_FORMAT = "%n|%w|%Q|%N|%f";

export function parseMapReport(stdout: string): MapReport[] {
  const out: MapReport[] = [];
  for (const line of stdout.split("\n")) {
    const f = line.split("|");
    if (f.length !== 5) continue;
    const [name, uuid, queueing, paths, features] = f.map((s) => s.trim()) as [string, string, string, string, string];
    if (name === "name" || !/^\d+$/.test(paths)) continue; // a header line
    out.push({ name, wwid: uuid.replace(/^mpath-/, ""), queueing, activePaths: Number(paths), features });
  }
  return out;
}

/** How a map behaves when it has no path left. */
export type Queueing =
  | { readonly kind: "fails" }
  | { readonly kind: "bounded"; readonly checks: number | null; readonly secondsLeft: number | null }
  | { readonly kind: "forever" };

export function judgeQueueing(r: Pick<MapReport, "queueing" | "features">): Queueing {
  const q = r.queueing;
  if (q === "off") return { kind: "fails" };
  if (q === "on") return { kind: "forever" };
  const chk = /^(\d+) chk$/.exec(q);
  if (chk) return { kind: "bounded", checks: Number(chk[1]), secondsLeft: null };
  const sec = /^(\d+) sec$/.exec(q);
  if (sec) return { kind: "bounded", checks: null, secondsLeft: Number(sec[1]) };
  // "-": multipathd leaves no_path_retry unset, and the table's features decide
  return /\bqueue_if_no_path\b/.test(r.features) ? { kind: "forever" } : { kind: "fails" };
}

export function describeQueueing(q: Queueing): string {
  switch (q.kind) {
    case "fails":
      return "fails I/O when no path is left";
    case "forever":
      return "queues I/O forever when no path is left";
    case "bounded":
      return q.checks !== null
        ? `queues I/O for ${q.checks} path checks when no path is left, then fails it`
        : `no path left: queueing, failing I/O in ${q.secondsLeft} s`;
  }
}

/** A dm map name that may be passed to multipath/multipathd: what multipathd makes, nothing else. */
export function validMapName(name: string): boolean {
  return /^[A-Za-z0-9_][A-Za-z0-9_.:+-]{0,127}$/.test(name);
}
