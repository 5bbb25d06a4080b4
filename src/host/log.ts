import { closeSync, writeSync } from "node:fs";
import { openAppend } from "./safe-files";
import { spawn, type ChildProcess } from "node:child_process";
import { logger } from "../core/commands";
import { oneLine, RefusedError } from "../core/errors";
import { toolPath } from "./paths";

export interface LogOptions {
  readonly verbose: boolean;
  readonly syslog: boolean;
  readonly file: string | null;
  /** Prefix of every line: the operation and the device, e.g. "add backend/vbd/3/51714". */
  readonly context: string;
}

const SEVERITY: Readonly<Record<string, number>> = { crit: 2, err: 3, warning: 4, info: 6 };

/**
 * One line per step to syslog (tag block-iscsimple, through one `logger` child fed line by line,
 * so lines reach syslog even if we are SIGKILLed) and to the log file; stderr stays short.
 */
export class Log {
  private syslogChild: ChildProcess | null = null;
  private fd: number | null = null;
  private fdFile: string | null = null;
  private fdOpened = 0;
  private refusedSaid = false;
  private opts: LogOptions;
  constructor(opts: LogOptions) {
    this.opts = opts;
  }

  configure(opts: Partial<LogOptions>): void {
    this.opts = { ...this.opts, ...opts };
  }

  /** A step of the operation: file and syslog; stderr with --verbose. */
  step(message: string): void {
    this.write("info", message);
    if (this.opts.verbose) process.stderr.write(`block-iscsimple: ${message}\n`);
  }

  /** A command that ran: file and syslog; stderr with --verbose. */
  command(message: string): void {
    this.step(message);
  }

  warn(message: string): void {
    this.write("warning", message);
    process.stderr.write(`block-iscsimple: warning: ${message}\n`);
  }

  /** Data at risk, now: syslog's crit priority (for the administrators' alerts), file and stderr. */
  critical(message: string): void {
    this.write("crit", message);
    process.stderr.write(`block-iscsimple: CRITICAL: ${message}\n`);
  }

  error(message: string): void {
    this.write("err", message);
    process.stderr.write(`block-iscsimple: ${message}\n`);
  }

  private write(level: string, message: string): void {
    const line = oneLine(`${this.opts.context}: ${message}`, 2000);
    if (this.opts.file !== null) {
      try {
        // kept open for a few seconds (an add's lines), for appending (O_APPEND: the lines of
        // parallel adds do not mix); opened again after that, so that a long-running monitor
        // follows a rotated log
        const now = performance.now();
        if (this.fd === null || this.fdFile !== this.opts.file || now - this.fdOpened > 5000) {
          if (this.fd !== null) closeSync(this.fd);
          this.fd = null;
          // never through a link, only in a folder only root can write (safe-files.ts)
          this.fd = openAppend(this.opts.file);
          this.fdFile = this.opts.file;
          this.fdOpened = now;
        }
        writeSync(this.fd, `${new Date().toISOString()} block-iscsimple[${process.pid}] ${level}: ${line}\n`);
      } catch (err) {
        // no log directory (no Xen installed): the file log is best effort; an unsafe one is said once
        if (err instanceof RefusedError && !this.refusedSaid) {
          this.refusedSaid = true;
          process.stderr.write(`block-iscsimple: warning: no log file: ${err.message}\n`);
        }
      }
    }
    if (this.opts.syslog) this.toSyslog(level, line);
  }

  private toSyslog(level: string, line: string): void {
    try {
      if (this.syslogChild === null) {
        const [file, ...args] = logger.syslog(process.pid);
        const child = spawn(file, args, {
          env: { ...process.env, PATH: toolPath() },
          stdio: ["pipe", "ignore", "ignore"],
        });
        child.on("error", () => {
          this.opts = { ...this.opts, syslog: false };
        });
        child.stdin?.on("error", () => undefined);
        child.unref();
        this.syslogChild = child;
      }
      // daemon facility (3 x 8) plus the severity
      this.syslogChild.stdin?.write(`<${24 + (SEVERITY[level] ?? 6)}>${level === "info" ? "" : `${level}: `}${line}\n`);
    } catch {
      this.opts = { ...this.opts, syslog: false };
    }
  }

  /**
   * Hands the last lines to the logger child and lets go of it. Lines in the pipe survive our exit,
   * so there is no need to wait for logger itself (a slow logger must not slow every hotplug).
   */
  async close(): Promise<void> {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    const child = this.syslogChild;
    this.syslogChild = null;
    const stdin = child?.stdin;
    if (!stdin || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 500);
      stdin.end(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
