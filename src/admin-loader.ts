import { readFileSync } from "node:fs";
import path from "node:path";
import * as sea from "node:sea";
import vm from "node:vm";
import { InternalError } from "./core/errors";

type Admin = (args: readonly string[]) => Promise<number>;

/**
 * The administrators' commands live in a second script, so that the calls that must be quick
 * (libxl's add and remove) never compile commander and the commands they do not
 * run: compiling is most of a start-up under emulation. In the executable the script is an asset of
 * the SEA blob; run as `node build/bundle.cjs`, it is build/admin.cjs beside it. It is compiled with
 * this script's own `require` (built-in modules only, as in any SEA).
 */
export function loadAdmin(): Admin {
  const code = sea.isSea() ? sea.getAsset("admin.cjs", "utf8") : readFileSync(path.join(__dirname, "admin.cjs"), "utf8");
  const mod: { exports: { admin?: Admin } } = { exports: {} };
  const run = vm.compileFunction(code, ["module", "exports", "require"], { filename: "admin.cjs" }) as (m: typeof mod, e: typeof mod.exports, r: NodeJS.Require) => void;
  run(mod, mod.exports, require);
  if (typeof mod.exports.admin !== "function") throw new InternalError("admin.cjs does not export admin()");
  return mod.exports.admin;
}
