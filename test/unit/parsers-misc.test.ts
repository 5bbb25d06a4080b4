import { describe, expect, it } from "vitest";
import { ISCSI_ERR, parseMdEventLine, parseNodeList } from "../../src/core/commands";
import { oneLine } from "../../src/core/errors";
import { parseSyncCompleted, summariseArray } from "../../src/core/md-state";
import { hexDev, parseDevFile } from "../../src/host/sysfs";

describe("small parsers", () => {
  it("reads iscsiadm -m node output", () => {
    expect(parseNodeList("192.0.2.10:3260,1 iqn.a:b\n[2001:db8::1]:3260,2 iqn.c:d\ngarbage\n")).toEqual([
      { portal: "192.0.2.10:3260", iqn: "iqn.a:b" },
      { portal: "[2001:db8::1]:3260", iqn: "iqn.c:d" },
    ]);
  });
  it("writes physical-device in hex (md127 is 9:7f, never 9:127)", () => {
    expect(hexDev({ major: 9, minor: 127 })).toBe("9:7f");
    expect(hexDev({ major: 259, minor: 16 })).toBe("103:10");
    expect(parseDevFile("8:16")).toEqual({ major: 8, minor: 16 });
    expect(parseDevFile("x")).toBeNull();
  });
  it("reads resync progress", () => {
    expect(parseSyncCompleted("65536 / 131072")).toBe(50);
    expect(parseSyncCompleted("none")).toBeNull();
    expect(summariseArray({ md: "md127", arrayState: "clean", syncAction: "recover", progress: 12.5, degraded: 1, legs: [] })).toBe("md127 clean, degraded (1 missing) recover 12.5%");
  });
  it("knows iscsiadm's exit codes", () => {
    expect(ISCSI_ERR[24]).toMatch(/authentication/);
    expect(ISCSI_ERR[15]).toMatch(/already exists/);
  });
  it("flattens messages to one safe line", () => {
    expect(oneLine("a\nb\r\n\tc\u0007d")).toBe("a b c d");
    expect(oneLine("x".repeat(500), 10)).toHaveLength(10);
  });
});

import { chapFor, parseChap, redactArgv } from "../../src/core/chap";

describe("the CHAP file", () => {
  it("reads a section per IQN (dots and colons in the name), [default] and [discovery]", () => {
    const t = parseChap("[iqn.2014-06.fr.example.filer1:vm-1]\nusername = a\npassword = b\n[default]\nusername = c\npassword = d\nusername_in = e\npassword_in = f\n[discovery]\nusername = g\npassword = h\n", "chap.conf");
    expect(chapFor(t, "iqn.2014-06.fr.example.filer1:vm-1")).toEqual({ username: "a", password: "b", usernameIn: null, passwordIn: null });
    expect(chapFor(t, "iqn.2014-06.fr.example.filer1:other")).toMatchObject({ username: "c", passwordIn: "f" });
    expect(t.discovery).toMatchObject({ username: "g" });
  });
  it("masks passwords on a command line", () => {
    expect(redactArgv(["iscsiadm", "-m", "node", "-n", "node.session.auth.password", "-v", "s3cret"]).join(" ")).toBe("iscsiadm -m node -n node.session.auth.password -v ********");
    expect(redactArgv(["iscsiadm", "-n", "node.session.auth.username", "-v", "host1"])).toContain("host1");
  });
  it("takes a secret byte for byte: # ; = and inner quotes are part of it", () => {
    const t = parseChap("[default]\nusername = host1\npassword = Abc#def;ghi=j\"k\n", "chap.conf");
    expect(t.fallback?.password).toBe('Abc#def;ghi=j"k');
  });
  it.each([
    ["[default]\nusername = a\npassword = \"quoted\"\n", /chap.conf:3: \[default\] password: quotes are not stripped/],
    ["[default]\nusername = a\npassword = two words\n", /chap.conf:3: \[default\] password: must be 1 to 255 printable ASCII characters without blanks/],
    ["[default]\nusername = a\npassword = pässwort\n", /chap.conf:3: \[default\] password: must be 1 to 255 printable ASCII/],
    ["[default]\nusername = a\npassword = b\npassword = c\n", /chap.conf:4: key 'password' is already set on line 3 in \[default\]/],
    ["[default]\nusername = a\npassword = b\n[default]\nusername = c\n", /chap.conf:4: section \[default\] is already defined on line 1/],
  ])("refuses %j, naming the file, line and key, never the value", (text, message) => {
    expect(() => parseChap(text, "chap.conf")).toThrow(message);
    try {
      parseChap(text, "chap.conf");
    } catch (err) {
      expect((err as Error).message).not.toMatch(/quoted|two words|pässwort/);
    }
  });
  it("reads a file with a UTF-8 byte order mark", () => {
    expect(parseChap("\uFEFF[default]\nusername = a\npassword = b\n", "chap.conf").fallback?.username).toBe("a");
  });
  it("rejects a section that is no IQN", () => {
    expect(() => parseChap("[filer1]\nusername = a\npassword = b\n", "chap.conf")).toThrow(/section \[filer1\] is not \[discovery\], \[default\] or a target's IQN/);
  });
});

import { recordPortals } from "../../src/core/portal";

describe("node record files", () => {
  it("tell the portals as iscsiadm -m node prints them; a record without them sends us to iscsiadm", () => {
    const rec = (address: string, port = "3260"): Record<string, string> => ({ "node.name": "iqn.x", "node.conn[0].address": address, "node.conn[0].port": port });
    expect(recordPortals([rec("192.0.2.10"), rec("192.0.2.11", "3261"), rec("192.0.2.10")])).toEqual(["192.0.2.10:3260", "192.0.2.11:3261"]);
    expect(recordPortals([rec("fd00::10")])).toEqual(["[fd00::10]:3260"]);
    expect(recordPortals([])).toBeNull();
    expect(recordPortals([rec("192.0.2.10"), { "node.name": "iqn.x" }])).toBeNull();
    expect(recordPortals([rec("192.0.2.10", "99999")])).toBeNull();
    expect(recordPortals([rec("bad host!")])).toBeNull();
  });
});

describe("parseMdEventLine (mdadm --monitor's program is echo: one line per event)", () => {
  it("takes EVENT MD [MEMBER], checking each word", () => {
    expect(parseMdEventLine("Fail /dev/md127 /dev/sda\n")).toEqual({ event: "Fail", md: "/dev/md127", member: "/dev/sda" });
    expect(parseMdEventLine("NewArray /dev/md/lab-disk")).toEqual({ event: "NewArray", md: "/dev/md/lab-disk", member: null });
    expect(parseMdEventLine("Rebuild20 /dev/md126")).toEqual({ event: "Rebuild20", md: "/dev/md126", member: null });
  });
  it("a member that is not a plain device path is left out, not the event", () => {
    expect(parseMdEventLine("Fail /dev/md127 /dev/$(reboot)")).toEqual({ event: "Fail", md: "/dev/md127", member: null });
  });
  it("anything else is not an event", () => {
    for (const line of ["", "Fail", "Fail /dev/../etc/passwd", "Explode /dev/md127", "Fail /dev/md127 /dev/sda extra", "Fail  /dev/md127", "fail /dev/md127"]) {
      expect(parseMdEventLine(line)).toBeNull();
    }
  });
});
