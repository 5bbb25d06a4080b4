import { InputError, Problems } from "./errors";
import { isMissing, labelProblem } from "./spec";

/** One mirror: the local leg of LABEL, or null when the device begins with MISSING. */
export interface TabEntry {
  readonly label: string;
  readonly device: string | null;
  readonly line: number;
}

export type Tab = ReadonlyMap<string, TabEntry>;

/** Local device paths: absolute, under /dev, no '..', only ordinary characters. */
export const DEVICE_RE = /^\/dev\/[A-Za-z0-9_.:+@=-]+(?:\/[A-Za-z0-9_.:+@=-]+)*$/;

/** Folders under /dev that hold no block devices (shared memory, message queues, terminals...). */
const NOT_DEVICES = ["/dev/shm/", "/dev/mqueue/", "/dev/pts/", "/dev/hugepages/", "/dev/fd/", "/dev/char/"];

export function devicePathProblem(device: string): string | null {
  if (!device.startsWith("/dev/")) return "a local device is an absolute path under /dev/";
  const bad = NOT_DEVICES.find((p) => device.startsWith(p));
  if (bad) return `${bad} holds no block devices`;
  if (device.split("/").some((part) => part === ".." || part === ".")) return "'.' and '..' are not allowed in a device path";
  if (!DEVICE_RE.test(device)) return "only letters, digits and _ . : + @ = - are allowed in a device path";
  if (device.length > 255) return "the device path is longer than 255 characters";
  return null;
}

export function parseTab(text: string, file: string): Tab {
  const tab = new Map<string, TabEntry>();
  const lines = text.split("\n");
  const problems = new Problems();
  lines.forEach((raw, index) => problems.run(() => {
    const line = index + 1;
    const where = `${file}:${line}`;
    const content = raw.replace(/#.*$/, "").trim();
    if (content === "") return;
    const fields = content.split(/\s+/);
    if (fields.length !== 2) {
      throw new InputError(`${where}: expected 'LABEL DEVICE', found ${fields.length} field${fields.length === 1 ? "" : "s"}`);
    }
    const [label, device] = fields as [string, string];
    const why = labelProblem(label);
    if (why) throw new InputError(`${where}: label '${label}': ${why}`);
    const previous = tab.get(label);
    if (previous) throw new InputError(`${where}: label '${label}' is already defined on line ${previous.line}`);
    if (isMissing(device)) {
      tab.set(label, { label, device: null, line });
      return;
    }
    const devWhy = devicePathProblem(device);
    if (devWhy) throw new InputError(`${where}: device '${device}': ${devWhy}`);
    tab.set(label, { label, device, line });
  }));
  problems.done();
  return tab;
}

export function lookupLabel(tab: Tab, label: string, file: string): TabEntry {
  const entry = tab.get(label);
  if (!entry) throw new InputError(`label '${label}' is not defined in ${file}`);
  return entry;
}
