import { FailedError, InternalError } from "./errors";

/**
 * The xenstore wire protocol (Xen's docs/misc/xenstore.txt, xs_wire.h): each message is a 16-byte
 * header of four little-endian 32-bit words (type, request id, transaction id, payload length) and
 * the payload. Strings in a request end with NUL; a value written is the rest of the payload. Pure:
 * the socket is in host/xs-socket.ts.
 */
export const XS = {
  DIRECTORY: 1,
  READ: 2,
  TRANSACTION_START: 6,
  TRANSACTION_END: 7,
  WRITE: 11,
  WATCH_EVENT: 15,
  ERROR: 16,
} as const;

/** The longest payload xenstored takes or sends (XENSTORE_PAYLOAD_MAX). */
export const XS_PAYLOAD_MAX = 4096;
const HEADER = 16;

export interface XsMessage {
  readonly type: number;
  readonly reqId: number;
  readonly txId: number;
  readonly payload: Buffer;
}

export function encodeXs(m: XsMessage): Buffer {
  if (m.payload.length > XS_PAYLOAD_MAX) throw new InternalError(`xenstore request of ${m.payload.length} bytes (at most ${XS_PAYLOAD_MAX})`);
  const h = Buffer.alloc(HEADER);
  h.writeUInt32LE(m.type, 0);
  h.writeUInt32LE(m.reqId >>> 0, 4);
  h.writeUInt32LE(m.txId >>> 0, 8);
  h.writeUInt32LE(m.payload.length, 12);
  return Buffer.concat([h, m.payload]);
}

/** Cuts a byte stream into messages; a length over the protocol's limit is a broken stream. */
export class XsDecoder {
  private buf: Buffer = Buffer.alloc(0);
  push(chunk: Buffer): XsMessage[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: XsMessage[] = [];
    while (this.buf.length >= HEADER) {
      const len = this.buf.readUInt32LE(12);
      if (len > XS_PAYLOAD_MAX) throw new FailedError(`xenstored sent a message of ${len} bytes (at most ${XS_PAYLOAD_MAX}): not the xenstore protocol`);
      if (this.buf.length < HEADER + len) break;
      out.push({ type: this.buf.readUInt32LE(0), reqId: this.buf.readUInt32LE(4), txId: this.buf.readUInt32LE(8), payload: Buffer.from(this.buf.subarray(HEADER, HEADER + len)) });
      this.buf = this.buf.subarray(HEADER + len);
    }
    return out;
  }
}

/** A path argument: the path and its NUL. A path is never empty and holds no NUL. */
export function pathArg(path: string): Buffer {
  if (path === "" || path.includes("\0")) throw new InternalError(`bad xenstore path ${JSON.stringify(path)}`);
  return Buffer.from(`${path}\0`, "utf8");
}

/** A write's payload: the path, its NUL, then the value's bytes (no NUL after it). */
export function writeArg(path: string, value: string): Buffer {
  return Buffer.concat([pathArg(path), Buffer.from(value, "utf8")]);
}

/** The names a DIRECTORY reply lists (each ends with NUL). */
export function directoryNames(payload: Buffer): string[] {
  const s = payload.toString("utf8");
  return s === "" ? [] : s.split("\0").filter((x) => x !== "");
}

/** An ERROR reply's errno name (ENOENT, EACCES, EAGAIN...). */
export function errorName(payload: Buffer): string {
  const s = payload.toString("latin1").replace(/\0.*$/s, "");
  return /^E[A-Z0-9]{1,15}$/.test(s) ? s : "EINVAL";
}

/** A reply's text up to its NUL (a transaction id, "OK"). */
export function replyText(payload: Buffer): string {
  return payload.toString("utf8").replace(/\0.*$/s, "");
}
