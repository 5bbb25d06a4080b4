import { errorMessage } from "../core/errors";
import type { AttachmentRecord } from "../core/records";
import type { Deadline } from "../host/clock";
import { detach } from "./detach";
import type { Host } from "./host";

/** A prepared session's record (see prepare.ts). */
type Prepared = AttachmentRecord & { readonly owner: { readonly kind: "prepared"; readonly until: string } };

/** Releases prepared sessions that WHICH selects (logging out where no other disk uses the target). */
export async function releasePrepared(host: Host, which: (r: Prepared) => boolean, deadline: Deadline): Promise<string[]> {
  const out: string[] = [];
  for (const r of await host.store.attachments()) {
    if (r.owner.kind !== "prepared" || !which(r as Prepared)) continue;
    if (await releaseOne(host, r, deadline)) out.push(r.spec);
  }
  return out;
}

/** Releases the prepared sessions whose time is up. */
export function expirePrepared(host: Host, now: Date, deadline: Deadline): Promise<string[]> {
  return releasePrepared(host, (r) => Date.parse(r.owner.until) <= now.getTime(), deadline);
}

export async function releaseOne(host: Host, r: AttachmentRecord, deadline: Deadline): Promise<boolean> {
  try {
    const res = await detach(host, r.id, deadline);
    if (res && res.problems.length > 0) throw new Error(res.problems.join("; "));
    host.log.step(res === null ? `the prepared session of ${r.spec} was adopted or released meanwhile` : `released the prepared session of ${r.spec}`);
    return true;
  } catch (err) {
    host.log.warn(`could not release the prepared session of ${r.spec}: ${errorMessage(err)}`);
    return false;
  }
}
