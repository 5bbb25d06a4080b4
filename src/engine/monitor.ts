import { existsSync } from "node:fs";
import path from "node:path";
import { errorMessage, RefusedError } from "../core/errors";
import type { Health } from "../core/health";
import { formatMetrics, type HostMetrics, type MirrorMetrics } from "../core/metrics";
import { judge, STATUS_EXIT } from "../core/status";
import { replaceFile } from "../host/safe-files";
import type { Config } from "../core/config";
import { Deadline, sleepMs } from "../host/clock";
import { holderAlive, processStart } from "../host/locks";
import type { Host } from "./host";
import { markGuardObserved, OBSERVER_LOCK_WAIT_MS } from "./guard";
import { heal, type HealInputs } from "./heal";
import type { AttachmentRecord } from "../core/records";
import { clearGuardObserved, healthOf } from "./arrays";
import { expirePrepared } from "./prepared";
import { mdEvent } from "./md-event";
import { SerialByKey } from "../core/serial-by-key";

/** What one round of the monitor saw and did. */
interface Round {
  readonly mirrors: MirrorMetrics[];
  readonly records: number;
  heals: number;
  refusals: number;
}

/**
 * Watches our arrays (and only ours: the attachment records) by polling sysfs, one line per event.
 * When the iSCSI leg fails it records that the local leg is the only current copy; when the
 * target is back it heals; when the iSCSI leg is in sync again it clears that record. It also
 * releases the prepared sessions (`prepare`) whose time is up, and writes the metrics file.
 */
export async function monitor(host: Host, config: Config, opts: { once: boolean; stop: () => boolean; inputsOf: (r: AttachmentRecord) => HealInputs }): Promise<void> {
  const last = new Map<string, string>();
  const started = Date.now();
  host.log.step(`monitoring every ${config.monitorIntervalS} s, and md's events through mdadm --monitor`);
  const events = opts.once ? null : watchMdEvents(host, config, opts.stop);
  const me = opts.once ? null : { pid: process.pid, start: (await processStart(host.paths.proc, "self")) ?? "?" };
  if (me) {
    await host.store.ensure();
    await host.store.putMonitor({ ...me, rounds: 0, lastRound: null });
  }
  try {
    let rounds = 0;
    let heals = 0;
    let refusals = 0;
    const metrics = new MetricsFile(host, config.metricsFile);
    // each round is recorded (how many, and when the last ended): the monitor's liveness
    await loop(host, config, opts, last, async (round) => {
      rounds += 1;
      heals += round.heals;
      refusals += round.refusals;
      if (me) await host.store.putMonitor({ ...me, rounds, lastRound: new Date().toISOString() });
      const guards = await host.guard.list();
      const shownLabels = new Set(round.mirrors.map((m) => m.label));
      metrics.write({
        mirrors: round.mirrors,
        guardsDetached: guards.map((g) => g.label).filter((l) => !shownLabels.has(l)),
        attachments: round.records,
        monitorStart: started / 1000,
        lastRound: Date.now() / 1000,
        rounds,
        heals,
        refusals,
      });
    });
  } finally {
    // an event being handled (a guard being written) ends first
    await events?.stop();
    if (!opts.once) await host.store.putMonitor(null);
  }
}

/** Whether a monitor runs (it records itself under /run/block-iscsimple). */
export async function monitorRunning(host: Host): Promise<boolean> {
  const m = await host.store.getMonitor();
  return m !== null && (await holderAlive(host.paths.proc, m));
}

/**
 * mdadm --monitor reports a failed leg as soon as md does (it waits on /proc/mdstat's events), as a
 * line that this process reads (md.watchEvents), and the direction guard is written at once. If
 * mdadm ends, it is started again (after a pause); the polling of the loop below stays as the fallback.
 */
