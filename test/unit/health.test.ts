import { describe, expect, it } from "vitest";
import { assessHealth } from "../../src/core/health";
import type { ArrayState, LegState } from "../../src/core/md-state";

const arr = (legs: LegState[], syncAction = "idle", progress: number | null = null): ArrayState => ({ md: "md127", arrayState: "clean", syncAction, progress, degraded: 0, legs });
const iscsi = (...flags: string[]): LegState => ({ device: "sdb", role: "iscsi", flags });
const local = (...flags: string[]): LegState => ({ device: "dm-3", role: "local", flags });

describe("assessHealth", () => {
  it("both legs in sync: both current, no warning", () => {
    expect(assessHealth(arr([iscsi("in_sync", "write_mostly"), local("in_sync")]), true, true, "l")).toMatchObject({ current: "both", warning: null });
  });
  it("the usual attach: the local leg is rebuilt from iSCSI, iSCSI is current, no warning", () => {
    const h = assessHealth(arr([iscsi("in_sync", "write_mostly"), local("spare")], "recover", 42.5), true, true, "l");
    expect(h).toMatchObject({ current: "iscsi", warning: null, local: { state: "recovering", progress: 42.5 } });
  });
  it("iSCSI leg faulty or missing: only the local leg is current, with a plain warning", () => {
    for (const legs of [[iscsi("faulty", "write_mostly"), local("in_sync")], [local("in_sync")]]) {
      const h = assessHealth(arr(legs), true, true, "web1");
      expect(h.current).toBe("local");
      expect(h.warning).toMatch(/^the iSCSI leg of web1 is (faulty|missing): only the local leg is current. Do not migrate this VM or start it on another host until it is healed \(block-iscsimple heal web1\)$/);
    }
  });
  it("iSCSI leg being rebuilt from local: still not current", () => {
    expect(assessHealth(arr([iscsi("write_mostly"), local("in_sync")], "recover", 10), true, true, "l").warning).toMatch(/recovering \(10\.0%\)/);
  });
  it("MISSING legs are 'none', not failures", () => {
    expect(assessHealth(arr([local("in_sync")]), false, true, "l")).toMatchObject({ current: "local", warning: null, iscsi: { state: "none" } });
    expect(assessHealth(arr([iscsi("in_sync")]), true, false, "l")).toMatchObject({ current: "iscsi", warning: null });
  });
});
