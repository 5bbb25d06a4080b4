import { rmSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { IQN, processesUnder, SimHost, waitFor, type Fault } from "./simhost";
import { useSimHosts } from "./use-sim";

const sim = useSimHosts();

// the deadline is what a hung command costs a test; it is also far above what a whole add takes on a
// busy machine (no test here may depend on the machine's speed)
const CONFIG = "[iscsi]\nportals = 192.0.2.10\nlogin-timeout = 2\nlogin-retries = 1\n[attach]\ndeadline = 15\n[md]\nsync-speed-max = 50000\n";
const SPEC = `lun1@${IQN}+my-vm-disk`;

/**
 * A fresh host without node records, so that an add runs every step (discovery included). Discovery
 * makes the records as files, which the add writes its settings into; for the faults of
 * `iscsiadm -o update`, the host has records iscsiadm knows that are not files under /etc/iscsi/nodes.
 */
function fresh(key = ""): SimHost {
  if (!key.startsWith("iscsiadm update")) return sim({ nodes: false, config: CONFIG });
  const h = sim({ config: CONFIG });
  rmSync(h.file("etc/iscsi/nodes"), { recursive: true, force: true });
  return h;
}

/** [fault key, fault, words the hotplug-error must contain] for every step of an add. */
const STEPS: [string, Fault, string][] = [
  ["xenstore-exists", { exit: 2, stderr: "xenstore-exists: could not connect" }, "xenstore-exists"],
  ["xenstore-read", { exit: 2, stderr: "xenstore-read: could not connect" }, "xenstore-read"],
  ["iscsiadm node", { exit: 20, stderr: "iscsiadm: can not connect to iSCSI daemon (111)!" }, "cannot connect to iscsid"],
  ["iscsiadm discovery", { exit: 4, stderr: "iscsiadm: cannot make connection to 192.0.2.10" }, "discover"],
  ["iscsiadm update", { exit: 6, stderr: "iscsiadm: database error" }, "set node.conn[0].timeo.login_timeout"],
  ["iscsiadm login", { exit: 24, stderr: "iscsiadm: Login failed: authentication failure" }, "log in to"],
  ["mdadm build", { exit: 1, stderr: "mdadm: cannot open /dev/sdb: Device or resource busy" }, "build /dev/md/my-vm-disk failed"],
  ["mdadm add", { exit: 1, stderr: "mdadm: add new device failed" }, "add the local leg"],
  ["iscsiadm login after", { hangAfter: true }, "did not finish"],
  ["mdadm build after", { hangAfter: true }, "did not finish"],
];

describe("a fault at every step of add, then remove: error reported, nothing left", () => {
  it.concurrent.each(STEPS)("%s", { timeout: 90_000 }, async (key, fault, words) => {
    const h = fresh(key);
    h.faults({ [key.replace(/ after$/, "")]: fault });
    const be = h.backend(5, 51712, SPEC);
    const add = await h.run(["add"], { xenbus: be });
    expect(add.code, add.stderr).not.toBe(0);
    expect(h.xs(`${be}/hotplug-status`)).toBe("error");
    expect(h.xs(`${be}/hotplug-error`)).toContain(words);
    expect(h.xs(`${be}/physical-device`)).toBeUndefined();
    expect(add.stderr.trim().split("\n").length).toBeLessThanOrEqual(2);
    // what add did not undo itself, remove (which libxl always runs after a failed add) must
    const remove = await h.run(["remove"], { xenbus: be });
    expect(remove.code, remove.stderr).toBe(0);
    expect(h.leftovers()).toEqual([]);
    expect(h.hangs()).toHaveLength(key.endsWith("after") ? 1 : 0);
  });

  it("the publish step (xenstore-write) failing undoes the array and the session", async () => {
    const h = fresh();
    h.faults({ "xenstore-write": { exit: 2 } });
    const be = h.backend(5, 51712, SPEC);
    expect((await h.run(["add"], { xenbus: be })).code).toBe(1);
    expect(h.leftovers()).toEqual([]);
    expect(h.calls().some((c) => c.startsWith("mdadm --stop "))).toBe(true);
    expect(h.calls().some((c) => /^iscsiadm -m node -T \S+ --logout$/.test(c))).toBe(true);
  });

  it("an add whose deadline runs out logs where its time went until then", { timeout: 90_000 }, async () => {
    const h = fresh();
    h.faults({ "mdadm build": { hangAfter: true } });
    const be = h.backend(5, 51712, SPEC);
    expect((await h.run(["add"], { xenbus: be })).code).toBe(1);
    // after the failure's line, before the rollback's: the hung mdadm's share of the deadline is named
    expect(h.hotplugLog()).toMatch(/add failed: build \/dev\/md\/my-vm-disk failed: .*did not finish.*; rolling back\n.*add backend\/vbd\/5\/51712: timing until the failure: total \d+ ms, outside \d+ ms, .*mdadm (\d{4,}) ms.*; start-up \d+ ms\n/);
  });

  it("a LUN that never appears fails within the deadline, naming the LUN", async () => {
    const h = fresh();
    const be = h.backend(5, 51712, `lun7@${IQN}+my-vm-disk`);
    const add = await h.run(["add"], { xenbus: be });
    expect(add.code).toBe(1);
    expect(h.xs(`${be}/hotplug-error`)).toMatch(/lun7 did not appear/);
    expect(h.leftovers()).toEqual([]);
  });

  it("an unreachable portal fails cleanly (login error), nothing left", async () => {
    const h = fresh();
    h.setWorld((w) => {
      w.portalsUp = [];
    });
    const be = h.backend(5, 51712, SPEC);
    const add = await h.run(["add"], { xenbus: be });
    expect(add.code).toBe(1);
    expect(h.xs(`${be}/hotplug-error`)).toMatch(/discover .* failed: no portal lists/);
    expect(h.leftovers()).toEqual([]);
  });
});

/** Where an add can be SIGKILLed (libxl's 40 s), and how to know it got there. */
const KILL_AT: [string, Record<string, Fault>][] = [
  ["iscsiadm discovery", { "iscsiadm discovery": { hang: true } }],
  ["iscsiadm update", { "iscsiadm update": { hang: true } }],
  ["iscsiadm login", { "iscsiadm login": { hang: true } }],
  ["iscsiadm login", { "iscsiadm login": { hangAfter: true } }],
  ["mdadm build", { "mdadm build": { hang: true } }],
  ["mdadm build", { "mdadm build": { hangAfter: true } }],
  ["mdadm add", { "mdadm add": { hangAfter: true } }],
  ["xenstore-write", { "xenstore-write": { hang: true } }],
];

describe("an add SIGKILLed at every step, then remove, then a fresh add", () => {
  it.concurrent.each(KILL_AT)("killed in %s (%j)", { timeout: 90_000 }, async (key, faults) => {
    const h = fresh(key);
    h.faults(faults);
    const be = h.backend(6, 51712, SPEC);
    const child = h.start(["add"], { xenbus: be });
    const exited = new Promise((r) => child.on("exit", r));
    await waitFor(() => h.hangs().includes(key));
    child.kill("SIGKILL");
    await exited;
    h.faults({});
    const remove = await h.run(["remove"], { xenbus: be });
    expect(remove.code, remove.stderr).toBe(0);
    expect(h.leftovers()).toEqual([]);
    expect(processesUnder(h.root)).toEqual([]);
    // libxl then retries the domain: a fresh add works
    h.setWorld((w) => {
      for (const k of Object.keys(w.xenstore)) if (k.includes("hotplug") || k.includes("physical-device")) delete w.xenstore[k];
    });
    const again = await h.run(["add"], { xenbus: be });
    expect(again.code, again.stderr).toBe(0);
    expect(h.xs(`${be}/physical-device`)).toMatch(/^9:[0-9a-f]+$/);
    expect((await h.run(["remove"], { xenbus: be })).code).toBe(0);
    expect(h.leftovers()).toEqual([]);
  });
});
