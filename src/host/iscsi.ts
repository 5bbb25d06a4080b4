import { writeFile } from "node:fs/promises";
import type { Chap } from "../core/chap";
import { chapSettings } from "../core/chap";
import { discoverydb, iscsiadm, ISCSI_ERR, parseNodeList, type Argv } from "../core/commands";
import { FailedError } from "../core/errors";
import { IscsiDb } from "./iscsi-db";
import type { Deadline } from "./clock";
import { pollUntil } from "./clock";
import type { Log } from "./log";
import type { HostPaths } from "./paths";
import { CommandError, type Runner } from "./run";
import { join, listDir, parseDevFile, readText, statBlock, type BlockDev } from "./sysfs";

export interface LunDevice {
  readonly name: string;
  readonly path: string;
  readonly dev: BlockDev;
  readonly session: number;
}

/** The device/rescan writes still running (see refreshIdentity). */
const RESCANS = new Set<string>();

/** Exit codes that mean "try again" (node DB busy, temporary error). */
const RETRYABLE = [6, 29];

/** iscsiadm and the iSCSI part of sysfs. */
export class Iscsi {
  constructor(
    private readonly run: Runner,
    private readonly paths: HostPaths,
    private readonly log: Log,
    private readonly db: IscsiDb = new IscsiDb(paths),
  ) {}

