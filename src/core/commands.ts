
/**
 * The exact argv of every host command the program runs. The adapters run these, and `check`
 * prints them, so what is shown is what would run. Every value was validated before it gets here.
 */
export type Argv = readonly [string, ...string[]];

export const iscsiadm = {
  nodes: (): Argv => ["iscsiadm", "-m", "node"],
  /**
   * sendtargets that only adds the records that do not exist (`-o new`). Without `-o`, iscsiadm
   * runs new, update and delete: the update rewrites every record of the answer from iscsid.conf's
   * defaults (CHAP and login settings written into other targets' records are lost).
   */
  discover: (portal: string): Argv => ["iscsiadm", "-m", "discovery", "-t", "sendtargets", "-p", portal, "-o", "new"],
  /** sendtargets that leaves no node record (discover's listing). */
  discoverOnly: (portal: string): Argv => ["iscsiadm", "-m", "discovery", "-t", "sendtargets", "-p", portal, "-o", "nonpersistent"],
  /** A node record for one portal of a target (discover --luns, when the target has none). */
  newNode: (iqn: string, portal: string): Argv => ["iscsiadm", "-m", "node", "-o", "new", "-T", iqn, "-p", portal],
  deleteNode: (iqn: string): Argv => ["iscsiadm", "-m", "node", "-o", "delete", "-T", iqn],
  setNode: (iqn: string, name: string, value: string): Argv => ["iscsiadm", "-m", "node", "-T", iqn, "-o", "update", "-n", name, "-v", value],
  login: (iqn: string): Argv => ["iscsiadm", "-m", "node", "-T", iqn, "--login"],
  logout: (iqn: string): Argv => ["iscsiadm", "-m", "node", "-T", iqn, "--logout"],
  rescan: (sid: number): Argv => ["iscsiadm", "-m", "session", "-r", String(sid), "--rescan"],
};

/**
 * sendtargets discovery with discovery CHAP: a discoverydb record, then discover. The credentials
 * go into the record's file in between (IscsiDb), never on a command line.
 */
export const discoverydb = {
  create: (portal: string): Argv => ["iscsiadm", "-m", "discoverydb", "-t", "sendtargets", "-p", portal, "-o", "new"],
  /** new records only (see iscsiadm.discover), or none at all (nonpersistent: a listing). */
  discover: (portal: string, op: "new" | "nonpersistent" = "new"): Argv => ["iscsiadm", "-m", "discoverydb", "-t", "sendtargets", "-p", portal, "--discover", "-o", op],
  /** Removes a discovery record (discover's listing, when it made the record itself). */
  delete: (portal: string): Argv => ["iscsiadm", "-m", "discoverydb", "-t", "sendtargets", "-p", portal, "-o", "delete"],
};

export const mdadm = {
  /** The seed's build: the iSCSI leg is write-mostly; the local leg is added after. */
  build: (md: string, iscsiDev: string | null, localDev: string | null): Argv => {
    const members = iscsiDev !== null ? ["missing", "--write-mostly", iscsiDev] : [localDev as string, "missing"];
    return ["mdadm", "--build", md, "--level=1", "--raid-devices=2", ...members];
  },
  add: (md: string, dev: string): Argv => ["mdadm", md, "--add", dev],
  /** Removes the members md marked faulty (the keyword works even when their device node is gone). */
  removeFailed: (md: string): Argv => ["mdadm", md, "--remove", "failed"],
  stop: (md: string): Argv => ["mdadm", "--stop", md],
  /**
   * mdadm's event monitor over every array in /proc/mdstat (new ones too): it wakes on md's events
   * (a poll of /proc/mdstat), not on a timer, and runs PROGRAM EVENT MD [MEMBER] for each, waiting
   * for it. PROGRAM is echo: the event becomes a line on mdadm's stdout, which the monitor reads
   * (an event costs a fork of echo, not a start of this program: a new array's events come while a
   * migrating VM is suspended, and compete with its adds for the CPU).
   */
  monitor: (delayS: number): Argv => ["mdadm", "--monitor", "--scan", `--program=${MD_EVENT_PROGRAM}`, `--delay=${delayS}`],
};

/** What mdadm --monitor runs for an event: it prints the event's words, one line on mdadm's stdout. */
export const MD_EVENT_PROGRAM = "/bin/echo";

/** The events mdadm --monitor reports (mdadm(8), MONITOR MODE). */
export const MD_EVENT_RE = /^(?:Fail|FailSpare|DegradedArray|SpareActive|RebuildStarted|Rebuild\d{2}|RebuildFinished|NewArray|DeviceDisappeared|SparesMissing|TestMessage|MoveSpare)$/;

