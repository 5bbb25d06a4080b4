/** Exit codes of the program (documented in README and the man page). */
export const EXIT = {
  ok: 0,
  /** An operation on the host failed (and was rolled back). */
  failed: 1,
  /** Bad input: spec, tab.conf, config file, command line. Nothing was changed. */
  badInput: 2,
  /** Refused: the disk is in use elsewhere, or another safety rule says no. Nothing was changed. */
  refused: 3,
} as const;

/** An error whose message is meant for the administrator, one line, naming the bad value. */
export class UserError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.badInput) {
    super(message);
    this.name = "UserError";
    this.exitCode = exitCode;
  }
}

export class RefusedError extends UserError {
  constructor(message: string) {
    super(message, EXIT.refused);
    this.name = "RefusedError";
  }
}

/** One line, no control characters: safe for xenstore, syslog and a terminal. */
export function oneLine(text: string, max = 400): string {
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, " ").replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
