import { xenstore } from "../core/commands";
import { directoryNames, pathArg, replyText, writeArg, XS } from "../core/xs-wire";
import type { Deadline } from "./clock";
import type { Log } from "./log";
import { CommandError, type Runner } from "./run";
import { XsError, XsSocket } from "./xs-socket";

export interface BackendDevice {
  readonly backend: string;
  readonly major: number;
  readonly minor: number;
}

const VBD_ROOT = "/local/domain/0/backend/vbd";
/** Errors of the socket itself that mean "no xenstored listens here": use the tools instead. */
const NO_DAEMON = new Set(["ENOENT", "ECONNREFUSED", "ENOTSOCK", "ENOTDIR"]);
/** A transaction xenstored could not commit (EAGAIN: something else wrote meanwhile) is retried. */
const TX_TRIES = 5;

/**
 * xenstore, spoken directly to xenstored's socket (Xen's wire protocol): no process per access, and
 * the keys of `write` in one transaction. Where no xenstored listens on the socket (a xenstore
 * stub domain, a host without Xen), the xenstore-* tools do the same. Relative paths resolve under
 * /local/domain/0 (dom0's home), for both.
 */
export class Xenstore {
  private wire: Promise<XsSocket | null> | null = null;
  constructor(
    private readonly run: Runner,
    private readonly log: Log | null = null,
    /** xenstored's socket; null: the tools only. */
    private readonly socketPath: string | null = null,
  ) {}

  /** Reads several keys; fails if any is missing. */
  async readMany(keys: readonly string[], deadline: Deadline): Promise<string[]> {
    const xs = await this.socket(deadline);
    if (xs) return this.timed(`read ${keys.join(" ")}`, () => Promise.all(keys.map((k) => readKey(xs, k, deadline))));
    const r = await this.run.run(xenstore.read(...keys), deadline);
    const values = r.stdout.split("\n");
    if (values.length !== keys.length) throw new CommandError(`xenstore-read returned ${values.length} lines for ${keys.length} keys`, xenstore.read(...keys), 0);
    return values;
  }

  async readOptional(key: string, deadline: Deadline): Promise<string | null> {
    const xs = await this.socket(deadline);
    if (xs) return this.timed(`read ${key}`, () => absentAsNull(readKey(xs, key, deadline)));
    const r = await this.run.run(xenstore.read(key), deadline, [0, 1]);
    return r.code === 0 ? r.stdout : null;
  }

  async exists(key: string, deadline: Deadline): Promise<boolean> {
    if (await this.socket(deadline)) return (await this.readOptional(key, deadline)) !== null;
    const r = await this.run.run(xenstore.exists(key), deadline, [0, 1]);
    return r.code === 0;
  }

  /** The devices of every vbd backend of every domain (their `physical-device`, hex major:minor). */
  async backendDevices(deadline: Deadline): Promise<BackendDevice[]> {
    const xs = await this.socket(deadline);
    if (xs) return this.timed(`list ${VBD_ROOT}`, () => this.backendDevicesWire(xs, deadline));
    const r = await this.run.run(xenstore.list(VBD_ROOT), deadline, [0, 1]);
    if (r.code !== 0) {
      if (/no such file|ENOENT|could not access/i.test(r.stderr)) return [];
      throw new CommandError(`xenstore-ls -f ${VBD_ROOT} failed: ${r.stderr.trim()}`, xenstore.list(VBD_ROOT), r.code);
    }
    const out: BackendDevice[] = [];
    for (const line of r.stdout.split("\n")) {
      const m = /^\/local\/domain\/0\/(backend\/vbd\/\d+\/\d+)\/physical-device = "([0-9a-fA-F]+):([0-9a-fA-F]+)"$/.exec(line.trim());
      if (m) out.push({ backend: m[1] as string, ...hexPair(m[2] as string, m[3] as string) });
    }
    return out;
  }

