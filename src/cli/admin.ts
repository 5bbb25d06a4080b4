import { CommanderError } from "commander";
import { describeError, EXIT } from "../core/errors";
import { buildProgram, usageExit } from "./program";

/** The administrators' command line (commander): every command but libxl's and mdadm's calls. */
export async function admin(args: readonly string[]): Promise<number> {
  let result: number = EXIT.ok;
  const program = buildProgram((code) => {
    result = code;
  });
  // no command at all: the usage, on stderr, and a failure (a script that forgot its command)
  if (args.length === 0) {
    process.stderr.write(program.helpInformation());
    return EXIT.badInput;
  }
  try {
    await program.parseAsync([...args], { from: "user" });
    return result;
  } catch (err) {
    if (err instanceof CommanderError) return usageExit(err);
    const { message, exitCode } = describeError(err);
    process.stderr.write(`block-iscsimple: ${message}\n`);
    return exitCode;
  }
}