function watchMdEvents(host: Host, config: Config, stopped: () => boolean): { stop: () => Promise<void> } {
  let current: { stop: () => void } | null = null;
  let done = false;
  // one array's events in mdadm's order (a Fail before the SpareActive that follows it), up to four
  // arrays at once: when the filer goes every array fails together, and one whose label lock is busy
  // does not hold back the guards of the others (mdadm names an array the same way in all its lines)
  const events = new SerialByKey((md, err) => host.log.warn(`md event on ${md}: ${errorMessage(err)}`));
  const onEvent = (e: { event: string; md: string; member: string | null }): void => {
    events.run(e.md, () => mdEvent(host, e.event, e.md, e.member).catch((err: unknown) => host.log.warn(`md event ${e.event} on ${e.md}: ${errorMessage(err)}`)));
  };
  // an array of ours is recorded (one that mdadm --monitor would watch)
  const arraysRecorded = async (): Promise<boolean> => (await host.store.attachments()).some((r) => r.label !== null && r.md !== null);
  const start = (): void => {
    current = host.md.watchEvents(Math.max(1, config.monitorIntervalS), onEvent, (why) => {
      if (done || stopped()) return;
      // with no array to watch mdadm stops at once: normal on an idle host, not worth a warning
      // every few seconds; it is started again once an array of ours is recorded (looked for every
      // 5 s: a look is a read of a folder, where starting mdadm each time would cost a process)
      const idle = /No array with redundancy detected/.test(why);
      if (!idle) host.log.warn(`mdadm --monitor ended (${why}); md's events are polled every ${config.monitorIntervalS} s until it runs again`);
      const again = async (): Promise<void> => {
        if (done || stopped()) return;
        // (a look that fails starts mdadm all the same)
        if (idle && !(await arraysRecorded().catch(() => true))) return later();
        // (not after a stop that came during the look: no mdadm would be left to end)
        if (!done && !stopped()) start();
      };
      const later = (): void => {
        setTimeout(() => {
          again().catch((err: unknown) => {
            host.log.warn(`mdadm --monitor: ${errorMessage(err)}; tried again in 5 s`);
            later();
          });
        }, 5000).unref();
      };
      later();
    });
  };
  start();
  return {
    stop: () => {
      done = true;
      current?.stop();
      return events.idle();
    },
  };
}

async function loop(
  host: Host,
  config: Config,
  opts: { once: boolean; stop: () => boolean; inputsOf: (r: AttachmentRecord) => HealInputs },
  last: Map<string, string>,
  roundDone: (round: Round) => Promise<void>,
): Promise<void> {
  /** The last refusal of heal said for each attachment (said again only when it changes). */
  const refused = new Map<string, string>();
  /** When each mirror's iSCSI leg was last seen current (ms), for the metrics. */
  const lastCurrent = new Map<string, number>();
  const start = Date.now();
  for (;;) {
    // prepared sessions (before a migration) that no add adopted in time
    await expirePrepared(host, new Date(), new Deadline(config.deadlineS * 1000));
    const records = await host.store.attachments();
    const round: Round = { mirrors: [], records: records.length, heals: 0, refusals: 0 };
    for (const r of records) {
      if (r.label === null || r.device === null) continue;
      try {
        const now = await healthOf(host, r);
        if (!now) continue;
        const { health } = now;
        const key = `${health.iscsi.state}/${health.local.state}`;
        if (last.get(r.id) !== key) {
          if (last.has(r.id) || key !== "in_sync/in_sync") {
            host.log.step(`${r.label}: iSCSI leg ${health.iscsi.state}, local leg ${health.local.state}${health.warning ? `: ${health.warning}` : ""}`);
          }
          last.set(r.id, key);
        }
        if (health.current === "local" && r.iqn !== null) {
          if (await markGuardObserved(host, r, `the iSCSI leg was ${health.iscsi.state}`)) host.log.warn(`${r.label}: the local leg holds the only current data`);
          // heal only once open-iscsi has the session back (or has none left to wait for): a heal
          // that waits for an absent target would hold the monitor for a whole deadline
          const sessions = await host.iscsi.sessions(r.iqn);
          if (health.iscsi.state !== "recovering" && (sessions.length === 0 || (await host.iscsi.loggedIn(r.iqn)))) {
            const res = await heal(host, r, opts.inputsOf(r), config, new Deadline(config.deadlineS * 1000)).catch((err: unknown) => {
              if (err instanceof RefusedError) {
                round.refusals += 1;
                // a refusal (the LUN is another volume now...) stands until someone acts: said at
                // syslog's crit priority once per change, not every round
                if (refused.get(r.id) !== err.message) host.log.critical(`${r.label}: not healed: ${err.message}`);
                refused.set(r.id, err.message);
              } else host.log.step(`${r.label}: not healed yet: ${errorMessage(err)}`);
              return null;
            });
            if (res) refused.delete(r.id);
            if (res && res.actions.length > 0) {
              round.heals += res.actions.filter((a) => a.startsWith("re-added")).length;
              host.log.step(`${r.label}: healing: ${res.actions.join("; ")}`);
            }
          }
        } else if (health.iscsi.state === "in_sync" && (await host.guard.get(r.label)) !== null && (await clearGuardObserved(host, r, OBSERVER_LOCK_WAIT_MS))) {
          host.log.step(`${r.label}: healed: the iSCSI leg is in sync again`);
        }
        // what this round saw of the mirror (the guard as it is now, after the above)
        const nowRecord = (await host.store.getAttachment(r.id)) ?? r;
        round.mirrors.push(await mirrorMetrics(host, nowRecord, r.label, (await healthOf(host, nowRecord))?.health ?? health, lastCurrent, start));
      } catch (err) {
        host.log.warn(`${r.label}: ${errorMessage(err)}`);
      }
    }
    await roundDone(round);
    if (opts.once || opts.stop()) return;
    // a look at the stop flag each second (ten a second cost an idle host's CPU for nothing)
    for (let t = 0; t < config.monitorIntervalS && !opts.stop(); t++) await sleepMs(1000);
    if (opts.stop()) return;
  }
}

