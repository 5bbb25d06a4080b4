import { InternalError, FailedError } from "../core/errors";
import { readdir, readFile } from "node:fs/promises";
import type { StaleRecord } from "../core/health";
import type { LocalRecord } from "../core/local-leg";
import { LABEL_RE } from "../core/spec";
import { removeDurable, writeDurable } from "./durable";
import { ensurePrivateDir } from "./safe-files";
import type { HostPaths } from "./paths";
import { join } from "./sysfs";

/** Reads a JSON record: null when there is none; a file that cannot be read or parsed throws. */
async function readRecord<T>(file: string, valid: (v: unknown) => boolean): Promise<T | null> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new FailedError(`${file}: ${(err as Error).message}`, { cause: err });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new FailedError(`${file} is not valid JSON (${text.length} bytes)`);
  }
  if (!valid(value)) throw new FailedError(`${file} does not hold a valid record`);
  return value as T;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function labelFile(dir: string, label: string): string {
  if (!LABEL_RE.test(label)) throw new InternalError(`unsafe label '${label}'`);
  return join(dir, `${label}.json`);
}

/**
 * The direction guard, kept across reboots under /var/lib/block-iscsimple/stale/LABEL.json: the
 * local leg of LABEL holds the only current copy, so the next add must not copy iSCSI over it.
 * Written durably (a power cut leaves the old or the new file); a file that cannot be read or
 * parsed counts as a SET guard, never as none.
 */
export class GuardStore {
  constructor(private readonly paths: HostPaths) {}

  private dir(): string {
    return join(this.paths.lib, "stale");
  }

  file(label: string): string {
    return labelFile(this.dir(), label);
  }

  async get(label: string): Promise<StaleRecord | null> {
    try {
      return await readRecord<StaleRecord>(this.file(label), (v) => isObject(v) && v.label === label && typeof v.since === "string" && typeof v.reason === "string");
    } catch (err) {
      return { label, spec: "?", since: "?", reason: "unreadable", broken: (err as Error).message };
    }
  }

  /** Records the local leg as the only current copy (keeps the first time, reason and disks). */
  async mark(g: Omit<StaleRecord, "since">): Promise<boolean> {
    if (await this.get(g.label)) return false;
    await this.put({ ...g, since: new Date().toISOString() });
    return true;
  }

  async put(g: StaleRecord): Promise<void> {
    ensurePrivateDir(this.dir());
    await writeDurable(this.file(g.label), `${JSON.stringify(g, null, 1)}\n`);
  }

  async list(): Promise<StaleRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.dir());
    } catch {
      return [];
    }
    const out: StaleRecord[] = [];
    for (const n of names.sort()) {
      const label = n.replace(/\.json$/, "");
      if (n.endsWith(".json") && LABEL_RE.test(label)) {
        const r = await this.get(label);
        if (r) out.push(r);
      }
    }
    return out;
  }

  async clear(label: string): Promise<boolean> {
    const had = (await this.get(label)) !== null;
    if (had) await removeDurable(this.file(label));
    return had;
  }
}

/** Which disk each label's local leg is: /var/lib/block-iscsimple/local/LABEL.json. */
export class LocalStore {
  constructor(private readonly paths: HostPaths) {}

  private dir(): string {
    return join(this.paths.lib, "local");
  }

  file(label: string): string {
    return labelFile(this.dir(), label);
  }

  /** The record, or null; a record that cannot be read throws (the add is then refused). */
  async get(label: string): Promise<LocalRecord | null> {
    return readRecord<LocalRecord>(
      this.file(label),
      (v) => isObject(v) && v.label === label && Number.isInteger(v.major) && Number.isInteger(v.minor) && (v.id === null || typeof v.id === "string"),
    );
  }

  async put(r: LocalRecord): Promise<void> {
    ensurePrivateDir(this.dir());
    await writeDurable(this.file(r.label), `${JSON.stringify(r, null, 1)}\n`);
  }
}
