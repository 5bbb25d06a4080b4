import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { IQN, PORTAL, SimHost } from "./simhost";
import { useSimHosts } from "./use-sim";

const sim = useSimHosts();
const SPEC = `lun1@${IQN}+my-vm-disk`;
const TAB = "etc/xen/scripts/block-iscsimple-tab.conf";
const CONF = "etc/xen/scripts/block-iscsimple.conf";
const CHAP = "etc/xen/scripts/block-iscsimple-chap.conf";

/** A refused add: the exit code, one line naming the file, and nothing run on the host. */
async function badInput(h: SimHost, message: RegExp, code = 2): Promise<void> {
  const r = await h.run(["add", SPEC]);
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr).toMatch(message);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  expect(h.calls().filter((c) => !c.startsWith("logger"))).toEqual([]);
}

describe("CHAP secrets are used byte for byte", () => {
  it.concurrent("a secret with # ; = and a quote inside logs in (0.1.0 cut it at #)", async () => {
    const secret = 'Abc#def;ghi=j"k';
    const h = sim();
    h.setWorld((w) => {
      w.filer[IQN]!.chap = { user: "host1", pass: secret };
    });
    h.put(CHAP, `[${IQN}]\nusername = host1\npassword = ${secret}\n`, 0o600);
    const r = await h.run(["add", SPEC]);
    expect(r.code, r.stderr).toBe(0);
    expect(h.nodeSettings(IQN)["node.session.auth.password"]).toBe(secret);
  });
});

/** Every process's command line and environment, read now (what any local user could read). */
function allArgvAndEnv(): string {
  let out = "";
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    for (const f of ["cmdline", "environ"]) {
      try {
        out += readFileSync(`/proc/${pid}/${f}`, "latin1");
      } catch {
        /* gone, or not readable */
      }
    }
  }
  return out;
}

describe("a CHAP secret never appears in any process's argv or environment", () => {
  it.concurrent("during add (with discovery CHAP), heal and discover --luns", async () => {
    const secret = "Sampled-Secret-4711";
    const dsecret = "Discovery-Secret-8822";
    const h = sim({ nodes: false, config: "[iscsi]\nportals = 192.0.2.10\n" });
    h.setWorld((w) => {
      w.filer[IQN]!.chap = { user: "host1", pass: secret };
      w.discoveryChap = { user: "disc", pass: dsecret };
    });
    h.put(CHAP, `[${IQN}]\nusername = host1\npassword = ${secret}\n[discovery]\nusername = disc\npassword = ${dsecret}\n`, 0o600);
    // slow tools, so that every step has processes alive to look at
    h.faults({ "iscsiadm login": { delayMs: 400 }, "iscsiadm discovery": { delayMs: 400 }, "iscsiadm update": { delayMs: 200 }, "mdadm add": { delayMs: 200 } });
    let samples = 0;
    let leaked = "";
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const all = allArgvAndEnv();
        samples += 1;
        if (all.includes(secret) || all.includes(dsecret)) leaked = all.includes(secret) ? "target secret" : "discovery secret";
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    expect((await h.run(["add", SPEC])).code).toBe(0);
    h.finishRecovery("my-vm-disk");
    h.failLeg("my-vm-disk", "iscsi");
    await h.run(["heal", "my-vm-disk"]);
    expect((await h.run(["remove", SPEC])).code).toBe(0);
    expect((await h.run(["discover", "--luns", PORTAL])).code).toBe(0);
    sampling = false;
    await sampler;
    expect(samples).toBeGreaterThan(20);
    expect(leaked).toBe("");
    expect(h.calls().join("\n")).not.toMatch(new RegExp(`${secret}|${dsecret}`));
  });
});

describe("[default] CHAP credentials go only to portals the administrator named", () => {
  it.concurrent("a target discovered on [iscsi] portals gets them", async () => {
    const h = sim({ nodes: false, config: "[iscsi]\nportals = 192.0.2.10\n" });
    h.setWorld((w) => {
      w.filer[IQN]!.chap = { user: "any", pass: "Default-Secret" };
    });
    h.put(CHAP, "[default]\nusername = any\npassword = Default-Secret\n", 0o600);
    const r = await h.run(["add", SPEC]);
    expect(r.code, r.stderr).toBe(0);
  });

  it.concurrent("a target whose portal is not one of [iscsi] portals does not (the login then fails, saying why)", async () => {
    const h = sim({ config: "[iscsi]\nportals = 192.0.2.99\n" });
    h.setWorld((w) => {
      w.filer[IQN]!.chap = { user: "any", pass: "Default-Secret" };
    });
    h.put(CHAP, "[default]\nusername = any\npassword = Default-Secret\n", 0o600);
    const r = await h.run(["add", SPEC]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the \[default\] CHAP credentials are not offered to \S+: its portal 192\.0\.2\.10:3260 is not one of \[iscsi\] portals/);
    expect(h.nodeSettings(IQN)["node.session.auth.password"]).toBeUndefined();
    expect(h.leftovers()).toEqual([]);
  });
});

