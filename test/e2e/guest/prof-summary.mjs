// Prints where a .cpuprofile's time went: self time by function, and the total (lab diagnostics).
import fs from "node:fs";
const dir = process.argv[2];
for (const f of fs.readdirSync(dir).filter((x) => x.endsWith(".cpuprofile"))) {
  const p = JSON.parse(fs.readFileSync(`${dir}/${f}`, "utf8"));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map();
  p.samples.forEach((s, i) => self.set(s, (self.get(s) || 0) + (p.timeDeltas[i] || 0)));
  const agg = new Map();
  for (const [id, t] of self) {
    const n = byId.get(id);
    const k = `${(n.callFrame.url.split("/").pop() || "(native)")} ${n.callFrame.functionName || "(anon)"}:${n.callFrame.lineNumber}`;
    agg.set(k, (agg.get(k) || 0) + t);
  }
  const tot = [...self.values()].reduce((a, b) => a + b, 0);
  console.log(`PROFILE ${f}: ${(tot / 1000).toFixed(0)} ms sampled`);
  [...agg].sort((a, b) => b[1] - a[1]).slice(0, 30).forEach(([k, t]) => console.log(`PROFILE   ${(t / 1000).toFixed(0).padStart(6)} ms  ${k}`));
}