  private async iscsiadm(argv: Argv, deadline: Deadline, ok: number[] = [0]) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.run.run(argv, deadline, ok);
      } catch (err) {
        if (err instanceof CommandError && err.status !== null) {
          if (RETRYABLE.includes(err.status) && attempt < 3 && deadline.remainingMs() > 1000) continue;
          const word = ISCSI_ERR[err.status];
          // iscsiadm's status in words; the original error stays the cause
          if (word) throw new CommandError(`${err.message} [${word}]`, err.argv, err.status, false, { cause: err });
        }
        throw err;
      }
    }
  }

  /** Session ids of IQN, from /sys/class/iscsi_session/session*\/targetname. */
  async sessions(iqn: string): Promise<number[]> {
    const dir = join(this.paths.sys, "class/iscsi_session");
    const out: number[] = [];
    for (const name of await listDir(dir)) {
      const m = /^session(\d+)$/.exec(name);
      if (!m) continue;
      if ((await readText(join(dir, name, "targetname"))) === iqn) out.push(Number(m[1]));
    }
    return out.sort((a, b) => a - b);
  }

  /** The state of a session (LOGGED_IN, FAILED, FREE...), from sysfs. */
  async sessionState(sid: number): Promise<string | null> {
    return readText(join(this.paths.sys, "class/iscsi_session", `session${sid}`, "state"));
  }

  /** Sets how long I/O waits for a lost path (recovery_tmo) on every session of IQN. */
  async setRecoveryTimeout(iqn: string, seconds: number): Promise<void> {
    for (const sid of await this.sessions(iqn)) {
      await writeFile(join(this.paths.sys, "class/iscsi_session", `session${sid}`, "recovery_tmo"), `${seconds}\n`);
    }
  }

  /** Portals of the node records of IQN (iscsiadm exit 21: none). */
  async nodePortals(iqn: string, deadline: Deadline): Promise<string[]> {
    const r = await this.iscsiadm(iscsiadm.nodes(), deadline, [0, 21]);
    return r.code === 21 ? [] : parseNodeList(r.stdout).filter((n) => n.iqn === iqn).map((n) => n.portal);
  }

  /**
   * sendtargets discovery that adds the records of new targets and never changes existing ones
   * (another target's record may hold the CHAP credentials and login settings we wrote); with
   * discovery CHAP through a discoverydb record whose file gets the credentials. LISTING: no node
   * record at all, and a discovery record made for it is removed again.
   */
  async discover(portal: string, deadline: Deadline, chap: Chap | null = null, listing = false): Promise<string> {
    if (!chap) return (await this.iscsiadm(listing ? iscsiadm.discoverOnly(portal) : iscsiadm.discover(portal), deadline)).stdout;
    const had = this.db.hasDiscovery(portal);
    await this.iscsiadm(discoverydb.create(portal), deadline, [0, 15]);
    try {
      await this.db.setDiscovery(portal, chapSettings("discovery.sendtargets.auth", chap), deadline);
      return (await this.iscsiadm(discoverydb.discover(portal, listing ? "nonpersistent" : "new"), deadline)).stdout;
    } catch (err) {
      if (err instanceof CommandError && err.status === 24) throw new FailedError(`discovery authentication failed at ${portal}`, { cause: err });
      throw err;
    } finally {
      if (listing && !had) await this.iscsiadm(discoverydb.delete(portal), deadline, [0, 21]).catch(() => undefined);
    }
  }

  async setNode(iqn: string, name: string, value: string, deadline: Deadline): Promise<void> {
    await this.iscsiadm(iscsiadm.setNode(iqn, name, value), deadline);
  }

  /**
   * Logs in on every portal of the target's node records; "session exists" (15) is fine. When some
   * portals fail but a session came up (one path of several down), it warns and goes on.
   */
  async login(iqn: string, deadline: Deadline): Promise<void> {
    try {
      await this.iscsiadm(iscsiadm.login(iqn), deadline, [0, 15]);
    } catch (err) {
      if (err instanceof CommandError && err.status === 24) {
        const portals = await this.nodePortals(iqn, deadline).catch(() => []);
        throw new FailedError(`authentication failed for ${iqn} at ${portals.join(", ") || "its portal"} (iscsiadm exit 24: check the CHAP credentials)`, { cause: err });
      }
      if (err instanceof CommandError && err.status !== null) {
        const up = await this.sessions(iqn);
        if (up.length > 0) {
          const portals = await this.nodePortals(iqn, deadline).catch(() => []);
          this.log.warn(`logged in to ${iqn} on ${up.length} of ${portals.length || "its"} portals; the others failed: ${err.message}`);
          return;
        }
      }
      throw err;
    }
  }

  /** Logs out of every session of the target; "no session" (21) is fine. */
  async logout(iqn: string, deadline: Deadline): Promise<void> {
    await this.iscsiadm(iscsiadm.logout(iqn), deadline, [0, 21]);
  }

  async rescan(iqn: string, deadline: Deadline): Promise<void> {
    for (const sid of await this.sessions(iqn)) await this.iscsiadm(iscsiadm.rescan(sid), deadline, [0, 21]);
  }

  /**
   * The block device of LUN on IQN, from sysfs:
   * /sys/class/iscsi_session/sessionS/device/targetH:C:T/H:C:T:LUN/block/sdX. The lowest session wins.
   */
  async findLun(iqn: string, lun: number): Promise<LunDevice | null> {
    for (const p of await this.lunPaths(iqn, lun)) {
      const dev = parseDevFile(await readText(join(p.dir, "block", p.name, "dev")));
      const node = join(this.paths.dev, p.name);
      const st = await statBlock(node);
      if (dev !== null && st !== null && st.major === dev.major && st.minor === dev.minor) {
        return { name: p.name, path: node, dev, session: p.session };
      }
    }
    return null;
  }

  /** The SCSI device folders of IQN's LUNs: .../sessionS/device/targetH:C:T/H:C:T:LUN, by session. */
  async lunDirs(iqn: string): Promise<{ session: number; lun: number; dir: string }[]> {
    return this.lunDirsOf(await this.sessions(iqn));
  }

  /** Every LUN's block device on every session of this host, whatever its target. */
  async allLuns(): Promise<{ iqn: string; session: number; lun: number; name: string; dev: BlockDev }[]> {
    const dir = join(this.paths.sys, "class/iscsi_session");
    const out: { iqn: string; session: number; lun: number; name: string; dev: BlockDev }[] = [];
    for (const s of await listDir(dir)) {
      const m = /^session(\d+)$/.exec(s);
      if (!m) continue;
      const iqn = (await readText(join(dir, s, "targetname"))) ?? "?";
      for (const d of await this.lunDirsOf([Number(m[1])])) {
        for (const name of await listDir(join(d.dir, "block"))) {
          const dev = parseDevFile(await readText(join(d.dir, "block", name, "dev")));
          if (dev) out.push({ iqn, session: d.session, lun: d.lun, name, dev });
        }
      }
    }
    return out;
  }

  /**
   * Makes the kernel read the identity of these path devices again (a write to their device/rescan:
   * the INQUIRY pages are fetched anew). The kernel keeps what it read when the device appeared: a
   * session that recovered after the filer mapped another volume at the LUN still shows the old
   * WWID until then. Paths whose session is not logged in are skipped (their WWID is not used as
   * proof: the caller reads it and finds it stale or missing). Bounded by the deadline.
   */
  async refreshIdentity(names: readonly string[], deadline: Deadline): Promise<void> {
    for (const name of names) {
      const file = join(this.paths.sys, "block", name, "device/rescan");
      // a write the kernel still holds (a rescan can wait for SCSI timeouts) is not started again:
      // each stuck one would hold a thread of the pool for good
      if (RESCANS.has(file)) throw new FailedError(`the kernel is still re-reading the identity of /dev/${name} (device/rescan)`);
      const limit = deadline.slice(10_000);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<"late">((resolve) => {
        timer = setTimeout(() => resolve("late"), limit.remainingMs());
      });
      try {
        const write = writeFile(file, "1\n").finally(() => RESCANS.delete(file));
        RESCANS.add(file);
        const done = await Promise.race([write.then(() => "done" as const), late]);
        if (done === "late") throw new FailedError(`the kernel did not re-read the identity of /dev/${name} in time (device/rescan)`);
      } catch (err) {
        if (err instanceof FailedError) throw err;
        throw new FailedError(`cannot make the kernel re-read the identity of /dev/${name}: ${(err as Error).message}`, { cause: err });
      } finally {
        clearTimeout(timer);
      }
    }
  }

  /** The SCSI WWID of a LUN's device (sysfs device/wwid), normalised as multipath writes it. */
  async wwid(name: string): Promise<string | null> {
    return normaliseWwid(await readText(join(this.paths.sys, "block", name, "device/wwid")));
  }

  private async lunDirsOf(sessions: readonly number[]): Promise<{ session: number; lun: number; dir: string }[]> {
    const out: { session: number; lun: number; dir: string }[] = [];
    for (const session of sessions) {
      const sdev = join(this.paths.sys, "class/iscsi_session", `session${session}`, "device");
      for (const target of (await listDir(sdev)).filter((t) => t.startsWith("target"))) {
        for (const hctl of await listDir(join(sdev, target))) {
          const m = /^\d+:\d+:\d+:(\d+)$/.exec(hctl);
          if (m) out.push({ session, lun: Number(m[1]), dir: join(sdev, target, hctl) });
        }
      }
    }
    return out;
  }

  /** The block devices (sdX) of LUN (null: of every LUN) on every session of IQN: one per path. */
  async lunPaths(iqn: string, lun: number | null): Promise<{ name: string; session: number; dir: string }[]> {
    const out: { name: string; session: number; dir: string }[] = [];
    for (const d of await this.lunDirs(iqn)) {
      if (lun === null || d.lun === lun) for (const name of await listDir(join(d.dir, "block"))) out.push({ name, session: d.session, dir: d.dir });
    }
    return out;
  }

  /** Whether a session of IQN is logged in (open-iscsi recovers failed ones by itself). */
  async loggedIn(iqn: string): Promise<boolean> {
    for (const sid of await this.sessions(iqn)) if ((await this.sessionState(sid)) === "LOGGED_IN") return true;
    return false;
  }

  /** Waits for the LUN's device (sysfs, then its /dev node), until the deadline. */
  async waitLun(iqn: string, lun: number, deadline: Deadline): Promise<LunDevice | null> {
    return pollUntil(() => this.findLun(iqn, lun), deadline);
  }
}

/**
 * SCSI names a LUN "naa.X", "eui.X" or "t10.X"; multipath names the same LUN "3X", "2X", "1X"
 * (the designator type first). One form, multipath's, so that both compare.
 */
export function normaliseWwid(w: string | null): string | null {
  if (!w) return null;
  // a t10 id is text: the kernel shows its blanks as they are and its NULs as \x00 (escaped); udev
  // (whose ID_SERIAL is multipath's WWID) makes each run of blanks one "_"
  const text = w.trim().replace(/(\\x00)+$/, "").trim().replace(/\s+/g, "_");
  const m = /^(naa|eui|t10)\.(.+)$/i.exec(text);
  const v = m ? `${{ t10: "1", eui: "2", naa: "3" }[(m[1] as string).toLowerCase() as "t10" | "eui" | "naa"]}${m[2]}` : text;
  return /^[\x21-\x7e]{1,200}$/.test(v) ? v.toLowerCase() : null;
}
