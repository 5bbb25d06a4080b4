import { FailedError } from "../core/errors";
import { loadContext, type Context, type GlobalOptions } from "../engine/context";

/** The commands that look at or change the host's disks, state and iSCSI records need root. */
export function requireRoot(command: string): void {
  if (typeof process.getuid === "function" && process.getuid() !== 0) throw new FailedError(`${command} must be run as root`);
}

export type { Context, GlobalOptions };

/**
 * Runs a command with its context (config, log, host adapters) and closes the log afterwards,
 * whatever happens: the one owner of a context's lifetime.
 */
export async function withContext<T>(opts: GlobalOptions, name: string, fn: (ctx: Context) => Promise<T>): Promise<T> {
  const ctx = loadContext(opts, name);
  try {
    return await fn(ctx);
  } finally {
    await ctx.log.close();
  }
}
