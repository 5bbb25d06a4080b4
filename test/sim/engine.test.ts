// The engine in-process (test/sim/inproc.ts): the same adapters and simulated host as the
// whole-process tests, without a process per command, to walk the engine's branches one by one.
import { rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { describeError, EXIT, ProgramError, RefusedError, StepFailed } from "../../src/core/errors";
import type { StepKind } from "../../src/core/plan";
import { parseSpec } from "../../src/core/spec";
import { STEP_TABLE, stepTitle } from "../../src/core/steps";
import type { Owner } from "../../src/core/records";
import { attach, planMirrorNow, planTargetNow } from "../../src/engine/attach";
import { detach } from "../../src/engine/detach";
import { requestFor } from "../../src/engine/request";
import { Budget, Deadline } from "../../src/host/clock";
import { verbOf } from "./fakehost/tools";
import { inProcess, type InProc } from "./inproc";
import { IQN, PORTAL, type SimOptions } from "./simhost";

const made: InProc[] = [];
afterAll(() => {
  for (const p of made) p.sim.cleanup();
});
function env(o: SimOptions = {}): InProc {
  const p = inProcess(o);
  made.push(p);
  return p;
}

const VM = "11111111-2222-3333-4444-555555555555";
function xen(p: InProc, domid: number, devid: number, params: string, vm = VM): Owner {
  const backend = p.sim.backend(domid, devid, params, "w", vm);
  return { kind: "xen", domid, devid, backend, vm };
}

/** The add as xl runs it, in-process: the request from tab.conf and the CHAP file, then attach. */
async function add(p: InProc, params: string, owner: Owner = xen(p, 4, 51712, params), extra: { prefer?: "prefer-local" | "prefer-iscsi" } = {}) {
  const req = await requestFor(p.ctx, { spec: parseSpec(params), owner, writable: true, prefer: extra.prefer ?? null }, true);
  return attach(p.host, req, new Budget(p.ctx.config.deadlineS * 1000, null));
}

/** What `check` plans for a spec: the same request and observe-and-plan functions as an add. */
async function planned(p: InProc, params: string, owner: Owner, prefer: "prefer-local" | "prefer-iscsi" | null = null) {
  const req = await requestFor(p.ctx, { spec: parseSpec(params), owner, writable: true, prefer }, false);
  return [...(await planTargetNow(p.host, req, new Deadline(10_000))), ...(await planMirrorNow(p.host, req, null))];
}

/** The step titles an operation logged, among those given. */
function loggedTitles(p: InProc, titles: readonly string[]): string[] {
  const wanted = new Set(titles);
  return p.logged().map((l) => l.replace(/^.*? test: /, "")).filter((m) => wanted.has(m));
}

/** "tool verb" of each command run so far (the keys of the fake's faults). */
function keysRun(p: InProc): string[] {
  return p.sim.calls().map((c) => {
    const [tool = "", ...args] = c.split(" ");
    const verb = verbOf(tool, args);
    return verb ? `${tool} ${verb}` : tool;
  });
}

describe("the engine in-process", () => {
  const SPEC = `lun1@${IQN}+my-vm-disk`;

  it("check plans exactly the steps the add then runs, in every situation below; together they use every step kind", async () => {
    const seen = new Set<StepKind>();
    const scenario = async (p: InProc, params: string, owner: Owner, prefer?: "prefer-local" | "prefer-iscsi") => {
      const steps = await planned(p, params, owner, prefer ?? null);
      for (const s of steps) seen.add(s.kind);
      const titles = steps.map(stepTitle);
      const before = p.logged().length;
      await add(p, params, owner, { prefer });
      const ran = loggedTitles({ ...p, logged: () => p.logged().slice(before) }, titles);
      expect(ran, params).toEqual(titles);
    };
    // a fresh target with node records; a mirror
    const a = env();
    await scenario(a, SPEC, xen(a, 4, 51712, SPEC));
    // the same target again, another LUN the session did not show yet: a rescan
    a.sim.setWorld((w) => {
      w.filer[IQN]!.luns.push(2);
    });
    await scenario(a, `lun2@${IQN}`, xen(a, 4, 51713, `lun2@${IQN}`));
    // the same VM joining its own array (a migration to localhost)
    await scenario(a, SPEC, xen(a, 5, 51712, SPEC));
    // no node record: discovery on the config's portal, CHAP from the credentials file, resync speed
    const b = env({ nodes: false, config: `[iscsi]\nportals = ${PORTAL}\n[md]\nsync-speed-max = 50000\n` });
    b.sim.put("etc/xen/scripts/block-iscsimple-chap.conf", `[${IQN}]\nusername = u\npassword = pw-1234567890\n`, 0o600);
    b.sim.setWorld((w) => {
      w.filer[IQN]!.chap = { user: "u", pass: "pw-1234567890" };
    });
    await scenario(b, SPEC, xen(b, 4, 51712, SPEC));
    // a guard: --prefer-iscsi clears it; a choice recorded by resolve is used once, then forgotten
    for (const [prefer, decision] of [["prefer-iscsi", undefined], [undefined, "prefer-local"]] as const) {
      const c = env();
      // the guard names the LUN by its WWID (the volume the fake filer maps at lun1)
      await c.host.guard.mark({ label: "my-vm-disk", spec: SPEC, reason: "test", iqn: IQN, lun: 1, wwid: c.sim.lunWwid(IQN, 1), local: null });
      if (decision) await c.host.guard.put({ ...(await c.host.guard.get("my-vm-disk"))!, decision });
      const owner = xen(c, 4, 51712, SPEC);
      const steps = await planned(c, SPEC, owner, prefer ?? null);
      for (const s of steps) seen.add(s.kind);
      await add(c, SPEC, owner, { prefer });
      expect(loggedTitles(c, steps.map(stepTitle))).toEqual(steps.map(stepTitle));
    }
    expect(Object.keys(STEP_TABLE).filter((k) => !seen.has(k as StepKind))).toEqual([]);
  });

  it("any command of an add failing, hanging before or after it acted: the add rolls back to nothing, naming the step", async () => {
    // three hosts: node records there; records iscsiadm knows that are not files under
    // /etc/iscsi/nodes (listed and updated with iscsiadm); none (discovery on the config's portal,
    // CHAP, a resync limit)
    const setups: { opts: SimOptions; prepare: (p: InProc) => void }[] = [
      { opts: {}, prepare: () => undefined },
      { opts: {}, prepare: (p) => rmSync(p.sim.file("etc/iscsi/nodes"), { recursive: true, force: true }) },
      {
        opts: { nodes: false, config: `[iscsi]\nportals = ${PORTAL}\n[md]\nsync-speed-max = 50000\n` },
        prepare: (p) => {
          p.sim.put("etc/xen/scripts/block-iscsimple-chap.conf", `[${IQN}]\nusername = u\npassword = pw-1234567890\n`, 0o600);
          p.sim.setWorld((w) => {
            w.filer[IQN]!.chap = { user: "u", pass: "pw-1234567890" };
          });
        },
      },
    ];
    let cases = 0;
    let failures = 0;
    for (const setup of setups) {
      const first = env(setup.opts);
      setup.prepare(first);
      await add(first, SPEC);
      const keys = [...new Set(keysRun(first))];
      expect(keys).toEqual(expect.arrayContaining(["iscsiadm login", "mdadm build", "mdadm add", "xenstore-write"]));
      if (setup === setups[1]) expect(keys).toEqual(expect.arrayContaining(["iscsiadm node", "iscsiadm update"]));
      for (const key of keys) {
        for (const fault of [{ exit: 1 }, { hang: true }, { hangAfter: true }]) {
          cases += 1;
          const p = env(setup.opts);
          setup.prepare(p);
          const owner = xen(p, 4, 51712, SPEC);
          const steps = await planned(p, SPEC, owner);
          p.sim.faults({ [key]: fault });
          let err: unknown = null;
          await add(p, SPEC, owner).catch((e: unknown) => {
            err = e;
          });
          const what = `${key} ${JSON.stringify(fault)}`;
          if (err === null) {
            // a command whose failure the add may survive: then it must have finished the job
            expect(p.sim.xs(`${owner.kind === "xen" ? owner.backend : ""}/physical-device`), what).toBeDefined();
            expect((await detach(p.host, "vbd-4-51712", new Deadline(10_000)))?.problems, what).toEqual([]);
          } else {
            failures += 1;
            expect(err, what).toBeInstanceOf(ProgramError);
            // a failed step is named by its title; a failure while observing (before a step) says just why
            if (err instanceof StepFailed) {
              const { message, cause } = err;
              const named = steps.map(stepTitle).some((t) => message.startsWith(`${t} failed: `)) || message === (cause as Error).message;
              expect(named, `${what}: ${message}`).toBe(true);
            }
            expect(describeError(err).exitCode, what).toBeGreaterThan(0);
          }
          expect(p.sim.leftovers(), what).toEqual([]);
        }
      }
    }
    console.log(`in-process: ${cases} faulty adds (each command of three kinds of add x 3 faults), ${failures} failed and rolled back`);
    expect(failures).toBeGreaterThan(cases / 2);
  });

  it("a refusal keeps its exit code and its cause through the rollback; so does bad input found by a step", async () => {
    // the local leg is held (an LVM PV, say): refused before anything changes
    const p = env();
    p.sim.blockDevice("/dev/vg0/my-vm-disk", 120, 0, { uuid: "LVM-simvg0000" });
    p.sim.put(`sys/devices/virtual/block/dm-100/holders/dm-7/dev`, "254:7\n");
    const refused = await add(p, SPEC).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RefusedError);
    expect(describeError(refused)).toMatchObject({ exitCode: EXIT.refused });
    expect(p.sim.calls().filter((c) => c.startsWith("iscsiadm") || c.startsWith("mdadm"))).toEqual([]);
    // the config says no multipath, but a map holds the LUN: the step's InputError, kept as the cause
    const m = env({ multipath: {}, config: "[multipath]\nuse = no\n" });
    const failed = await add(m, SPEC).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(StepFailed);
    expect(describeError(failed)).toMatchObject({ exitCode: EXIT.badInput });
    expect((failed as Error).cause).toBeInstanceOf(ProgramError);
    expect((failed as Error).message).toMatch(/^use one path of lun1 \(\[multipath\] use = no\) failed: lun1 .* multipath map/);
    expect(m.sim.leftovers()).toEqual([]);
  });
});
