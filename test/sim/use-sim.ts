import { afterAll } from "vitest";
import { SimHost, type SimOptions } from "./simhost";

/** A maker of simulated hosts for one test file; all of them are removed after its last test. */
export function useSimHosts(): (o?: SimOptions) => SimHost {
  const hosts: SimHost[] = [];
  afterAll(() => {
    for (const h of hosts) h.cleanup();
  });
  return (o) => {
    const h = new SimHost(o);
    hosts.push(h);
    return h;
  };
}
