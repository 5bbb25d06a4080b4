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

  async write(pairs: readonly (readonly [string, string])[], deadline: Deadline): Promise<void> {
    await this.run.run(xenstore.write(pairs), deadline);
  }
}
