import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Argv } from "../../src/core/commands";
import { encodeXs, XsDecoder, type XsMessage } from "../../src/core/xs-wire";
import { Deadline } from "../../src/host/clock";
import { Log } from "../../src/host/log";
import { Runner, type Executor } from "../../src/host/run";
import { Xenstore } from "../../src/host/xenstore";
import { mapStore, startFakeXenstored, type FakeXenstored, type FakeXenstoredOptions } from "../sim/fakehost/xenstored";

const msg = fc.record({
  type: fc.integer({ min: 0, max: 30 }),
  reqId: fc.integer({ min: 0, max: 0xffffffff }),
  txId: fc.integer({ min: 0, max: 0xffffffff }),
  payload: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
});

describe("the xenstore wire codec", () => {
  it("messages cut anywhere in the stream come out whole and in order", () => {
    fc.assert(
      fc.property(fc.array(msg, { maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }), (ms, cuts) => {
        const stream = Buffer.concat(ms.map((m) => encodeXs(m)));
        const d = new XsDecoder();
        const out: XsMessage[] = [];
        let at = 0;
        for (let i = 0; at < stream.length; i++) {
          const n = cuts[i % cuts.length] as number;
          out.push(...d.push(stream.subarray(at, at + n)));
          at += n;
        }
        expect(out).toEqual(ms);
      }),
    );
  });

  it("a length over the protocol's 4096 bytes is a broken stream, not a 4 GiB wait", () => {
    const h = Buffer.alloc(16);
    h.writeUInt32LE(2, 0);
    h.writeUInt32LE(0x7fffffff, 12);
    expect(() => new XsDecoder().push(h)).toThrow(/not the xenstore protocol/);
    expect(() => encodeXs({ type: 11, reqId: 1, txId: 0, payload: Buffer.alloc(4097) })).toThrow(/at most 4096/);
  });
});

describe("xenstore through xenstored's socket", () => {
  let dir = "";
  let server: FakeXenstored | null = null;
  afterEach(async () => {
    await server?.close();
    server = null;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const log = new Log({ verbose: false, syslog: false, file: null, context: "test" });
  /** A Xenstore on a fake xenstored; every host command it would start is recorded (none, on the socket). */
  async function setUp(keys: Record<string, string>, opts: FakeXenstoredOptions = {}, socket = true) {
    dir = mkdtempSync(path.join(os.tmpdir(), "bixs-"));
    const sock = path.join(dir, "socket");
    const store = mapStore(keys);
    if (socket) server = await startFakeXenstored(sock, store, opts);
    const started: Argv[] = [];
    const exec: Executor = (argv) => {
      started.push(argv);
      return { pid: undefined, done: Promise.resolve({ status: 0, stdout: "", stderr: "", timedOut: false, notFound: false, error: null }) };
    };
    const xs = new Xenstore(new Runner(log, "/nonexistent", exec), log, sock);
    return { xs, store, started };
  }

  const be = "backend/vbd/3/51712";
  const full = `/local/domain/0/${be}`;

  it("reads, tells absent keys, and lists the vbd backends' devices without starting a process", async () => {
    const { xs, started } = await setUp({
      [`${full}/params`]: "lun1@iqn.2014-06.fr.example:x+disk",
      [`${full}/mode`]: "w",
      "/local/domain/0/backend/vbd/4/51713/physical-device": "fd:3",
      "/local/domain/0/backend/vbd/4/51714/params": "other",
      "/local/domain/3/vm": "/vm/11111111-2222-3333-4444-555555555555",
    });
    const d = new Deadline(5000);
    expect(await xs.readMany([`${be}/params`, `${be}/mode`], d)).toEqual(["lun1@iqn.2014-06.fr.example:x+disk", "w"]);
    expect(await xs.readOptional("/local/domain/3/vm", d)).toBe("/vm/11111111-2222-3333-4444-555555555555");
    expect(await xs.readOptional(`${be}/physical-device`, d)).toBeNull();
    expect(await xs.exists(`${be}/physical-device`, d)).toBe(false);
    expect(await xs.exists(be, d)).toBe(true);
    await expect(xs.readMany([`${be}/params`, `${be}/nope`], d)).rejects.toThrow(/read backend\/vbd\/3\/51712\/nope: ENOENT/);
    expect(await xs.backendDevices(d)).toEqual([{ backend: "backend/vbd/4/51713", major: 0xfd, minor: 3 }]);
    expect(started).toEqual([]);
    await xs.close();
  });

  it("writes the published keys in one transaction: none is visible before the commit", async () => {
    const { xs, store } = await setUp({});
    await xs.write(
      [
        [`${be}/physical-device`, "9:7f"],
        [`${be}/physical-device-path`, "/dev/md/disk"],
        [`${be}/hotplug-status`, "connected"],
      ],
      new Deadline(5000),
    );
    expect(store.keys).toEqual({ [`${full}/physical-device`]: "9:7f", [`${full}/physical-device-path`]: "/dev/md/disk", [`${full}/hotplug-status`]: "connected" });
    // the writes carry the transaction's id (1, from this xenstored): applied together at its end
    expect(server?.requests.map((r) => r.split(" ").slice(0, 2).join(" "))).toEqual(["6 0", "11 1", "11 1", "11 1", "7 1"]);
    await xs.close();
  });

  it("a commit xenstored answers EAGAIN is tried again, a few times only", async () => {
    const ok = await setUp({}, { eagainCommits: 2 });
    await ok.xs.write([[`${be}/hotplug-status`, "connected"]], new Deadline(5000));
    expect(ok.store.keys[`${full}/hotplug-status`]).toBe("connected");
    await ok.xs.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
    const never = await setUp({}, { eagainCommits: 100 });
    await expect(never.xs.write([[`${be}/hotplug-status`, "connected"]], new Deadline(5000))).rejects.toThrow(/transaction commit: EAGAIN/);
    expect(never.store.keys).toEqual({});
    await never.xs.close();
  });

  it("a xenstored that does not answer fails the call at its deadline", async () => {
    const { xs } = await setUp({}, { silentTypes: [2] });
    await expect(xs.readOptional(`${be}/params`, new Deadline(300))).rejects.toThrow(/no answer from xenstored within 0\.3 s/);
  });

  it("without a xenstored on the socket, the xenstore-* tools do the work", async () => {
    const { xs, started } = await setUp({}, {}, false);
    await xs.write([[`${be}/hotplug-status`, "connected"]], new Deadline(5000));
    expect(await xs.exists(`${be}/x`, new Deadline(5000))).toBe(true);
    expect(started).toEqual([
      ["xenstore-write", `${be}/hotplug-status`, "connected"],
      ["xenstore-exists", `${be}/x`],
    ]);
  });
});