/** One line of mdadm --monitor's stdout: EVENT MD [MEMBER], with each word checked; null for anything else. */
export function parseMdEventLine(line: string): { event: string; md: string; member: string | null } | null {
  const words = line.trim().split(" ");
  if (words.length < 2 || words.length > 3) return null;
  const [event, md, member] = words as [string, string, string | undefined];
  if (!MD_EVENT_RE.test(event) || !/^\/dev\/(?:md\/)?[A-Za-z0-9_-]{1,64}$/.test(md)) return null;
  // the member is only shown: one that is not a plain device path is left out, not the event
  return { event, md, member: member !== undefined && /^\/dev\/[A-Za-z0-9_./:-]{1,200}$/.test(member) ? member : null };
}

export const multipath = {
  /** Exit 0 when multipath's configuration makes DEV a path of a multipath map. */
  claims: (dev: string): Argv => ["multipath", "-c", dev],
  /** Removes an unused map (multipathd stops watching it too). */
  flush: (map: string): Argv => ["multipath", "-f", map],
  maps: (format: string): Argv => ["multipathd", "show", "maps", "raw", "format", format],
  /** Makes the map fail I/O when no path is left, instead of queueing it. */
  disableQueueing: (map: string): Argv => ["multipathd", "disablequeueing", "map", map],
};

export const udevadm = {
  /** Waits for udev to finish the events queued so far (multipath reads WWIDs from udev's database). */
  settle: (seconds: number): Argv => ["udevadm", "settle", `--timeout=${seconds}`],
};

/** Low-level probe of a device's signatures (no cache): exit 0 found, 2 none, 8 ambivalent. */
export const blkid = {
  probe: (dev: string): Argv => ["blkid", "-p", "-o", "export", "--", dev],
};

export const xenstore = {
  /** Every key under PATH with its full path: `PATH = "VALUE"` lines. */
  list: (path: string): Argv => ["xenstore-ls", "-f", path],
  read: (...paths: string[]): Argv => ["xenstore-read", ...paths],
  exists: (path: string): Argv => ["xenstore-exists", path],
  write: (pairs: readonly (readonly [string, string])[]): Argv => ["xenstore-write", ...pairs.flat()],
};

export const xl = {
  /** The domain id of a domain name (names only: `xl domid 5` looks for a domain named "5"). */
  domid: (domain: string): Argv => ["xl", "domid", domain],
  /** The name of a domain id (fails when there is no such domain). */
  domname: (domid: number): Argv => ["xl", "domname", String(domid)],
};

export const logger = {
  /** Syslog lines from stdin, tagged with the program's name and pid; each line's `<N>` is its priority. */
  syslog: (pid: number): Argv => ["logger", "-t", "block-iscsimple", `--id=${pid}`, "-p", "daemon.info", "--prio-prefix"],
};

/** Words for iscsiadm's exit codes (open-iscsi include/iscsi_err.h). */
export const ISCSI_ERR: Readonly<Record<number, string>> = {
  1: "generic error",
  2: "session not found",
  3: "could not allocate resources",
  4: "transport error",
  5: "login failed",
  6: "node database error",
  7: "invalid argument",
  8: "connection timed out",
  9: "internal error",
  10: "logout failed",
  11: "PDU timed out",
  12: "transport not found",
  13: "access denied",
  14: "transport capability error",
  15: "session already exists",
  16: "invalid request",
  17: "iSNS service error",
  18: "iSNS query failed",
  19: "fatal login error (the target refused the login)",
  20: "cannot connect to iscsid (is the iscsid service running?)",
  21: "no records, targets or sessions found",
  22: "iscsid did not answer",
  23: "operation not supported",
  24: "login authentication failed",
  25: "iSNS registration failed",
  26: "operation not supported by the iSCSI stack",
  27: "iscsid failed to initialise",
  28: "iscsid idbm error",
  29: "temporary error, try again",
};

/** Parses `iscsiadm -m node` lines: `PORTAL,TPGT IQN`. */
export function parseNodeList(text: string): { portal: string; iqn: string }[] {
  const out: { portal: string; iqn: string }[] = [];
  for (const line of text.split("\n")) {
    const m = /^(\S+),\d+\s+(\S+)\s*$/.exec(line.trim());
    if (m) out.push({ portal: m[1] as string, iqn: m[2] as string });
  }
  return out;
}
