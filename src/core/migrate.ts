import { InputError, oneLine } from "./errors";
import type { Argv } from "./commands";
import { describeLeg, type Health, type StaleRecord } from "./health";
import type { AttachmentRecord } from "./records";
import { formatSpec } from "./spec";

/**
 * A live migration, decided before anything moves: which disks the domain has, whether each may
 * leave this host (its iSCSI leg must be current: the destination reads nothing else), and the
 * commands that prepare the destination and migrate. Pure; cli/migrate.ts runs it.
 */

/** Where the installed program is on every host: the path xl itself runs. */
export const REMOTE_PROGRAM = "/etc/xen/scripts/block-iscsimple";

const DOMAIN_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
/** xl runs `ssh HOST xl migrate-receive` through a shell: no character a shell would read (no [ ] either), no leading '-'. */
const HOST_RE = /^[A-Za-z0-9_][A-Za-z0-9_.:@%-]{0,254}$/;
/** One word of the transport command: no shell syntax (we run it without a shell; xl runs it with one). */
const WORD_RE = /^[A-Za-z0-9_./=,:@%+-]{1,255}$/;

export function checkDomainName(domain: string): string {
  if (!DOMAIN_RE.test(domain)) throw new InputError(`domain '${oneLine(domain, 80)}' is not a domain name (letters, digits, _ . : -)`);
  return domain;
}

export function checkHostName(host: string): string {
  if (!HOST_RE.test(host)) throw new InputError(`host '${oneLine(host, 80)}' is not a host name or address`);
  return host;
}

/**
 * xl's `-s` transport as argv: `ssh` by default. xl runs `SSH HOST xl migrate-receive` through a
 * shell, we run `SSH HOST block-iscsimple prepare ...` without one: so the command is plain words
 * only, and the empty form (xl's "the host is the command") cannot carry our call.
 */
export function transportArgv(ssh: string | undefined): string[] {
  if (ssh === undefined) return ["ssh"];
  const words = ssh.trim().split(/\s+/).filter((w) => w !== "");
  if (words.length === 0) {
    throw new InputError("--ssh '' (xl's 'the host is a command' form) cannot carry block-iscsimple prepare: give a command that takes the host and a command, as ssh does");
  }
  for (const w of words) {
    if (!WORD_RE.test(w)) throw new InputError(`--ssh: '${oneLine(w, 80)}' is not a plain word (no quotes or shell syntax: the command runs without a shell)`);
  }
  return words;
}

/** The iSCSI part of a disk's spec (`lunN@IQN`): what the destination can prepare. */
export function targetPart(r: AttachmentRecord): string | null {
  return r.iqn === null ? null : formatSpec({ text: "", iqn: r.iqn, lun: r.lun, label: null });
}

/**
 * prepare on the destination. ssh hands the words after HOST to the remote shell: each is a fixed
 * word, a number or a validated spec part (lunN@ and an iqn., eui. or naa. name: letters, digits,
 * . : - @), none needs quoting.
 */
export function prepareArgv(transport: readonly string[], host: string, keepS: number, specs: readonly string[], release = false): Argv {
  return [...(transport as [string, ...string[]]), host, REMOTE_PROGRAM, "prepare", ...(release ? ["--release"] : [`--keep=${keepS}`]), ...specs];
}

/** xl migrate, run by `block-iscsimple migrate` (the transport and options as the user gave them). */
export function xlMigrateArgv(ssh: string | undefined, xlArgs: readonly string[], domain: string, host: string): Argv {
  return ["xl", "migrate", ...(ssh !== undefined ? ["-s", ssh] : []), ...xlArgs, domain, host];
}

/** xl migrate's own options we pass through (xl(1), 4.17): -s is --ssh; -C (another config) is left out. */
const XL_FLAGS = new Set(["-e", "-p", "-D", "--debug"]);

export function checkXlArgs(args: readonly string[]): readonly string[] {
  for (const a of args) {
    if (!XL_FLAGS.has(a)) throw new InputError(`xl option '${oneLine(a, 40)}' is not passed through (allowed: ${[...XL_FLAGS].join(" ")}; use --ssh for -s)`);
  }
  return args;
}

/** What is known of one of the domain's disks on this host. */
export interface LeavingDisk {
  readonly record: AttachmentRecord;
  /** Its array's legs (null: a plain LUN, or its array could not be found). */
  readonly health: Health | null;
  readonly guard: StaleRecord | null;
}

/**
 * Why each disk must not leave this host now, if it must not. The destination builds its mirror
 * from the iSCSI LUN alone: a LUN that missed writes would be the VM's disk there.
 */
export function migrationRefusals(disks: readonly LeavingDisk[]): string[] {
  const out: string[] = [];
  for (const d of disks) {
    const r = d.record;
    const name = `${r.spec}${r.owner.kind === "xen" ? ` (${r.owner.backend.split("/").pop() ?? ""})` : ""}`;
    if (r.iqn === null) {
      out.push(`${name}: it has no iSCSI leg (MISSING): its data is on this host only`);
      continue;
    }
    if (r.device === null) {
      out.push(`${name}: its add did not finish`);
      continue;
    }
    if (r.label === null) continue;
    if (d.guard) {
      out.push(`${name}: its direction guard is set (${d.guard.reason}): the iSCSI LUN is not current; run block-iscsimple heal ${r.label} --wait`);
      continue;
    }
    if (d.health === null) {
      out.push(`${name}: its array cannot be found`);
      continue;
    }
    if (d.health.iscsi.state !== "in_sync") {
      out.push(`${name}: its iSCSI leg is ${describeLeg(d.health.iscsi)}: the LUN is not current; run block-iscsimple heal ${r.label} --wait`);
    }
  }
  return out;
}
