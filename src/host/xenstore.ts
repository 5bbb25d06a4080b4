import { xenstore } from "../core/commands";
import type { Deadline } from "./clock";
import { CommandError, type Runner } from "./run";

/** The xenstore CLI (xenstore-read/-write/-exists). Relative paths resolve under /local/domain/0. */
export class Xenstore {
  constructor(private readonly run: Runner) {}

  /** Reads several keys in one call; fails if any is missing. */
  async readMany(keys: readonly string[], deadline: Deadline): Promise<string[]> {
    const r = await this.run.run(xenstore.read(...keys), deadline);
    const values = r.stdout.split("\n");
    if (values.length !== keys.length) throw new CommandError(`xenstore-read returned ${values.length} lines for ${keys.length} keys`, xenstore.read(...keys), 0);
    return values;
  }

  async readOptional(key: string, deadline: Deadline): Promise<string | null> {
    const r = await this.run.run(xenstore.read(key), deadline, [0, 1]);
    return r.code === 0 ? r.stdout : null;
  }

  async exists(key: string, deadline: Deadline): Promise<boolean> {
    const r = await this.run.run(xenstore.exists(key), deadline, [0, 1]);
    return r.code === 0;
  }

  /**
   * The devices of every vbd backend of every domain (their `physical-device`, hex major:minor),
   * from one `xenstore-ls -f`. A host with no vbd backend yet has none.
   */
  async backendDevices(deadline: Deadline): Promise<{ backend: string; major: number; minor: number }[]> {
    const root = "/local/domain/0/backend/vbd";
    const r = await this.run.run(xenstore.list(root), deadline, [0, 1]);
    if (r.code !== 0) {
      if (/no such file|ENOENT|could not access/i.test(r.stderr)) return [];
      throw new CommandError(`xenstore-ls -f ${root} failed: ${r.stderr.trim()}`, xenstore.list(root), r.code);
    }
    const out: { backend: string; major: number; minor: number }[] = [];
    for (const line of r.stdout.split("\n")) {
      const m = /^\/local\/domain\/0\/(backend\/vbd\/\d+\/\d+)\/physical-device = "([0-9a-fA-F]+):([0-9a-fA-F]+)"$/.exec(line.trim());
      if (m) out.push({ backend: m[1] as string, major: parseInt(m[2] as string, 16), minor: parseInt(m[3] as string, 16) });
    }
    return out;
  }

  async write(pairs: readonly (readonly [string, string])[], deadline: Deadline): Promise<void> {
    await this.run.run(xenstore.write(pairs), deadline);
  }
}
