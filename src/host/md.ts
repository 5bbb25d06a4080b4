import { lstat, readlink, rm, stat, writeFile } from "node:fs/promises";
import { spawn } from "node:child_process";
import path from "node:path";
import { mdadm, parseMdEventLine } from "../core/commands";
import { parseSyncCompleted, type ArrayState, type LegState } from "../core/md-state";
import { sleepMs, type Deadline } from "./clock";
import { toolPath, type HostPaths } from "./paths";
import { CommandError, type Runner } from "./run";
import { join, listDir, parseDevFile, readText, sameDev, statBlock, type BlockDev } from "./sysfs";

export interface MdArray {
  /** Kernel name, e.g. md127. */
  readonly name: string;
  readonly path: string;
  readonly dev: BlockDev;
}

const STOP_BUDGET_MS = 12_000;

/** mdadm and the md part of sysfs. Arrays are always found by what they are, never by name alone. */
export class Md {
  constructor(
    private readonly run: Runner,
    private readonly paths: HostPaths,
  ) {}

  labelPath(label: string): string {
    return join(this.paths.dev, "md", label);
  }

  private async array(name: string): Promise<MdArray | null> {
    const dev = parseDevFile(await readText(join(this.paths.sys, "block", name, "dev")));
    const state = await readText(join(this.paths.sys, "block", name, "md/array_state"));
    if (dev === null || state === null || state === "clear" || state === "inactive") return null;
    return { name, path: join(this.paths.dev, name), dev };
  }

  async arrays(): Promise<MdArray[]> {
    const out: MdArray[] = [];
    for (const name of await listDir(join(this.paths.sys, "block"))) {
      if (!/^md\d+$/.test(name)) continue;
      const a = await this.array(name);
      if (a) out.push(a);
    }
    return out;
  }

  /** Device numbers of the members of an array. */
  async members(name: string): Promise<{ name: string; dev: BlockDev | null }[]> {
    const dir = join(this.paths.sys, "block", name, "slaves");
    const out: { name: string; dev: BlockDev | null }[] = [];
    for (const m of await listDir(dir)) out.push({ name: m, dev: parseDevFile(await readText(join(dir, m, "dev"))) });
    return out;
  }

  /** The live array that has DEV as a member. */
  async findByMember(dev: BlockDev): Promise<MdArray | null> {
    for (const a of await this.arrays()) {
      if ((await this.members(a.name)).some((m) => sameDev(m.dev, dev))) return a;
    }
    return null;
  }

  /** The live array /dev/md/LABEL resolves to, if any; a dangling link is removed. */
  async atLabel(label: string): Promise<MdArray | null> {
    const link = this.labelPath(label);
    const st = await statBlock(link);
    if (st === null) {
      await this.removeDanglingLink(link);
      return null;
    }
    for (const a of await this.arrays()) if (sameDev(a.dev, st)) return a;
    return null;
  }

  private async removeDanglingLink(link: string): Promise<void> {
    try {
      const l = await lstat(link);
      if (!l.isSymbolicLink()) return;
      try {
        await stat(link);
      } catch {
        await rm(link, { force: true });
      }
    } catch {
      /* nothing there */
    }
  }

