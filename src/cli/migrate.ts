import { EXIT, FailedError, InputError, RefusedError, errorMessage } from "../core/errors";
import { xl } from "../core/commands";
import { checkDomainName, checkHostName, checkXlArgs, migrationRefusals, prepareArgv, targetPart, transportArgv, xlMigrateArgv, type LeavingDisk } from "../core/migrate";
import { parseSpec } from "../core/spec";
import { healthOf } from "../engine/arrays";
import { prepare } from "../engine/prepare";
import { expirePrepared, releasePrepared } from "../engine/prepared";
import { Deadline } from "../host/clock";
import { withContext, type GlobalOptions } from "./context";

/** The highest id a domain can have (Xen's DOMID_FIRST_RESERVED - 1). */
const MAX_DOMID = 0x7fef;

/** How long a prepared session waits for its add, unless --keep says otherwise. */
export const DEFAULT_KEEP_S = 600;
const MAX_KEEP_S = 86400;

function keepSeconds(v: string | undefined): number {
  if (v === undefined) return DEFAULT_KEEP_S;
  if (!/^[0-9]{1,6}$/.test(v) || Number(v) < 10 || Number(v) > MAX_KEEP_S) throw new InputError(`--keep '${v.slice(0, 20)}' is not a number of seconds from 10 to ${MAX_KEEP_S}`);
  return Number(v);
}

/**
 * `block-iscsimple prepare SPEC...` (on a migration's destination): log in and find the LUNs now,
 * so that the adds during the VM's downtime only build the arrays. `--release SPEC...` lets go of
 * them (a migration that did not happen); `--expire` releases those whose time is up (for hosts
 * without the monitor, from a timer).
 */
export async function prepareCommand(specTexts: readonly string[], opts: GlobalOptions & { keep?: string; release?: boolean; expire?: boolean }): Promise<number> {
  const specs = specTexts.map((t) => parseSpec(t));
  for (const s of specs) if (s.iqn === null) throw new InputError(`spec ${s.text}: no iSCSI target (MISSING) to prepare`);
  if (opts.release && opts.expire) throw new InputError("--release and --expire do not go together");
  if ((opts.release || opts.expire) && opts.keep !== undefined) throw new InputError("--keep is for preparing, not with --release or --expire");
  if (!opts.expire && specs.length === 0) throw new InputError("give the specs to prepare (or --expire)");
  const keep = keepSeconds(opts.keep);
  return withContext(opts, opts.release ? "prepare --release" : opts.expire ? "prepare --expire" : "prepare", async (ctx) => {
    const deadline = new Deadline(ctx.config.deadlineS * 1000);
    await ctx.host.store.ensure();
    if (opts.expire) {
      const gone = await expirePrepared(ctx.host, new Date(), deadline);
      process.stdout.write(gone.map((s) => `released ${s}\n`).join(""));
      return EXIT.ok;
    }
    if (opts.release) {
      const wanted = new Set(specs.map((s) => `${s.iqn}#${s.lun}`));
      const gone = await releasePrepared(ctx.host, (r) => wanted.has(`${r.iqn}#${r.lun}`), deadline);
      process.stdout.write(gone.map((s) => `released ${s}\n`).join(""));
      return EXIT.ok;
    }
    // what earlier migrations left, first: a session past its time is not kept by a new prepare
    await expirePrepared(ctx.host, new Date(), deadline);
    const t0 = performance.now();
    await prepare(ctx, specs, keep);
    process.stdout.write(`prepared ${specs.length} LUN(s) in ${Math.round(performance.now() - t0)} ms, kept ${keep} s for their adds\n`);
    return EXIT.ok;
  });
}

export interface MigrateOptions extends GlobalOptions {
  readonly ssh?: string;
  readonly force?: boolean;
  readonly keep?: string;
  readonly prepare?: boolean;
}

/**
 * `block-iscsimple migrate DOMAIN HOST [-- XL-OPTIONS]`: refuses while a disk's iSCSI leg is not
 * current (the destination would get a stale disk), prepares the destination's targets, then runs
 * xl migrate. The prepared sessions are released again if xl fails.
 */
