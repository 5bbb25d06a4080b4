import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SerialByKey } from "../../src/core/serial-by-key";

/** A promise the test settles by hand. */
function gate(): { promise: Promise<void>; open: () => void; fail: (err: Error) => void } {
  let open!: () => void;
  let fail!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    open = res;
    fail = rej;
  });
  return { promise, open, fail };
}
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe("SerialByKey (md's events: one array in order, a few arrays at once)", () => {
  it("a task of another key runs while the first key's task is stuck (a burst of failures: no guard waits for another array's)", async () => {
    const q = new SerialByKey(() => undefined);
    const stuck = gate();
    const ran: string[] = [];
    q.run("/dev/md127", async () => {
      ran.push("md127 start");
      await stuck.promise;
      ran.push("md127 end");
    });
    q.run("/dev/md126", () => {
      ran.push("md126");
      return Promise.resolve();
    });
    await turn();
    expect(ran).toEqual(["md127 start", "md126"]);
    expect(q.busy).toBe(1);
    stuck.open();
    await q.idle();
    expect(ran).toEqual(["md127 start", "md126", "md127 end"]);
    expect(q.busy).toBe(0);
  });

  it("the tasks of one key run in the order given, one at a time", async () => {
    const q = new SerialByKey(() => undefined);
    const first = gate();
    const ran: string[] = [];
    q.run("md", async () => {
      ran.push("Fail start");
      await first.promise;
      ran.push("Fail end");
    });
    q.run("md", () => {
      ran.push("SpareActive");
      return Promise.resolve();
    });
    await turn();
    expect(ran).toEqual(["Fail start"]);
    first.open();
    await q.idle();
    expect(ran).toEqual(["Fail start", "Fail end", "SpareActive"]);
  });

  it("a failed task is reported and the key's next task still runs; a report that throws stops nothing", async () => {
    const errors: string[] = [];
    const q = new SerialByKey((key, err) => {
      errors.push(`${key}: ${(err as Error).message}`);
      throw new Error("the report failed too");
    });
    const ran: string[] = [];
    const bad = gate();
    q.run("md", () => bad.promise);
    q.run("md", () => {
      ran.push("next");
      return Promise.resolve();
    });
    bad.fail(new Error("no such array"));
    await q.idle();
    expect(errors).toEqual(["md: no such array"]);
    expect(ran).toEqual(["next"]);
    expect(q.busy).toBe(0);
  });

  it("at most LIMIT tasks at once: the next array waits for a slot, and gets the first one freed", async () => {
    const q = new SerialByKey(() => undefined, 2);
    const gates = [gate(), gate(), gate()];
    const ran: string[] = [];
    gates.forEach((g, i) => {
      q.run(`md${i}`, async () => {
        ran.push(`md${i} start`);
        await g.promise;
      });
    });
    await turn();
    expect(ran).toEqual(["md0 start", "md1 start"]);
    gates[1]!.open();
    await turn();
    expect(ran).toEqual(["md0 start", "md1 start", "md2 start"]);
    gates[0]!.open();
    gates[2]!.open();
    await q.idle();
    expect(q.busy).toBe(0);
    expect(() => new SerialByKey(() => undefined, 0)).toThrow(RangeError);
  });

  it("a task waiting for its array's previous one holds no slot (a busy array cannot take them all)", async () => {
    const q = new SerialByKey(() => undefined, 2);
    const first = gate();
    const ran: string[] = [];
    q.run("md0", async () => {
      ran.push("md0 first");
      await first.promise;
    });
    q.run("md0", () => {
      ran.push("md0 second");
      return Promise.resolve();
    });
    q.run("md1", () => {
      ran.push("md1");
      return Promise.resolve();
    });
    await turn();
    expect(ran).toEqual(["md0 first", "md1"]);
    first.open();
    await q.idle();
    expect(ran).toEqual(["md0 first", "md1", "md0 second"]);
  });

  it("a task that fails, even before its first await, gives its slot back", async () => {
    const q = new SerialByKey(() => undefined, 1);
    const ran: string[] = [];
    q.run("md0", () => {
      throw new Error("at once");
    });
    q.run("md1", () => Promise.reject(new Error("later")));
    q.run("md2", () => {
      ran.push("md2");
      return Promise.resolve();
    });
    await turn();
    expect(ran).toEqual(["md2"]);
    await q.idle();
  });

  it("waiting tasks get slots in the order they became free to run", async () => {
    const q = new SerialByKey(() => undefined, 2);
    const gates = [gate(), gate(), gate(), gate()];
    const ran: string[] = [];
    gates.forEach((g, i) => {
      q.run(`md${i}`, async () => {
        ran.push(`md${i}`);
        await g.promise;
      });
    });
    await turn();
    expect(ran).toEqual(["md0", "md1"]);
    expect(q.busy).toBe(4);
    gates[0]!.open();
    await turn();
    expect(ran).toEqual(["md0", "md1", "md2"]);
    for (const g of gates) g.open();
    await q.idle();
    expect(ran).toEqual(["md0", "md1", "md2", "md3"]);
  });

  it("idle waits for the tasks given while it waits", async () => {
    const q = new SerialByKey(() => undefined);
    const ran: string[] = [];
    q.run("a", async () => {
      await turn();
      q.run("b", async () => {
        await turn();
        ran.push("b");
      });
      ran.push("a");
    });
    await q.idle();
    expect(ran).toEqual(["a", "b"]);
  });

  it("any interleaving: per key, every task runs once, in order, never two at once; never more than LIMIT in all", async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.integer({ min: 1, max: 3 }), fc.array(fc.tuple(fc.constantFrom("md124", "md125", "md126", "md127"), fc.nat({ max: 3 })), { maxLength: 25 }), async (s, limit, tasks) => {
        const failures: unknown[] = [];
        const q = new SerialByKey((_key, err) => failures.push(err), limit);
        const running = new Map<string, number>();
        const order = new Map<string, number[]>();
        let most = 0;
        tasks.forEach(([key, steps], i) => {
          q.run(key, async () => {
            expect(running.get(key) ?? 0).toBe(0);
            running.set(key, 1);
            most = Math.max(most, [...running.values()].filter((n) => n > 0).length);
            order.set(key, [...(order.get(key) ?? []), i]);
            for (let k = 0; k < steps; k++) await s.schedule(Promise.resolve());
            running.set(key, 0);
          });
        });
        const done = q.idle();
        await s.waitFor(done);
        for (const [key, ids] of order) {
          const given = tasks.map(([k], i) => (k === key ? i : -1)).filter((i) => i >= 0);
          expect(ids).toEqual(given);
        }
        expect([...order.values()].flat().length).toBe(tasks.length);
        expect(q.busy).toBe(0);
        expect(failures).toEqual([]);
        expect(most).toBeLessThanOrEqual(limit);
      }),
      { numRuns: 100 },
    );
  });
});
