import { chapFor, chapIsDefault } from "../core/chap";
import type { StalePolicy } from "../core/health";
import type { Request } from "../core/plan";
import { attachmentId, type Owner } from "../core/records";
import type { TargetSpec } from "../core/spec";
import { shown } from "../host/paths";
import { loadChap, loadTab, localLeg, type Context } from "./context";
import { tabClash } from "./local-leg";

export interface Asked {
  readonly spec: TargetSpec;
  readonly owner: Owner;
  readonly writable: boolean;
  /** --prefer-local / --prefer-iscsi, when given. */
  readonly prefer?: StalePolicy | null;
  /** --new-local-disk. */
  readonly newLocalDisk?: boolean;
}

/**
 * The one place a spec becomes a request: its local leg from tab.conf, its CHAP settings, its id.
 * For an add (`forAdd`), tab.conf must not name the local leg's disk for another label too, and a
 * MISSING leg is said out loud; `check` plans with the same request, without those two.
 */
export async function requestFor(ctx: Context, asked: Asked, forAdd: boolean): Promise<Request> {
  const { spec } = asked;
  const local = localLeg(ctx, spec);
  if (forAdd) {
    if (typeof local === "string") await tabClash(ctx.host, loadTab(ctx), shown(ctx.paths, ctx.tabFile), spec.label);
    warnMissing(ctx, spec, local);
  }
  const table = spec.iqn === null ? null : loadChap(ctx);
  return {
    id: attachmentId(asked.owner, spec),
    spec,
    writable: asked.writable,
    owner: asked.owner,
    local,
    config: ctx.config,
    chap: table && spec.iqn !== null ? chapFor(table, spec.iqn) : null,
    chapIsDefault: table && spec.iqn !== null ? chapIsDefault(table, spec.iqn) : false,
    discoveryChap: table?.discovery ?? null,
    prefer: asked.prefer ?? null,
    newLocalDisk: asked.newLocalDisk === true,
  };
}

function warnMissing(ctx: Context, spec: TargetSpec, local: string | null | undefined): void {
  if (spec.iqn === null && local === null) return; // an error, reported by the attach itself
  if (spec.iqn === null) {
    ctx.log.warn(`${spec.text}: NO iSCSI LEG (MISSING): this disk lives on the local device only; the VM must not be migrated`);
  }
  if (local === null) ctx.log.warn(`${spec.text}: no local leg (MISSING in tab.conf): reads and writes all go over iSCSI`);
}
