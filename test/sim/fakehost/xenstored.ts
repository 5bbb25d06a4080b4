// A fake xenstored for the tests: the wire protocol (16-byte header, NUL-separated strings) over a
// unix socket, on a store of absolute path -> value (the simulated host's world, or a Map).
// Enough of it for the program: READ, DIRECTORY, WRITE, transactions (writes applied at commit).
import fs from "node:fs";
import net from "node:net";
import { changeWorld } from "./world.ts";

export interface XsStore {
  /** Runs CHANGE on the store's keys (absolute paths) as one atomic change. */
  change<T>(change: (keys: Record<string, string>) => T): T;
}

export interface FakeXenstoredOptions {
  /** Answer this many commits with EAGAIN first (a transaction that must be retried). */
  eagainCommits?: number;
  /** Never answer requests of these types (a hung xenstored). */
  silentTypes?: number[];
}

/** A store on the simulated host's world (its `xenstore` map), shared with the fake xenstore-* tools. */
export function worldStore(root: string): XsStore {
  return { change: (fn) => changeWorld(root, (w) => fn(w.xenstore)) };
}

export function mapStore(keys: Record<string, string> = {}): XsStore & { keys: Record<string, string> } {
  return { keys, change: (fn) => fn(keys) };
}

export interface FakeXenstored {
  /** Every request, as "TYPE TXID path" (the first string of its payload). */
  readonly requests: string[];
  close(): Promise<void>;
}

const abs = (p: string): string => (p.startsWith("/") ? p : `/local/domain/0/${p}`);

export async function startFakeXenstored(socketPath: string, store: XsStore, opts: FakeXenstoredOptions = {}): Promise<FakeXenstored> {
  fs.mkdirSync(socketPath.replace(/\/[^/]*$/, ""), { recursive: true });
  fs.rmSync(socketPath, { force: true });
  const requests: string[] = [];
  let eagain = opts.eagainCommits ?? 0;
  let nextTx = 1;
  const txs = new Map<number, [string, string][]>();
  const server = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    const reply = (type: number, reqId: number, txId: number, payload: Buffer): void => {
      const h = Buffer.alloc(16);
      h.writeUInt32LE(type, 0);
      h.writeUInt32LE(reqId, 4);
      h.writeUInt32LE(txId, 8);
      h.writeUInt32LE(payload.length, 12);
      sock.write(Buffer.concat([h, payload]));
    };
    sock.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 16 && buf.length >= 16 + buf.readUInt32LE(12)) {
        const type = buf.readUInt32LE(0);
        const reqId = buf.readUInt32LE(4);
        const txId = buf.readUInt32LE(8);
        const payload = buf.subarray(16, 16 + buf.readUInt32LE(12));
        buf = buf.subarray(16 + payload.length);
        const nul = payload.indexOf(0);
        const first = (nul < 0 ? payload : payload.subarray(0, nul)).toString("utf8");
        requests.push(`${type} ${txId} ${first}`);
        if (opts.silentTypes?.includes(type)) continue;
        const err = (name: string): void => reply(16, reqId, txId, Buffer.from(`${name}\0`));
        if (type === 2) {
          // READ: a node with children but no value reads as ""
          const k = abs(first);
          const v = store.change((keys) => (k in keys ? keys[k] : Object.keys(keys).some((x) => x.startsWith(`${k}/`)) ? "" : undefined));
          if (v === undefined) err("ENOENT");
          else reply(2, reqId, txId, Buffer.from(v, "utf8"));
        } else if (type === 1) {
          const k = abs(first);
          const kids = store.change((keys) => [...new Set(Object.keys(keys).filter((x) => x.startsWith(`${k}/`)).map((x) => x.slice(k.length + 1).split("/")[0] as string))]);
          const exists = kids.length > 0 || store.change((keys) => k in keys);
          if (!exists) err("ENOENT");
          else reply(1, reqId, txId, Buffer.from(kids.map((c) => `${c}\0`).join(""), "utf8"));
        } else if (type === 11) {
          const value = nul < 0 ? "" : payload.subarray(nul + 1).toString("utf8");
          if (txId !== 0) {
            const t = txs.get(txId);
            if (!t) {
              err("ENOENT");
              continue;
            }
            t.push([abs(first), value]);
          } else store.change((keys) => void (keys[abs(first)] = value));
          reply(11, reqId, txId, Buffer.from("OK\0"));
        } else if (type === 6) {
          const id = nextTx++;
          txs.set(id, []);
          reply(6, reqId, 0, Buffer.from(`${id}\0`));
        } else if (type === 7) {
          const t = txs.get(txId);
          txs.delete(txId);
          if (!t) err("ENOENT");
          else if (first === "T" && eagain > 0) {
            eagain--;
            err("EAGAIN");
          } else {
            if (first === "T") store.change((keys) => void t.forEach(([k, v]) => (keys[k] = v)));
            reply(7, reqId, 0, Buffer.from("OK\0"));
          }
        } else err("ENOSYS");
      }
    });
    sock.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.unref();
        setImmediate(resolve);
      }),
  };
}
