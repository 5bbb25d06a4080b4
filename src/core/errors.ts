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

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * The one error family of the program: the exit code is part of the type, and an error that wraps
 * another keeps it as its `cause` (Error's own), so that nothing is flattened on the way up.
 * `describeError` is the one place that turns any error into a message and an exit code.
 */
export abstract class ProgramError extends Error {
  abstract readonly exitCode: ExitCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad input (a spec, tab.conf, a config file, the command line): one line naming the bad part. */
export class InputError extends ProgramError {
  readonly exitCode = EXIT.badInput;
}

/**
 * Several problems in one input (a file with more than one bad line): the message is the first
 * (one line, as for any bad input), `problems` holds them all (check lists each one).
 */
export class InputErrors extends InputError {
  constructor(readonly problems: readonly string[]) {
    super(problems.length > 1 ? `${problems[0] as string} (and ${problems.length - 1} more problem${problems.length > 2 ? "s" : ""}: block-iscsimple check lists them)` : (problems[0] ?? "bad input"));
  }
}

/**
 * Collects the problems of an input instead of stopping at the first: each part is checked by
 * `run`, an InputError becomes one problem (an InputErrors, its problems); `done` throws them all.
 */
export class Problems {
  readonly list: string[] = [];
  add(message: string): void {
    this.list.push(message);
  }
  run<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (err) {
      if (err instanceof InputErrors) this.list.push(...err.problems);
      else if (err instanceof InputError) this.list.push(err.message);
      else throw err;
      return undefined;
    }
  }
  done(): void {
    if (this.list.length > 0) throw new InputErrors(this.list);
  }
}

/** The problems an error stands for (one, or an InputErrors' list). */
export function problemsOf(err: unknown): string[] {
  return err instanceof InputErrors ? [...err.problems] : [errorMessage(err)];
}

/** A safety rule says no (the disk is in use, the guard is set...). Nothing was changed. */
export class RefusedError extends ProgramError {
  readonly exitCode = EXIT.refused;
}

/** An operation on the host failed. */
export class FailedError extends ProgramError {
  readonly exitCode = EXIT.failed;
}

/** A broken promise inside the program itself (a bug): the message starts with "internal:". */
export class InternalError extends ProgramError {
  readonly exitCode = EXIT.failed;
  constructor(message: string, options?: { cause?: unknown }) {
    super(`internal: ${message}`, options);
  }
}

/**
 * A step of an add failed, after the rollback. The message names the step and says why; the exit
 * code is the cause's (a refusal stays a refusal), the cause is kept.
 */
export class StepFailed extends ProgramError {
  readonly exitCode: ExitCode;
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.exitCode = exitCodeOf(cause);
  }
}

export function exitCodeOf(err: unknown): ExitCode {
  return err instanceof ProgramError ? err.exitCode : EXIT.failed;
}

/** One line, no control characters: safe for xenstore, syslog and a terminal. */
export function oneLine(text: string, max = 400): string {
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, " ").replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The one place an error becomes what the administrator sees: one line, and the exit code. */
export function describeError(err: unknown): { readonly message: string; readonly exitCode: ExitCode } {
  return { message: oneLine(errorMessage(err)), exitCode: exitCodeOf(err) };
}
