import { describeError, EXIT } from "./core/errors";
import { hotplug } from "./cli/hotplug";
import { loadAdmin } from "./admin-loader";

/** Entry point. libxl runs us as `block-iscsimple add|remove` with XENBUS_PATH set: hotplug mode. */
async function main(argv: readonly string[]): Promise<number> {
  const args = argv.slice(2);
  const xenbusPath = process.env.XENBUS_PATH;
  if (xenbusPath !== undefined && args.length === 1 && (args[0] === "add" || args[0] === "remove")) {
    // libxl waits for the process itself: it ends with the call, whatever it left pending (a write
    // the kernel still holds, in the thread pool), its log handed over
    const code = await hotplug(args[0], xenbusPath);
    process.exit(code);
  }
  return loadAdmin()(args);
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`block-iscsimple: internal error: ${describeError(err).message}\n`);
    process.exitCode = EXIT.failed;
  },
);