  /** Writes the keys together: one transaction on the socket (retried if xenstored says EAGAIN). */
  async write(pairs: readonly (readonly [string, string])[], deadline: Deadline): Promise<void> {
    const xs = await this.socket(deadline);
    if (!xs) {
      await this.run.run(xenstore.write(pairs), deadline);
      return;
    }
    await this.timed(`write ${pairs.map(([k]) => k).join(" ")}`, async () => {
      for (let attempt = 1; ; attempt++) {
        const tx = Number(replyText((await xs.request(XS.TRANSACTION_START, Buffer.from("\0"), 0, deadline, "transaction start")).payload));
        try {
          await Promise.all(pairs.map(([k, v]) => xs.request(XS.WRITE, writeArg(k, v), tx, deadline, `write ${k}`)));
        } catch (err) {
          await xs.request(XS.TRANSACTION_END, Buffer.from("F\0"), tx, deadline, "transaction abort").catch(() => undefined);
          throw err;
        }
        try {
          await xs.request(XS.TRANSACTION_END, Buffer.from("T\0"), tx, deadline, "transaction commit");
          return;
        } catch (err) {
          if (!(err instanceof XsError && err.errno === "EAGAIN") || attempt >= TX_TRIES) throw err;
        }
      }
    });
  }

  /** Closes the connection, if any (the process may go on without it). */
  async close(): Promise<void> {
    const xs = await this.wire?.catch(() => null);
    xs?.close();
  }

  private async backendDevicesWire(xs: XsSocket, deadline: Deadline): Promise<BackendDevice[]> {
    const list = (p: string): Promise<string[]> => absentAsNull(xs.request(XS.DIRECTORY, pathArg(p), 0, deadline, `directory ${p}`).then((m) => directoryNames(m.payload))).then((n) => n ?? []);
    const domids = (await list(VBD_ROOT)).filter((d) => /^\d{1,5}$/.test(d));
    const devs = (await Promise.all(domids.map(async (d) => (await list(`${VBD_ROOT}/${d}`)).filter((v) => /^\d{1,10}$/.test(v)).map((v) => `backend/vbd/${d}/${v}`)))).flat();
    const out: BackendDevice[] = [];
    await Promise.all(
      devs.map(async (backend) => {
        const pd = await absentAsNull(readKey(xs, `/local/domain/0/${backend}/physical-device`, deadline));
        const m = pd === null ? null : /^([0-9a-fA-F]+):([0-9a-fA-F]+)$/.exec(pd.trim());
        if (m) out.push({ backend, ...hexPair(m[1] as string, m[2] as string) });
      }),
    );
    return out.sort((a, b) => a.backend.localeCompare(b.backend));
  }

  /** The connection, opened on first use; null when no xenstored listens there (then the tools). */
  private socket(deadline: Deadline): Promise<XsSocket | null> {
    if (this.socketPath === null) return Promise.resolve(null);
    const path = this.socketPath;
    this.wire ??= XsSocket.connect(path, deadline).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== undefined && NO_DAEMON.has(err.code)) {
        this.log?.command(`xenstored socket ${path}: ${err.code}; using the xenstore-* tools`);
        return null;
      }
      throw err;
    });
    return this.wire;
  }

  private async timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    const timed = this.run.timings.begin("xenstore");
    let ok = false;
    try {
      const v = await fn();
      ok = true;
      return v;
    } finally {
      const ms = performance.now() - t0;
      timed();
      this.log?.command(`xenstore ${what}: ${ok ? "done" : "failed"} in ${Math.round(ms)} ms`);
    }
  }
}

function hexPair(major: string, minor: string): { major: number; minor: number } {
  return { major: parseInt(major, 16), minor: parseInt(minor, 16) };
}

/** One key's value (XS_READ); xenstored's ENOENT when it is not there. */
async function readKey(xs: XsSocket, key: string, deadline: Deadline): Promise<string> {
  return replyText((await xs.request(XS.READ, pathArg(key), 0, deadline, `read ${key}`)).payload);
}

/** ENOENT from xenstored is "not there": null. */
async function absentAsNull<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof XsError && err.errno === "ENOENT") return null;
    throw err;
  }
}
