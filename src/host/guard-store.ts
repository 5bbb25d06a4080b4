import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import type { StaleRecord } from "../core/health";
import { LABEL_RE } from "../core/spec";
import type { HostPaths } from "./paths";
import { join } from "./sysfs";

/**
 * The direction guard, kept across reboots under /var/lib/block-iscsimple/stale/LABEL.json: the
 * local leg of LABEL holds the only current copy, so the next add must not copy iSCSI over it.
 */
export class GuardStore {
  constructor(private readonly paths: HostPaths) {}

  private file(label: string): string {
    if (!LABEL_RE.test(label)) throw new Error(`internal: unsafe label '${label}'`);
    return join(this.paths.lib, "stale", `${label}.json`);
  }

  async get(label: string): Promise<StaleRecord | null> {
    try {
      return JSON.parse(await readFile(this.file(label), "utf8")) as StaleRecord;
    } catch {
      return null;
    }
  }

  /** Records the local leg as the only current copy (keeps the first time and reason). */
  async mark(label: string, spec: string, reason: string): Promise<boolean> {
    if (await this.get(label)) return false;
    const file = this.file(label);
    await mkdir(join(this.paths.lib, "stale"), { recursive: true, mode: 0o700 });
    const r: StaleRecord = { label, spec, since: new Date().toISOString(), reason };
    await writeFile(`${file}.tmp`, `${JSON.stringify(r, null, 1)}\n`, { mode: 0o600 });
    await rename(`${file}.tmp`, file);
    return true;
  }

  async list(): Promise<StaleRecord[]> {
    let names: string[];
    try {
      names = await readdir(join(this.paths.lib, "stale"));
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
    await rm(this.file(label), { force: true });
    return had;
  }
}
