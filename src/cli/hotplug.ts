import { describeError, errorMessage, EXIT, FailedError, InputError, oneLine } from "../core/errors";
import type { Owner } from "../core/records";
import { parseSpec } from "../core/spec";
import { attach } from "../engine/attach";
import { detach } from "../engine/detach";
import { makeHost } from "../engine/host";
import { hotplugBudget, type Budget } from "../host/clock";
import { DEFAULT_CONFIG } from "../core/config";
import { Log } from "../host/log";
import { loadContext, type Context } from "../engine/context";
import { requestFor } from "../engine/request";

const BACKEND_RE = /^(?:\/local\/domain\/0\/)?(backend\/vbd\/(\d{1,5})\/(\d{1,10}))$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function parseBackend(xenbusPath: string): { backend: string; domid: number; devid: number } {
  const m = BACKEND_RE.exec(xenbusPath);
  if (!m) throw new InputError(`XENBUS_PATH '${oneLine(xenbusPath, 100)}' is not backend/vbd/DOMID/DEVID`);
  return { backend: m[1] as string, domid: Number(m[2]), devid: Number(m[3]) };
}

/** `block-iscsimple add|remove` run by libxl, with XENBUS_PATH set. */
export async function hotplug(action: "add" | "remove", xenbusPath: string): Promise<number> {
  let ctx: Context | null = null;
  let backend: string | null = null;
  let budget: Budget | null = null;
  try {
    const b = parseBackend(xenbusPath);
    backend = b.backend;
    ctx = loadContext({}, `${action} ${b.backend}`);
    budget = hotplugBudget(ctx.config.deadlineS * 1000);
    const deadline = budget.forward;
    const { host } = ctx;
    if (action === "remove") {
      // no rollback to keep time for: all of libxl's time but the report's share
      const res = await detach(host, `vbd-${b.domid}-${b.devid}`, budget.rollback());
      if (res === null) {
        host.log.step("nothing to remove");
        return EXIT.ok;
      }
      if (res.problems.length > 0) throw new FailedError(res.problems.join("; "));
      host.log.step("removed");
      return EXIT.ok;
    }
    // the three reads at once (one round trip to xenstored, or three tools side by side)
    const [already, keys, vmPath] = await Promise.all([
      host.xs.exists(`${b.backend}/physical-device`, deadline),
      host.xs.readMany([`${b.backend}/params`, `${b.backend}/mode`], deadline).catch((err: unknown) => ({ err })),
      host.xs.readOptional(`/local/domain/${b.domid}/vm`, deadline),
    ]);
    if (already) {
      host.log.step("physical-device is already written: called twice, nothing to do");
      return EXIT.ok;
    }
    if ("err" in keys) throw keys.err;
    const [params, mode] = keys as [string, string];
    if (!/^[rw]/.test(mode)) throw new InputError(`mode '${oneLine(mode, 20)}' is not r or w`);
    const vm = vmPath?.replace(/^\/vm\//, "") ?? null;
    const spec = parseSpec(params);
    const owner: Owner = { kind: "xen", domid: b.domid, devid: b.devid, backend: b.backend, vm: vm !== null && UUID_RE.test(vm) ? vm : null };
    const res = await attach(host, await requestFor(ctx, { spec, owner, writable: mode.startsWith("w") }, true), budget);
    host.log.step(res.again ? "already attached" : `connected ${res.devicePath} (${res.device})`);
    return EXIT.ok;
  } catch (err) {
    const { message } = describeError(err);
    if (ctx) ctx.log.error(`${action} failed: ${message}`);
    else process.stderr.write(`block-iscsimple: ${action} failed: ${message}\n`);
    if (action === "add" && backend !== null) {
      // a bad config file leaves no context: write the error with a plain host all the same
      const host = ctx?.host ?? makeHost(new Log({ verbose: false, syslog: false, file: null, context: `add ${backend}` }));
      try {
        await host.xs.write(
          [
            [`${backend}/hotplug-error`, `block-iscsimple: ${message}`],
            [`${backend}/hotplug-status`, "error"],
          ],
          (budget ?? hotplugBudget(DEFAULT_CONFIG.deadlineS * 1000)).report(),
        );
      } catch (xsErr) {
        process.stderr.write(`block-iscsimple: could not write hotplug-error: ${oneLine(errorMessage(xsErr))}\n`);
      }
    }
    // libxl's convention for hotplug scripts: any failure exits 1 (the message says what kind)
    return EXIT.failed;
  } finally {
    await ctx?.log.close();
  }
}