export async function migrateCommand(domain: string, host: string, xlArgs: readonly string[], opts: MigrateOptions): Promise<number> {
  checkDomainName(domain);
  checkHostName(host);
  const transport = transportArgv(opts.ssh);
  const passed = checkXlArgs(xlArgs);
  const keep = keepSeconds(opts.keep);
  return withContext(opts, `migrate ${domain} to ${host}`, async (ctx) => {
    const { host: h, log } = ctx;
    const deadline = new Deadline(ctx.config.deadlineS * 1000);
    // the domain xl migrate will move: an all-digit word is a domain id to xl migrate, while
    // xl domid resolves names only; so a number is checked as an id (xl domname), a name resolved
    let domid: number;
    let moved = domain;
    if (/^[0-9]+$/.test(domain)) {
      // xl reads an id modulo 2^32: only the ids a domain can have (1 to 32751), written plainly
      domid = Number(domain);
      if (domid < 1 || domid > MAX_DOMID) throw new InputError(`domain id ${domain.slice(0, 12)} is not one a domain can have (1 to ${MAX_DOMID})`);
      moved = String(domid);
      await h.run.run(xl.domname(domid), deadline).catch((err: unknown) => {
        throw new InputError(`there is no domain ${domid} (${errorMessage(err)})`, { cause: err });
      });
    } else {
      domid = Number((await h.run.run(xl.domid(domain), deadline)).stdout.trim());
    }
    if (!Number.isInteger(domid) || domid <= 0) throw new InputError(`domain ${domain} is not a domain that can migrate (dom0 does not migrate)`);
    const records = (await h.store.attachments()).filter((r) => r.owner.kind === "xen" && r.owner.domid === domid);
    const disks: LeavingDisk[] = [];
    for (const r of records) {
      disks.push({ record: r, health: (await healthOf(h, r))?.health ?? null, guard: r.label !== null ? await h.guard.get(r.label) : null });
    }
    const refusals = migrationRefusals(disks);
    if (refusals.length > 0) {
      if (!opts.force) throw new RefusedError(`not migrating ${domain}: ${refusals.join("; ")} (--force migrates anyway, with those disks' stale data)`);
      log.warn(`--force: migrating ${domain} although ${refusals.join("; ")}: the destination will run on data older than the VM's`);
    }
    const specs = [...new Set(records.map(targetPart).filter((s): s is string => s !== null))];
    log.step(`${domain} (domain ${domid}) has ${records.length} block-iscsimple disk(s)${specs.length ? `: ${specs.join(", ")}` : ""}`);
    let prepared = false;
    const t0 = performance.now();
    if (specs.length > 0 && opts.prepare !== false) {
      try {
        await h.run.run(prepareArgv(transport, host, keep, specs), new Deadline(4 * ctx.config.deadlineS * 1000));
        prepared = true;
      } catch (err) {
        throw new FailedError(`preparing ${host} failed, nothing was migrated: ${errorMessage(err)}`, { cause: err });
      }
    }
    const t1 = performance.now();
    if (prepared) process.stdout.write(`block-iscsimple: ${host} logged in to ${specs.length} LUN(s) in ${((t1 - t0) / 1000).toFixed(1)} s\n`);
    try {
      // xl prints its progress as it goes; a migration has no deadline of ours (a day, for the form)
      await h.run.run(xlMigrateArgv(opts.ssh, passed, moved, host), new Deadline(86400 * 1000), [0], { live: true });
    } catch (err) {
      if (prepared) {
        // a deadline of its own: the command's first one passed during the memory copy
        await h.run.run(prepareArgv(transport, host, keep, specs, true), new Deadline(ctx.config.deadlineS * 1000)).catch((e: unknown) => log.warn(`could not release the prepared sessions on ${host} (they expire by themselves): ${errorMessage(e)}`));
      }
      throw new FailedError(`xl migrate ${domain} ${host} failed: ${errorMessage(err)}`, { cause: err });
    }
    const t2 = performance.now();
    process.stdout.write(`block-iscsimple: ${domain} migrated to ${host}: prepare ${((t1 - t0) / 1000).toFixed(1)} s, xl migrate ${((t2 - t1) / 1000).toFixed(1)} s (the destination's adds, within the VM's downtime, are in its log: grep 'timing' /var/log/xen/xen-hotplug.log)\n`);
    return EXIT.ok;
  });
}
