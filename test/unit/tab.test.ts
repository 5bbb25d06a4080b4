import { describe, expect, it } from "vitest";
import { lookupLabel, parseTab } from "../../src/core/tab";

const F = "/etc/xen/scripts/block-iscsimple-tab.conf";

describe("parseTab", () => {
  it("reads labels, comments, blank lines and MISSING", () => {
    const tab = parseTab("# c\n\nweb1 /dev/vg0/web1   # trailing\n  db\t/dev/disk/by-id/ata-X-part3\nscratch MISSING-nolocal\n", F);
    expect([...tab.values()]).toEqual([
      { label: "web1", device: "/dev/vg0/web1", line: 3 },
      { label: "db", device: "/dev/disk/by-id/ata-X-part3", line: 4 },
      { label: "scratch", device: null, line: 5 },
    ]);
  });
  it.each([
    ["web1\n", `${F}:1: expected 'LABEL DEVICE', found 1 field`],
    ["\nweb1 /dev/a /dev/b\n", `${F}:2: expected 'LABEL DEVICE', found 3 fields`],
    ["web1 /dev/a\nweb1 /dev/b\n", `${F}:2: label 'web1' is already defined on line 1`],
    ["we.b1 /dev/a\n", `${F}:1: label 'we.b1': character '.' is not allowed`],
    ["web1 vg0/web1\n", `${F}:1: device 'vg0/web1': a local device is an absolute path under /dev/`],
    ["web1 /dev/../etc/shadow\n", `${F}:1: device '/dev/../etc/shadow': '.' and '..' are not allowed`],
    ["web1 /dev/a;b\n", `${F}:1: device '/dev/a;b': only letters`],
  ])("rejects %j", (text, message) => {
    expect(() => parseTab(text, F)).toThrow(message);
  });
  it("names the file for an unknown label", () => {
    expect(() => lookupLabel(parseTab("a /dev/a\n", F), "b", F)).toThrow(`label 'b' is not defined in ${F}`);
  });
});
