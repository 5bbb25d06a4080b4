import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG, parseConfig } from "../../src/core/config";
import { parsePortal } from "../../src/core/portal";

const F = "/etc/xen/scripts/block-iscsimple.conf";

describe("parseConfig", () => {
  it("gives the defaults for an empty file", () => {
    expect(parseConfig("", F)).toEqual({ config: DEFAULT_CONFIG, warnings: [] });
  });
  it("reads every key", () => {
    const { config, warnings } = parseConfig(
      "[iscsi]\nportals = 192.0.2.10, [2001:db8::1]:3261 filer.example\nlogin-timeout = 3\nlogin-retries = 2\nreplacement-timeout = 20\n[attach]\ndeadline = 25\n[md]\nsync-speed-min = 5000\nsync-speed-max = 90000\non-stale-iscsi = prefer-local\n[multipath]\nuse = no\nwait = 5\nqueueing = warn\n[monitor]\ninterval = 10\nmetrics = /var/lib/node-exporter/textfile/bi.prom\n[log]\nsyslog = no\nfile = none\n",
      F,
    );
    expect(warnings).toEqual([]);
    expect(config).toEqual({
      portals: ["192.0.2.10:3260", "[2001:db8::1]:3261", "filer.example:3260"],
      deadlineS: 25,
      loginTimeoutS: 3,
      loginRetries: 2,
      syncSpeedMin: 5000,
      syncSpeedMax: 90000,
      replacementTimeoutS: 20,
      onStaleIscsi: "prefer-local",
      multipathUse: "no",
      multipathWaitS: 5,
      multipathQueueing: "warn",
      monitorIntervalS: 10,
      metricsFile: "/var/lib/node-exporter/textfile/bi.prom",
      logSyslog: false,
      logFile: null,
    });
  });
  it("warns about unknown keys and sections", () => {
    const { warnings } = parseConfig("[iscsi]\nportal = 1.2.3.4\n[foo]\nx = 1\n", F);
    expect(warnings).toEqual([`${F}:2: unknown key 'portal' in [iscsi] is ignored`, `${F}: unknown section [foo] is ignored`]);
  });
  it("reads a file that begins with a UTF-8 byte order mark like one without", () => {
    expect(parseConfig("\uFEFF[attach]\ndeadline = 20\n", F)).toEqual(parseConfig("[attach]\ndeadline = 20\n", F));
    expect(parseConfig("\uFEFF[attach]\ndeadline = 20\n", F).warnings).toEqual([]);
  });
  it("warns when logins could eat the deadline", () => {
    expect(parseConfig("[iscsi]\nlogin-timeout = 10\nlogin-retries = 2\n", F).warnings[0]).toMatch(/30 s is not below the attach deadline/);
  });
  it.each([
    ["[attach]\ndeadline = 40\n", `${F}:2: [attach] deadline: '40' is not a whole number from 1 to 35 (seconds)`],
    ["[multipath]\nuse = yes\n", `${F}:2: [multipath] use: 'yes' is not auto or no`],
    ["[multipath]\nqueueing = queue\n", `${F}:2: [multipath] queueing: 'queue' is not disable or warn`],
    ["[multipath]\nwait = 0\n", `${F}:2: [multipath] wait: '0' is not a whole number from 1 to 30 (seconds)`],
    ["[attach]\ndeadline = soon\n", `${F}:2: [attach] deadline: 'soon' is not a whole number`],
    ["[iscsi]\nportals = 192.0.2.300\n", `${F}:2: [iscsi] portals: portal '192.0.2.300': '192.0.2.300' is not an IPv4 address or host name`],
    ["[iscsi]\nportals = 192.0.2.1:70000\n", "port '70000' is not 1 to 65535"],
    ["[md]\nsync-speed-min = 9\nsync-speed-max = 5\n", "sync-speed-min (9) is above sync-speed-max (5)"],
    ["[md]\non-stale-iscsi = always\n", `${F}:2: [md] on-stale-iscsi: 'always' is not refuse, prefer-local or prefer-iscsi`],
    ["[iscsi]\nreplacement-timeout = 1000\n", "'1000' is not a whole number from 1 to 600 (seconds)"],
    ["[log]\nsyslog = maybe\n", `${F}:2: [log] syslog: 'maybe' is not yes or no`],
    ["[log]\nfile = relative.log\n", "is not an absolute file path"],
    ["[attach]\ndeadline\n", `${F}:2: expected 'key = value' or [section]`],
    ["[attach]\ndeadline =\n", `${F}:2: [attach] deadline: needs a value`],
    ["[attach]\ndeadline = 20  # seconds\n", `${F}:2: [attach] deadline: '20  # seconds' is not a whole number`],
    ["[log]\nfile = /etc/passwd\n", `${F}:2: [log] file: '/etc/passwd' is not under /var/log/`],
    ["[iscsi]\nlogin-timeout = 3\nlogin-timeout = 4\n", `${F}:3: key 'login-timeout' is already set on line 2 in [iscsi]`],
    ["[iscsi]\nlogin-timeout = 3\n[iscsi]\n", `${F}:3: section [iscsi] is already defined on line 1`],
  ])("rejects %j", (text, message) => {
    expect(() => parseConfig(text, F)).toThrow(message);
  });
});

describe("parsePortal", () => {
  it.each([
    ["10.0.0.1", { host: "10.0.0.1", port: 3260 }],
    ["10.0.0.1:3261", { host: "10.0.0.1", port: 3261 }],
    ["[fe80::1]", { host: "fe80::1", port: 3260 }],
    ["san-a.example.net:860", { host: "san-a.example.net", port: 860 }],
  ])("%s", (text, want) => {
    expect(parsePortal(text)).toEqual(want);
  });
  it("asks for brackets around IPv6", () => {
    expect(parsePortal("fe80::1")).toMatch(/brackets/);
  });
});
