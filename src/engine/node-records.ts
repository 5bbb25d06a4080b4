import { chapFor, chapIsDefault, chapSettings, untrustedForDefault, type Chap, type ChapTable } from "../core/chap";
import { FailedError } from "../core/errors";
import type { Config } from "../core/config";
import type { Deadline } from "../host/clock";
import { shown } from "../host/paths";
import type { Host } from "./host";

/** A target's CHAP credentials, and (for the file's [default] ones) the only portals they may go to. */
export interface TargetChap {
  readonly chap: Chap;
  /** null: the target's own section; else the portals the [default] credentials are offered to. */
  readonly onlyTo: readonly string[] | null;
}

/** The credentials of IQN in the CHAP file, if any. */
export function targetChap(table: ChapTable, iqn: string, config: Config): TargetChap | null {
  const chap = chapFor(table, iqn);
  return chap ? { chap, onlyTo: chapIsDefault(table, iqn) ? config.portals : null } : null;
}

/**
 * Node settings into every node record of IQN: into the record files, as `iscsiadm -o update` would
 * write them (no process); with iscsiadm where the records are not files under /etc/iscsi/nodes.
 */
export async function writeNodeSettings(host: Host, iqn: string, settings: readonly (readonly [string, string])[], deadline: Deadline): Promise<void> {
  if (settings.length === 0) return;
  if ((await host.iscsiDb.setNode(iqn, settings, deadline)) > 0) return;
  for (const [name, value] of settings) await host.iscsi.setNode(iqn, name, value, deadline);
}

/**
 * The CHAP credentials into IQN's node records, before a login (add, heal, prepare, discover
 * --luns): a record may have been rewritten meanwhile (an iscsiadm discovery without `-o new`, by
 * someone else). Files only: a secret never goes on a command line. [default] credentials are not
 * offered to a portal the administrator did not name (a warning instead).
 */
export async function writeChap(host: Host, iqn: string, c: TargetChap, deadline: Deadline): Promise<void> {
  if (c.onlyTo !== null) {
    const bad = untrustedForDefault(await host.iscsi.nodePortals(iqn, deadline), c.onlyTo);
    if (bad.length > 0) {
      host.log.warn(`the [default] CHAP credentials are not offered to ${iqn}: its portal ${bad.join(", ")} is not one of [iscsi] portals (give the target a section of its own in the CHAP file)`);
      return;
    }
  }
  if ((await host.iscsiDb.setNode(iqn, chapSettings("node.session.auth", c.chap), deadline)) === 0) {
    throw new FailedError(`no node record of ${iqn} under ${shown(host.paths, host.paths.iscsiNodes)} to hold its CHAP credentials`);
  }
}
