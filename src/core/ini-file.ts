import { parse } from "ini";
import { UserError } from "./errors";

/** Parses an ini file's text; a syntax error names the file. */
export function parseIniFile(text: string, file: string): Record<string, unknown> {
  try {
    return parse(text);
  } catch (err) {
    throw new UserError(`${file}: cannot be read as an ini file: ${err instanceof Error ? err.message : String(err)}`);
  }
}