/** One mirror's metrics this round (and when its iSCSI leg was last current). */
async function mirrorMetrics(host: Host, r: AttachmentRecord, label: string, health: Health, lastCurrent: Map<string, number>, start: number): Promise<MirrorMetrics> {
  const guard = await host.guard.get(label);
  const now = Date.now();
  if (health.iscsi.state === "in_sync") lastCurrent.set(r.id, now);
  const since = lastCurrent.get(r.id) ?? (guard && Number.isFinite(Date.parse(guard.since)) ? Date.parse(guard.since) : start);
  const sessions = r.iqn !== null ? (await host.iscsi.sessions(r.iqn)).length : 0;
  const { verdict } = judge({ spec: r.spec, label, phase: "attached", hasIscsi: r.iqn !== null, sessions, array: null, health, guard });
  return {
    label,
    spec: r.spec,
    iscsi: { state: health.iscsi.state, progress: health.iscsi.progress },
    local: { state: health.local.state, progress: health.local.progress },
    guard: guard !== null,
    iscsiStaleSeconds: r.iqn === null || health.iscsi.state === "in_sync" ? 0 : (now - since) / 1000,
    verdict: STATUS_EXIT[verdict],
  };
}

/**
 * The metrics file for node_exporter's textfile collector, replaced whole each round (a new file
 * renamed over it: the collector never reads half of one). A folder that does not exist (no
 * node_exporter here) or cannot be used is said once in the log, and the file is left out.
 */
class MetricsFile {
  private said = "";
  constructor(
    private readonly host: Host,
    private readonly file: string | null,
  ) {}

  write(m: HostMetrics): void {
    if (this.file === null) return;
    const file = this.host.paths.root + this.file;
    try {
      if (!existsSync(path.dirname(file))) throw new Error(`${path.dirname(this.file)} does not exist (is prometheus-node-exporter installed? [monitor] metrics = none turns this off)`);
      replaceFile(file, formatMetrics(m), { mode: 0o644 });
      this.said = "";
    } catch (err) {
      const why = errorMessage(err);
      if (why !== this.said) this.host.log.step(`no metrics file: ${why}`);
      this.said = why;
    }
  }
}
