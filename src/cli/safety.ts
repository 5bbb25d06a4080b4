import { EXIT, InputError, RefusedError } from "../core/errors";
import { describeIdentity } from "../core/local-leg";
import { LABEL_RE } from "../core/spec";
import { lookupLabel } from "../core/tab";
import { checkLocal, recordLocal } from "../engine/local-leg";
import { Deadline } from "../host/clock";
import { diskLockName } from "../host/locks";
import { shown } from "../host/paths";
import { loadTab } from "../engine/context";
import { withContext, type GlobalOptions } from "./context";

function checkLabel(label: string): void {
  if (!LABEL_RE.test(label)) throw new InputError(`bad label '${label}': only A-Z a-z 0-9 _ - (1 to 64 characters)`);
}

/**
 * `accept-local LABEL`: the administrator confirms that the disk tab.conf names for LABEL may be
 * overwritten (a new disk holding old data, or a replacement). The disk must not be in use.
 */
export async function acceptLocal(label: string, opts: GlobalOptions): Promise<number> {
  checkLabel(label);
  return withContext(opts, `accept-local ${label}`, async (ctx) => {
    const entry = lookupLabel(loadTab(ctx), label, shown(ctx.paths, ctx.tabFile));
    if (entry.device === null) throw new InputError(`label '${label}' has no local leg in ${shown(ctx.paths, ctx.tabFile)} (MISSING): nothing to accept`);
    const host = ctx.host;
    await host.store.ensure();
    const deadline = new Deadline(ctx.config.deadlineS * 1000);
    return await host.locks.with(diskLockName({ iqn: null, lun: 0, label }), deadline, async () => {
      const attached = (await host.store.attachments()).find((r) => r.label === label);
      if (attached) throw new RefusedError(`label '${label}' is attached now (${attached.spec}); accept a new local disk while it is not`);
      const checked = await checkLocal(host, { label, path: ctx.paths.root + entry.device, id: "", owner: { kind: "manual" } }, deadline, true);
      await recordLocal(host, label, checked, true);
      process.stdout.write(
        `${label}: ${checked.device} (${describeIdentity(checked.identity)}) is accepted as its local leg; the next add overwrites it with the iSCSI LUN\n`,
      );
      return EXIT.ok;
    });
  });
}

/**
 * `resolve LABEL --prefer-local|--prefer-iscsi|--forget`: the administrator's decision about a set
 * direction guard, for xl users (who cannot pass --prefer-* to an add): it applies to the next add
 * of that label only. --forget removes the guard (after checking the disks by hand).
 */
export async function resolve(label: string, opts: GlobalOptions & { preferLocal?: boolean; preferIscsi?: boolean; forget?: boolean }): Promise<number> {
  checkLabel(label);
  const chosen = [opts.preferLocal, opts.preferIscsi, opts.forget].filter(Boolean).length;
  if (chosen !== 1) throw new InputError("resolve needs exactly one of --prefer-local, --prefer-iscsi, --forget");
  return withContext(opts, `resolve ${label}`, async (ctx) => {
    const host = ctx.host;
    await host.store.ensure();
    return await host.locks.with(diskLockName({ iqn: null, lun: 0, label }), new Deadline(ctx.config.deadlineS * 1000), async () => {
      const g = await host.guard.get(label);
      if (!g) {
        process.stdout.write(`${label}: no direction guard is set; nothing to resolve\n`);
        return EXIT.ok;
      }
      if (opts.forget) {
        await host.guard.clear(label);
        host.log.warn(`${label}: the direction guard (${g.broken ?? `since ${g.since}: ${g.reason}`}) was removed by the administrator`);
        process.stdout.write(`${label}: the direction guard is removed; the next add copies the iSCSI LUN over the local leg\n`);
        return EXIT.ok;
      }
      if (g.broken !== undefined) throw new RefusedError(`${label}: the guard file cannot be read (${g.broken}); check the disks, then use --forget`);
      const decision = opts.preferLocal ? "prefer-local" : "prefer-iscsi";
      await host.guard.put({ ...g, decision });
      host.log.step(`${label}: the administrator chose ${decision} for the next add`);
      process.stdout.write(
        decision === "prefer-local"
          ? `${label}: the next add builds the mirror from the local leg and rebuilds the iSCSI LUN from it\n`
          : `${label}: the next add discards the local leg's data and rebuilds it from the iSCSI LUN\n`,
      );
      return EXIT.ok;
    });
  });
}
