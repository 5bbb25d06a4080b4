import { InternalError, FailedError } from "../core/errors";
import { chmod, lstat, mkdir, readdir, readFile, rm } from "node:fs/promises";
import type { AttachmentRecord, TargetRecord } from "../core/records";
import { pidAlive } from "./locks";
import { ensurePrivateDir, replaceFile } from "./safe-files";
import type { HostPaths } from "./paths";
import { join } from "./sysfs";

const ID_RE = /^[A-Za-z0-9_.:-]+$/;

/** What the running monitor records of itself: who it is, how many rounds it made, when the last ended. */
export interface MonitorRecord {
  readonly pid: number;
  readonly start: string;
  readonly rounds?: number;
  readonly lastRound?: string | null;
}

function checkName(name: string): string {
  if (!ID_RE.test(name) || name.startsWith(".")) throw new InternalError(`unsafe state file name '${name}'`);
  return name;
}

/**
 * Attachment and target records under /run/block-iscsimple (0700, root only), written atomically
 * (write, then rename) so a SIGKILL never leaves half a record.
 */
export class StateStore {
  constructor(private readonly paths: HostPaths) {}

  private dir(kind: "attach" | "target"): string {
    return join(this.paths.run, kind);
  }

  async ensure(): Promise<void> {
    await mkdir(this.paths.run, { recursive: true, mode: 0o700 });
    const st = await lstat(this.paths.run);
    if (!st.isDirectory()) throw new FailedError(`${this.paths.run} is not a directory`);
    if (typeof process.getuid === "function" && st.uid !== process.getuid()) {
      throw new FailedError(`${this.paths.run} belongs to uid ${st.uid}, not to us; refusing to use it`);
    }
    if ((st.mode & 0o077) !== 0) await chmod(this.paths.run, 0o700);
    await this.dropDeadTemporaries(this.paths.run);
    for (const d of ["attach", "target"] as const) {
      ensurePrivateDir(this.dir(d));
      await this.dropDeadTemporaries(this.dir(d));
    }
  }

  /** Temporary files (NAME.PID[.NONCE].tmp) left by a writer that was SIGKILLed before its rename. */
  private async dropDeadTemporaries(dir: string): Promise<void> {
    for (const n of await readdir(dir).catch(() => [] as string[])) {
      const m = /\.(\d+)(?:\.[0-9a-f]+)?\.tmp$/.exec(n);
      if (!m || pidAlive(Number(m[1]))) continue;
      await rm(join(dir, n), { force: true });
    }
  }

  /** The key that names the locks (see locks.ts). */
  lockKeyFile(): string {
    return join(this.paths.run, "lock-key");
  }

  private writeJson(file: string, value: unknown): Promise<void> {
    replaceFile(file, `${JSON.stringify(value, null, 1)}\n`, { mode: 0o600 });
    return Promise.resolve();
  }

  private async readJson<T>(file: string): Promise<T | null> {
    try {
      return JSON.parse(await readFile(file, "utf8")) as T;
    } catch {
      return null;
    }
  }

  async putAttachment(r: AttachmentRecord): Promise<void> {
    await this.writeJson(join(this.dir("attach"), `${checkName(r.id)}.json`), r);
  }

  async getAttachment(id: string): Promise<AttachmentRecord | null> {
    return this.readJson<AttachmentRecord>(join(this.dir("attach"), `${checkName(id)}.json`));
  }

  async deleteAttachment(id: string): Promise<void> {
    await rm(join(this.dir("attach"), `${checkName(id)}.json`), { force: true });
  }

  async attachments(): Promise<AttachmentRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.dir("attach"));
    } catch {
      return [];
    }
    const out: AttachmentRecord[] = [];
    for (const n of names.sort()) {
      if (!n.endsWith(".json")) continue;
      const r = await this.readJson<AttachmentRecord>(join(this.dir("attach"), n));
      if (r) out.push(r);
    }
    return out;
  }

  /**
   * Every record, for `status`: a folder that cannot be read (not root) or a record that cannot be
   * parsed is an error naming it, never an empty list. No folder: nothing was ever attached here.
   */
  async attachmentsStrict(): Promise<AttachmentRecord[]> {
    const dir = this.dir("attach");
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") {
        // no record folder: fine, unless the state folder itself is out of reach
        try {
          await readdir(this.paths.run);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new FailedError(`cannot read ${this.paths.run}: ${(e as Error).message}`, { cause: e });
        }
        return [];
      }
      throw new FailedError(`cannot read ${dir}: ${(err as Error).message}`, { cause: err });
    }
    const out: AttachmentRecord[] = [];
    for (const n of names.sort()) {
      if (!n.endsWith(".json")) continue;
      const file = join(dir, n);
      let r: AttachmentRecord;
      try {
        r = JSON.parse(await readFile(file, "utf8")) as AttachmentRecord;
      } catch (err) {
        throw new FailedError(`${file}: not a readable attachment record (${(err as Error).message})`, { cause: err });
      }
      if (typeof r !== "object" || r === null || typeof r.id !== "string" || typeof r.spec !== "string") throw new FailedError(`${file}: not an attachment record`);
      out.push(r);
    }
    return out;
  }

  /** The running monitor, as it recorded itself (pid and start time, its rounds), or null. */
  async getMonitor(): Promise<MonitorRecord | null> {
    return this.readJson<MonitorRecord>(join(this.paths.run, "monitor.json"));
  }

  async putMonitor(m: MonitorRecord | null): Promise<void> {
    if (m === null) await rm(join(this.paths.run, "monitor.json"), { force: true });
    else await this.writeJson(join(this.paths.run, "monitor.json"), m);
  }

  async getTarget(iqn: string): Promise<TargetRecord | null> {
    return this.readJson<TargetRecord>(join(this.dir("target"), `${checkName(iqn)}.json`));
  }

  async putTarget(t: TargetRecord): Promise<void> {
    await this.writeJson(join(this.dir("target"), `${checkName(t.iqn)}.json`), t);
  }

  async deleteTarget(iqn: string): Promise<void> {
    await rm(join(this.dir("target"), `${checkName(iqn)}.json`), { force: true });
  }
}

