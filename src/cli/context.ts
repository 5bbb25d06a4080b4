import { loadContext, type Context, type GlobalOptions } from "../engine/context";

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
