import { existsSync, readdirSync, writeFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseSpec } from "../../src/core/spec";
import { IQN, SimHost } from "./simhost";
import { useSimHosts } from "./use-sim";

/**
 * Every input, through the whole process: generated specs, tab.conf, config and CHAP files and
 * xenstore values (bytes that are not UTF-8 included) reach the built executable on the simulated
 * host. It never crashes with a stack trace; bad input exits 2 or 3 (1 under xl, with
 * hotplug-error) with one line that names the bad part; and nothing on the host changes.
 */
const sim = useSimHosts();
const RUNS = 60;
const SPEC = `lun1@${IQN}+my-vm-disk`;

/** What a refused call must leave as it was: the fake's world and our state folders. */
function state(h: SimHost, ignoreXs: (k: string) => boolean = () => false): string {
  const w = h.world();
  const xs = Object.fromEntries(Object.entries(w.xenstore).filter(([k]) => !ignoreXs(k)));
  const files = (dir: string): string[] => (existsSync(h.file(dir)) ? readdirSync(h.file(dir), { recursive: true }).map(String).sort() : []);
  return JSON.stringify({ md: w.md, sessions: w.sessions, nodes: w.nodes, xs, run: files("run/block-iscsimple/attach"), lib: files("var/lib/block-iscsimple") });
}

/** The one-line, no-stack-trace rule, and that the line names what it should. */
function oneCleanLine(stderr: string, names: RegExp): void {
  const lines = stderr.trim().split("\n").filter((l) => !/^block-iscsimple: warning: /.test(l));
  expect(lines, stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/^\s+at |internal error|TypeError|RangeError|SyntaxError/m);
  expect(lines[0]).toMatch(names);
}

const noise = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.string({ unit: "binary", maxLength: 80 }),
  fc.constantFrom("", " ", "\t", "#", ";", "=", "[", "]", "'", '"', "\u0000", "\u001b[31m", "\uFEFF", "..", "/", "+", "@", ":", ","),
);
const mutated = (base: string): fc.Arbitrary<string> =>
  fc.tuple(fc.nat({ max: base.length }), fc.nat({ max: 8 }), noise).map(([at, cut, ins]) => base.slice(0, at) + ins + base.slice(at + cut));

describe("generated input through the built executable", () => {
  it.concurrent("specs (manual add)", async () => {
    const h = sim({ filer: { [IQN]: [0, 1, 2] }, config: "[attach]\ndeadline = 20\n" });
    await fc.assert(
      fc.asyncProperty(fc.oneof(noise, mutated(SPEC), mutated(`lun2@${IQN}`), mutated("MISSING+my-vm-disk")), async (spec) => {
        if (spec.startsWith("-")) return; // an option, not a spec: commander's business
        if (spec.includes("\u0000")) return; // no process argument can hold a NUL byte
        const before = state(h);
        const r = await h.run(["add", spec]);
        let valid = true;
        try {
          parseSpec(spec);
        } catch {
          valid = false;
        }
        if (r.code === 0) {
          expect(valid, `accepted ${JSON.stringify(spec)}`).toBe(true);
          expect((await h.run(["remove", spec])).code).toBe(0);
          return;
        }
        expect([1, 2, 3], r.stderr).toContain(r.code);
        if (!valid) {
          expect(r.code).toBe(2);
          oneCleanLine(r.stderr, /bad target spec|too many arguments|missing required argument|error: /);
        }
        // a refusal changes nothing; a failed step (exit 1: a LUN the filer does not have) undid
        // its work but keeps the node settings it wrote, as documented
        if (r.code !== 1) expect(state(h)).toBe(before);
        else expect(h.leftovers()).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  }, 240_000);

  it.concurrent("tab.conf (bytes, not always UTF-8)", async () => {
    const h = sim();
    const valid = "my-vm-disk /dev/vg0/my-vm-disk\n";
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutated(valid), fc.uint8Array({ maxLength: 120 }).map((b) => Buffer.from(b).toString("latin1"))), async (text) => {
        writeFileSync(h.file("etc/xen/scripts/block-iscsimple-tab.conf"), Buffer.from(text, "latin1"));
        const before = state(h);
        const r = await h.run(["add", SPEC]);
        if (r.code === 0) {
          expect((await h.run(["remove", SPEC])).code).toBe(0);
          return;
        }
        expect([2, 3], r.stderr).toContain(r.code);
        oneCleanLine(r.stderr, /block-iscsimple-tab\.conf|label 'my-vm-disk'/);
        expect(state(h)).toBe(before);
      }),
      { numRuns: RUNS },
    );
  }, 240_000);

  it.concurrent("config and CHAP files", async () => {
    const h = sim();
    const conf = "[iscsi]\nlogin-timeout = 3\n[attach]\ndeadline = 20\n[log]\nfile = none\n";
    const chap = `[${IQN}]\nusername = host1\npassword = Abc#def\n`;
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.oneof(mutated(conf), mutated(chap), fc.uint8Array({ maxLength: 100 }).map((b) => Buffer.from(b).toString("latin1"))), async (isChap, text) => {
        const f = isChap ? "etc/xen/scripts/block-iscsimple-chap.conf" : "etc/xen/scripts/block-iscsimple.conf";
        writeFileSync(h.file(f), Buffer.from(text, "latin1"), { mode: 0o600 });
        const before = state(h);
        const r = await h.run(["add", SPEC]);
        const cleanup = async (): Promise<void> => {
          writeFileSync(h.file(f), "");
          await h.run(["remove", SPEC]);
        };
        if (r.code === 0 || r.code === 1) {
          // valid enough to run (a login refused with the generated secret is exit 1, undone)
          await cleanup();
          return;
        }
        expect(r.code, r.stderr).toBe(2);
        oneCleanLine(r.stderr, isChap ? /block-iscsimple-chap\.conf/ : /block-iscsimple\.conf/);
        expect(r.stderr).not.toContain("Abc#def");
        expect(state(h)).toBe(before);
        await cleanup();
      }),
      { numRuns: RUNS },
    );
  }, 240_000);

  it.concurrent("xenstore values under xl (params and mode, bytes that are not UTF-8 included)", async () => {
    const h = sim();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(noise, mutated(SPEC), fc.uint8Array({ minLength: 1, maxLength: 60 }).map((b) => `\u0000b64:${Buffer.from(b).toString("base64")}`)),
        fc.constantFrom("w", "r", "", "x", "\u0000b64:/w=="),
        async (params, mode) => {
          n += 1;
          const be = h.backend(10 + n, 51712, params, mode);
          const mine = (k: string): boolean => k.includes(`/backend/vbd/${10 + n}/`);
          const before = state(h, mine);
          const r = await h.run(["add"], { xenbus: be });
          if (r.code === 0) {
            expect((await h.run(["remove"], { xenbus: be })).code).toBe(0);
            return;
          }
          expect(r.code, r.stderr).toBe(1);
          const err = h.xs(`${be}/hotplug-error`) ?? "";
          expect(err).toMatch(/^block-iscsimple: [^\n]+$/);
          expect(err).not.toMatch(/[\u0000-\u001f\u007f]/);
          expect(h.xs(`${be}/hotplug-status`)).toBe("error");
          oneCleanLine(r.stderr, /add failed: /);
          expect(state(h, mine)).toBe(before);
          await h.run(["remove"], { xenbus: be });
        },
      ),
      { numRuns: RUNS },
    );
  }, 240_000);
});