  /**
   * Starts mdadm's event monitor, which runs PROGRAM for each md event (env BLOCK_ISCSIMPLE_MD_EVENT=1
   * tells PROGRAM, this executable, why it runs). Returns how to stop it; ONEXIT says when it ended.
   */
  /**
   * Runs mdadm --monitor, its program echo (commands.ts): each event is a line on its stdout, given
   * to ON_EVENT once its words are checked (another line is ignored). ON_EXIT: mdadm ended, and why.
   */
  watchEvents(delayS: number, onEvent: (e: { event: string; md: string; member: string | null }) => void, onExit: (why: string) => void): { stop: () => void } {
    const [file, ...args] = mdadm.monitor(delayS);
    const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LC_ALL: "C", PATH: toolPath(this.paths.root) } });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => {
      if (stderr.length < 4096) stderr += c.toString("utf8");
    });
    let partial = "";
    child.stdout.on("data", (c: Buffer) => {
      const lines = (partial + c.toString("utf8")).split("\n");
      partial = (lines.pop() ?? "").slice(-4096);
      for (const line of lines) {
        const e = parseMdEventLine(line);
        if (e) onEvent(e);
      }
    });
    let told = false;
    const tell = (why: string): void => {
      if (!told) onExit(why);
      told = true;
    };
    child.once("error", (e) => tell(e.message));
    child.once("close", (code, signal) => tell(code === null ? `killed by ${signal}` : `exit ${code}${stderr ? `: ${stderr.trim().slice(0, 200)}` : ""}`));
    return { stop: () => child.kill("SIGTERM") };
  }

  async build(label: string, iscsiDev: string | null, localDev: string | null, deadline: Deadline): Promise<void> {
    await this.run.run(mdadm.build(this.labelPath(label), iscsiDev, localDev), deadline);
  }

  async add(label: string, dev: string, deadline: Deadline): Promise<void> {
    await this.run.run(mdadm.add(this.labelPath(label), dev), deadline);
  }

  /** Adds a member to a running array by its real node (heal works on /dev/mdN). */
  async addTo(a: MdArray, dev: string, deadline: Deadline): Promise<void> {
    await this.run.run(mdadm.add(a.path, dev), deadline);
  }

  async removeFailed(a: MdArray, deadline: Deadline): Promise<void> {
    await this.run.run(mdadm.removeFailed(a.path), deadline);
  }

  /** Marks a member write-mostly (reads then go to the other leg). */
  async setWriteMostly(a: MdArray, member: BlockDev): Promise<void> {
    for (const m of await this.members(a.name)) {
      if (sameDev(m.dev, member)) await writeFile(join(this.paths.sys, "block", a.name, "md", `dev-${m.name}`, "state"), "writemostly\n");
    }
  }

  async setSpeed(a: MdArray, min: number | null, max: number | null): Promise<void> {
    const dir = join(this.paths.sys, "block", a.name, "md");
    // max first when raising, so that min never exceeds max on the way
    if (max !== null) await writeFile(join(dir, "sync_speed_max"), `${max}\n`);
    if (min !== null) await writeFile(join(dir, "sync_speed_min"), `${min}\n`);
  }

  /** Stops an array, retrying while it is busy (bounded), then drops a /dev/md/LABEL link left to it. */
  async stop(a: MdArray, label: string | null, deadline: Deadline): Promise<void> {
    const limit = deadline.slice(STOP_BUDGET_MS);
    for (;;) {
      try {
        await this.run.run(mdadm.stop(a.path), limit);
        break;
      } catch (err) {
        if ((await this.array(a.name)) === null) break;
        const busy = err instanceof CommandError && err.status !== null && /busy|in use/i.test(err.message);
        if (!busy || limit.remainingMs() < 600) throw err;
        await sleepMs(500);
      }
    }
    if (label !== null) await this.dropLinkTo(label, a);
  }

  private async dropLinkTo(label: string, a: MdArray): Promise<void> {
    const link = this.labelPath(label);
    try {
      const target = await readlink(link);
      if (path.basename(target) === a.name) await rm(link, { force: true });
    } catch {
      /* no link (udev removed it) */
    }
  }

  async state(a: MdArray, roles: { iscsi: BlockDev | null; local: BlockDev | null }): Promise<ArrayState> {
    const md = join(this.paths.sys, "block", a.name, "md");
    const legs: LegState[] = [];
    for (const m of await this.members(a.name)) {
      const flags = ((await readText(join(md, `dev-${m.name}`, "state"))) ?? "").split(",").filter(Boolean);
      const role = sameDev(m.dev, roles.iscsi) ? "iscsi" : sameDev(m.dev, roles.local) ? "local" : "other";
      legs.push({ device: m.name, role, flags });
    }
    const syncAction = (await readText(join(md, "sync_action"))) ?? "idle";
    return {
      md: a.name,
      arrayState: (await readText(join(md, "array_state"))) ?? "unknown",
      syncAction,
      progress: syncAction === "idle" ? null : parseSyncCompleted((await readText(join(md, "sync_completed"))) ?? ""),
      degraded: Number((await readText(join(md, "degraded"))) ?? "0") || 0,
      legs,
    };
  }
}
