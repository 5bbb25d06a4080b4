import { describe, expect, it } from "vitest";
import { describeQueueing, judgeQueueing, parseMapReport, validMapName } from "../../src/core/multipath";

describe("parseMapReport", () => {
  it("reads multipathd's raw map lines and skips anything else", () => {
    const out = "mpatha|mpath-360000000000000000e00000000010001|off|2|0\nmpathb|mpath-3600a|12 chk|1|1 queue_if_no_path\nname|uuid|queueing|paths|features\ngarbage\n";
    expect(parseMapReport(out)).toEqual([
      { name: "mpatha", wwid: "360000000000000000e00000000010001", queueing: "off", activePaths: 2, features: "0" },
      { name: "mpathb", wwid: "3600a", queueing: "12 chk", activePaths: 1, features: "1 queue_if_no_path" },
    ]);
  });
});

describe("judgeQueueing", () => {
  it.each([
    ["off", "0", "fails"],
    ["on", "0", "forever"],
    ["-", "1 queue_if_no_path", "forever"],
    ["-", "0", "fails"],
    ["5 chk", "1 queue_if_no_path", "bounded"],
    ["12 sec", "1 queue_if_no_path", "bounded"],
  ])("%%Q %j with features %j: %s", (queueing, features, kind) => {
    expect(judgeQueueing({ queueing, features }).kind).toBe(kind);
  });
  it("says what it means", () => {
    expect(describeQueueing(judgeQueueing({ queueing: "5 chk", features: "" }))).toBe("queues I/O for 5 path checks when no path is left, then fails it");
    expect(describeQueueing(judgeQueueing({ queueing: "7 sec", features: "" }))).toBe("no path left: queueing, failing I/O in 7 s");
  });
});

describe("validMapName", () => {
  it.each(["mpatha", "36001405abcdef", "san_lun-1.0"])("accepts %j", (n) => expect(validMapName(n)).toBe(true));
  it.each(["", "-f", "a b", "../x", "a;b", "x".repeat(129)])("refuses %j", (n) => expect(validMapName(n)).toBe(false));
});
