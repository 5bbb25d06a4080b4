import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { iscsiadm, mdadm } from "../../src/core/commands";
import { InputError } from "../../src/core/errors";
import { parseSpec } from "../../src/core/spec";
import { DEVICE_RE, parseTab } from "../../src/core/tab";

/** What may reach a command line: no shell or path metacharacters, no option injection. */
const SAFE_IQN = /^(?:iqn\.[a-z0-9.:-]+|eui\.[0-9A-Fa-f]{16}|naa\.[0-9A-Fa-f]{16,32})$/;
const SAFE_LABEL = /^[A-Za-z0-9_-]{1,64}$/;

const specChars = fc.constantFrom(..."iqn.2014-06:abcXYZ019@+_-/ ;$`'\"\\\n\t*?~%lunMISSINGeuiNAA.".split(""));
const specLike = fc.oneof(
  fc.string({ maxLength: 120 }),
  fc.string({ unit: specChars, maxLength: 120 }),
  fc.tuple(fc.constantFrom("", "lun0@", "lun12@", "lun@", "lun-1@"), fc.string({ unit: specChars, maxLength: 60 }), fc.constantFrom("", "+", "+web1", "+a/b")).map((t) => t.join("")),
);

describe("property: no spec or tab.conf line crashes the parser or reaches a command line unvalidated", () => {
  it("parseSpec either throws a InputError or returns only safe values", () => {
    fc.assert(
      fc.property(specLike, (input) => {
        let spec;
        try {
          spec = parseSpec(input);
        } catch (err) {
          expect(err).toBeInstanceOf(InputError);
          expect((err as Error).message).not.toMatch(/\n/);
          return;
        }
        if (spec.iqn !== null) {
          expect(spec.iqn).toMatch(SAFE_IQN);
          expect(spec.iqn.startsWith("-")).toBe(false);
          for (const arg of iscsiadm.login(spec.iqn)) expect(arg).not.toMatch(/[\s;$`'"\\]/);
        }
        if (spec.label !== null) {
          expect(spec.label).toMatch(SAFE_LABEL);
          expect(mdadm.build(`/dev/md/${spec.label}`, "/dev/sdb", null)[2]).toBe(`/dev/md/${spec.label}`);
        }
        expect(Number.isInteger(spec.lun) && spec.lun >= 0 && spec.lun <= 16383).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it("parseTab either throws a InputError naming file:line or returns safe labels and devices", () => {
    const line = fc.oneof(fc.string({ maxLength: 80 }), fc.tuple(fc.string({ unit: specChars, maxLength: 20 }), fc.constantFrom(" ", "\t", "  "), fc.oneof(fc.constant("/dev/"), fc.constant("MISSING")).chain((p) => fc.string({ unit: specChars, maxLength: 30 }).map((s) => p + s))).map((t) => t.join("")));
    fc.assert(
      fc.property(fc.array(line, { maxLength: 6 }), (lines) => {
        let tab;
        try {
          tab = parseTab(lines.join("\n"), "tab.conf");
        } catch (err) {
          expect(err).toBeInstanceOf(InputError);
          expect((err as Error).message).toMatch(/^tab\.conf:\d+: /);
          return;
        }
        for (const e of tab.values()) {
          expect(e.label).toMatch(SAFE_LABEL);
          if (e.device !== null) {
            expect(e.device).toMatch(DEVICE_RE);
            expect(e.device.split("/")).not.toContain("..");
          }
        }
      }),
      { numRuns: 3000 },
    );
  });
});

import path from "node:path";
import { join } from "../../src/host/sysfs";

describe("join (the scans' path.join without needless normalisation)", () => {
  it("gives path.join's result for any parts", () => {
    const part = fc.array(fc.constantFrom("a", "sys", "b.c", ".", "..", "/", "", "x/y", "/dev", "fd/"), { maxLength: 4 }).map((xs) => xs.join(""));
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 5 }), (parts) => {
        expect(join(...parts)).toBe(path.join(...parts));
      }),
      { numRuns: 5000 },
    );
  });
});
