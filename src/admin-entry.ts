// The second script of the executable (build/admin.cjs, an asset of the SEA blob): the
// administrators' commands, compiled only when one is run (see admin-loader.ts).
export { admin } from "./cli/admin";
