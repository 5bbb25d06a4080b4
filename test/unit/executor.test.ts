import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it, vi } from "vitest";
import { spawnExecutor } from "../../src/host/executor";

const env = { LC_ALL: "C", PATH: "/usr/bin:/bin" };
const run = (argv: string[], timeoutMs = 10_000) => spawnExecutor(argv as [string, ...string[]], { timeoutMs, env }).done;

describe("host commands through node:child_process", () => {
  it("gives the exit status and the output, without a final newline, and never uses a shell", async () => {
    expect(await run(["printf", "a\\nb\\n"])).toMatchObject({ status: 0, stdout: "a\nb", stderr: "", timedOut: false, notFound: false, error: null });
    expect(await run(["false"])).toMatchObject({ status: 1, timedOut: false, error: null });
    // a shell would expand these
    expect((await run(["echo", "$HOME", "*", ";", "true"])).stdout).toBe("$HOME * ; true");
    const r = await run(["ls", "/nonexistent-dir"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/nonexistent-dir/);
  });

  it("a program that is not installed is said so; one that runs out of time is SIGKILLed", async () => {
    expect(await run(["no-such-program-xyz"])).toMatchObject({ status: null, notFound: true, timedOut: false });
    expect(await run(["sleep", "30"], 200)).toMatchObject({ status: null, timedOut: true });
  });

  it("stops a command that floods its output (4 MiB), and a child's own signal death is no timeout", async () => {
    const flood = await run(["head", "-c", String(6 * 1024 * 1024), "/dev/zero"]);
    expect(flood).toMatchObject({ timedOut: false, error: "more than 4194304 bytes of output" });
    const dir = mkdtempSync(path.join(os.tmpdir(), "biexec-"));
    try {
      const self = path.join(dir, "selfkill");
      writeFileSync(self, "#!/bin/sh\nkill -TERM $$\n");
      chmodSync(self, 0o755);
      expect(await run([self])).toMatchObject({ status: null, timedOut: false, error: "killed by SIGTERM" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the environment of a host command", () => {
  it("is the program's own, with the given variables over it", async () => {
    process.env.BI_EXECUTOR_TEST = "kept";
    try {
      const r = await spawnExecutor(["env"], { timeoutMs: 10_000, env: { LC_ALL: "C", PATH: "/usr/bin:/bin" } }).done;
      expect(r.stdout.split("\n")).toEqual(expect.arrayContaining(["BI_EXECUTOR_TEST=kept", "LC_ALL=C", "PATH=/usr/bin:/bin"]));
    } finally {
      delete process.env.BI_EXECUTOR_TEST;
    }
  });
});

describe("a program that cannot start", () => {
  it("leaves no timer behind (spawn's own timeout option kept the process alive until it fired)", async () => {
    // the executor's own timers are faked and counted exactly; the real ones (Node's, the other
    // tests') may only go away meanwhile, never come: a timer left by spawn itself would
    const real = (): number => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = real();
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const r = await spawnExecutor(["no-such-program-xyz"], { timeoutMs: 60_000, env: {} }).done;
      expect(r.notFound).toBe(true);
      expect(vi.getTimerCount()).toBe(0);
      await spawnExecutor(["true"], { timeoutMs: 60_000, env: {} }).done;
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
    expect(real()).toBeLessThanOrEqual(before);
  });
});

import { Timings } from "../../src/host/run";

describe("the timing line", () => {
  it("counts calls of one kind that overlap once (their wall time), and a call ended twice once", () => {
    let clock = 1000;
    const t = new Timings(() => clock);
    const a = t.begin("xenstore");
    clock += 10;
    const b = t.begin("xenstore");
    clock += 50;
    a();
    a();
    clock += 50;
    b();
    // 60 and 100 ms, overlapping from 1000 to 1110: 110 ms, not 160
    expect(t.ms.get("xenstore")).toBe(110);
    const c = t.begin("xenstore");
    clock += 5;
    c();
    expect(t.ms.get("xenstore")).toBe(115);
    expect(t.summary()).toBe("timing: total 115 ms, outside 115 ms, xenstore 115 ms; start-up 1000 ms");
  });
});

describe("the deadline bounds a command and everything it started", () => {
  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it("a child that keeps the pipes open (sh -c 'sleep 60 & echo $!; exec sleep 60'): the group is killed at the deadline, nothing waits for the pipes", async () => {
    const r = await run(["sh", "-c", "sleep 60 & echo $!; exec sleep 60"], 1500);
    expect(r).toMatchObject({ status: null, timedOut: true });
    const bg = Number(r.stdout.trim());
    expect(bg).toBeGreaterThan(0);
    // the background sleep died with its group (a zombie until init reaps it: not alive for kill 0 once reaped)
    for (let i = 0; i < 50 && alive(bg) && !/^\S+ \S+ Z/.test(readStat(bg)); i++) await new Promise((res) => setTimeout(res, 20));
    expect(alive(bg) && !/^\S+ \S+ Z/.test(readStat(bg))).toBe(false);
  }, 20_000);

  it("a command that exits but leaves a child holding its output: its status and output, and the child ends", async () => {
    const r = await run(["sh", "-c", "sleep 60 & echo $!; echo done"], 15_000);
    expect(r).toMatchObject({ status: 0, timedOut: false, error: null });
    const [bg, word] = r.stdout.split("\n");
    expect(word).toBe("done");
    const pid = Number(bg);
    for (let i = 0; i < 50 && alive(pid) && !/^\S+ \S+ Z/.test(readStat(pid)); i++) await new Promise((res) => setTimeout(res, 20));
    expect(alive(pid) && !/^\S+ \S+ Z/.test(readStat(pid))).toBe(false);
  }, 20_000);
});

function readStat(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return "";
  }
}