describe("only trusted files steer the program", () => {
  it.concurrent("tab.conf that group or others can write is refused, naming the file", async () => {
    const h = sim();
    chmodSync(h.file(TAB), 0o666);
    await badInput(h, /block-iscsimple-tab.conf: refusing to read settings from a file that group or others can write \(mode 666\)/);
  });

  it.concurrent("a config file not owned by root is refused", async () => {
    const h = sim({ config: "[attach]\ndeadline = 20\n" });
    chownSync(h.file(CONF), 1000, 1000);
    await badInput(h, /block-iscsimple.conf: refusing to read settings from a file not owned by root \(uid 1000\)/);
  });

  it.concurrent("a config file that is a symbolic link is refused (no link swap)", async () => {
    const h = sim();
    writeFileSync(h.file("etc/xen/real.conf"), "[attach]\ndeadline = 20\n");
    symlinkSync(h.file("etc/xen/real.conf"), h.file(CONF));
    await badInput(h, /block-iscsimple.conf: is a symbolic link; refusing to read it/);
  });

  it.concurrent("a folder others can write is refused", async () => {
    const h = sim();
    chmodSync(h.file("etc/xen/scripts"), 0o777);
    await badInput(h, /its folder can be changed by others than root/);
    chmodSync(h.file("etc/xen/scripts"), 0o755);
  });

  it.concurrent("the log file must be under /var/log", async () => {
    const h = sim({ config: "[log]\nfile = /etc/cron.d/evil\n" });
    await badInput(h, /block-iscsimple.conf:2: \[log\] file: '\/etc\/cron.d\/evil' is not under \/var\/log\//);
    expect(existsSync(h.file("etc/cron.d/evil"))).toBe(false);
  });

  it.concurrent.each(["/dev/shm/x", "/dev/mqueue/x", "/dev/pts/0"])("a local device in %s is refused", async (dev) => {
    const h = sim({ tab: `my-vm-disk ${dev}\n` });
    await badInput(h, new RegExp(`tab.conf:1: device '${dev}': /dev/\\w+/ holds no block devices`));
  });

  it.concurrent("host tools come from a fixed PATH, not the inherited one", async () => {
    const h = sim();
    const evil = h.file("evil");
    mkdirSync(evil);
    for (const t of ["iscsiadm", "mdadm", "blkid", "xenstore-read", "logger"]) {
      writeFileSync(path.join(evil, t), `#!/bin/sh\ntouch ${evil}/ran-${t}\nexit 1\n`);
      chmodSync(path.join(evil, t), 0o755);
    }
    const r = await h.run(["add", SPEC], { env: { PATH: `${evil}:/usr/bin:/bin` } });
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(path.join(evil, "ran-iscsiadm")) || existsSync(path.join(evil, "ran-mdadm")) || existsSync(path.join(evil, "ran-blkid"))).toBe(false);
    rmSync(evil, { recursive: true, force: true });
  });
});

describe("what a filer says is checked before it is shown or used", () => {
  it.concurrent("a target name that would not pass as a spec is listed as rejected, escaped, and never in a disk line", async () => {
    const hostile = "iqn.2026-11.evil:x',script=/tmp/x,target='";
    const escape = "iqn.2026-11.evil:\u001b]0;owned\u0007";
    const h = sim({ filer: { [IQN]: [0, 1], [hostile]: [0, 1], [escape]: [0, 1] } });
    const r = await h.run(["discover", "--luns", PORTAL]);
    const diskLines = r.stdout.split("\n").filter((l) => l.includes("script=block-iscsimple"));
    expect(diskLines.length).toBeGreaterThan(0);
    for (const l of diskLines) expect(l).not.toMatch(/evil|script=\/tmp/);
    expect(r.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
    expect(r.stdout).toMatch(/REJECTED "iqn\.2026-11\.evil:x',script=\/tmp\/x,target='" \(portal 192\.0\.2\.10:3260\): character ''' is not allowed in an iSCSI name; not used/);
    expect(r.stdout).toMatch(/REJECTED "iqn\.2026-11\.evil:\\x1b\]0;owned\\x07"/);
    expect(r.stdout).toMatch(new RegExp(`target=lun1@${IQN.replace(/\./g, "\\.")}'`));
    expect(h.calls().filter((c) => /^iscsiadm -m node -T \S+ --login$/.test(c)).every((c) => c.includes(IQN))).toBe(true);
    const j = JSON.parse((await h.run(["discover", "--json", PORTAL])).stdout) as { targets: { iqn: string }[]; rejected: { name: string }[] };
    expect(j.targets.map((t) => t.iqn)).toEqual([IQN]);
    expect(j.rejected).toHaveLength(2);
  });
});
