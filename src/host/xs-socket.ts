import net from "node:net";
import { FailedError } from "../core/errors";
import { encodeXs, errorName, XS, XsDecoder, type XsMessage } from "../core/xs-wire";
import type { Deadline } from "./clock";

/** xenstored answered with an error (its errno name: ENOENT, EACCES, EAGAIN...). */
export class XsError extends FailedError {
  constructor(
    readonly errno: string,
    what: string,
  ) {
    super(`xenstore ${what}: ${errno}`);
  }
}

interface Pending {
  readonly resolve: (m: XsMessage) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
  readonly what: string;
}

/**
 * One connection to xenstored's unix socket, requests matched to replies by id. The socket keeps
 * the process alive only while a request waits. A request that outlives its deadline breaks the
 * connection (a late reply must never be taken for the next request's).
 */
export class XsSocket {
  private readonly decoder = new XsDecoder();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private broken: Error | null = null;

  private constructor(
    private readonly sock: net.Socket,
    readonly path: string,
  ) {
    sock.on("data", (chunk: Buffer) => {
      let messages: XsMessage[];
      try {
        messages = this.decoder.push(chunk);
      } catch (err) {
        this.fail(err as Error);
        return;
      }
      for (const m of messages) {
        if (m.type === XS.WATCH_EVENT) continue; // we set no watch
        const p = this.pending.get(m.reqId);
        if (!p) continue;
        this.pending.delete(m.reqId);
        clearTimeout(p.timer);
        if (m.type === XS.ERROR) p.reject(new XsError(errorName(m.payload), p.what));
        else p.resolve(m);
      }
      if (this.pending.size === 0) this.sock.unref();
    });
    sock.on("error", (err) => this.fail(new FailedError(`xenstored socket ${path}: ${err.message}`, { cause: err })));
    sock.on("close", () => this.fail(new FailedError(`xenstored closed the connection (${path})`)));
    sock.unref();
  }

  /** Connects, or fails with the system's error (its `code`: ENOENT, ECONNREFUSED, EACCES...). */
  static connect(path: string, deadline: Deadline): Promise<XsSocket> {
    return new Promise((resolve, reject) => {
      const sock = net.createConnection({ path });
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new FailedError(`xenstored socket ${path}: no connection within ${(deadline.remainingMs() / 1000).toFixed(1)} s`));
      }, Math.max(1, deadline.remainingMs()));
      sock.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      sock.once("connect", () => {
        clearTimeout(timer);
        sock.removeAllListeners("error");
        resolve(new XsSocket(sock, path));
      });
    });
  }

  request(type: number, payload: Buffer, txId: number, deadline: Deadline, what: string): Promise<XsMessage> {
    if (this.broken) return Promise.reject(this.broken);
    const reqId = this.nextId++;
    const ms = deadline.remainingMs();
    if (ms <= 0) return Promise.reject(new FailedError(`xenstore ${what}: not sent, the deadline has passed`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new FailedError(`xenstore ${what}: no answer from xenstored within ${(ms / 1000).toFixed(1)} s`)), ms);
      this.pending.set(reqId, { resolve, reject, timer, what });
      this.sock.ref();
      this.sock.write(encodeXs({ type, reqId, txId, payload }));
    });
  }

  close(): void {
    this.broken ??= new FailedError("xenstore connection closed");
    this.sock.destroy();
  }

  private fail(err: Error): void {
    this.broken ??= err;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(this.broken);
    }
    this.sock.destroy();
  }
}
