import { readFile } from "node:fs/promises";
import type { AttachmentRecord } from "../core/records";
import { pidAlive, processStart } from "../host/locks";
import type { Host } from "./host";

/** Whether the process that last wrote the record (its add, or a remove) still runs. */
export async function writerAlive(host: Host, r: AttachmentRecord): Promise<boolean> {
  if (r.pid === process.pid) return true;
  return r.pidStart ? (await processStart(host.paths.proc, r.pid)) === r.pidStart : pidAlive(r.pid);
}

/** Kills the children a SIGKILLed add left running (a hung iscsiadm would otherwise log in later). */
export async function killOrphans(host: Host, r: AttachmentRecord): Promise<void> {
  if (await writerAlive(host, r)) return;
  for (const [pid, argv0, start] of r.children) {
    try {
      // the child itself, not a process that reuses its pid: its start time, else its name
      if (start !== undefined && (await processStart(host.paths.proc, pid)) !== start) continue;
      const cmd = (await readFile(`${host.paths.proc}/${pid}/cmdline`, "utf8")).split("\0")[0] ?? "";
      if (cmd.split("/").pop() !== argv0.split("/").pop() && !cmd.endsWith(argv0)) continue;
      // each command runs in a process group of its own (executor.ts): what it started dies too
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        process.kill(pid, "SIGKILL");
      }
      host.log.step(`killed ${argv0} (pid ${pid}) left running by the interrupted add`);
    } catch {
      /* gone already */
    }
  }
}
