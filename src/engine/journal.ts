import type { AttachmentRecord } from "../core/records";
import type { ChildWatcher } from "../host/run";
import { processStartNow } from "../host/locks";
import type { StateStore } from "../host/state-store";

/**
 * The attachment record, kept on disk as the add goes: what it claimed, what it found and which
 * children run now. `remove` reads it to undo a half-done add, even one that was SIGKILLed.
 */
export class Journal implements ChildWatcher {
  private chain: Promise<void> = Promise.resolve();
  constructor(
    private readonly store: StateStore,
    public record: AttachmentRecord,
  ) {}

  async update(change: Partial<AttachmentRecord>): Promise<void> {
    this.record = { ...this.record, ...change };
    const snapshot = this.record;
    const write = this.chain.then(() => this.store.putAttachment(snapshot));
    this.chain = write.catch(() => undefined);
    await write;
  }

  started(pid: number, argv0: string): void {
    // its start time tells it from a process that reuses the pid later (the orphan killer checks it)
    const start = processStartNow(pid);
    void this.update({ children: [...this.record.children, start === null ? [pid, argv0] : [pid, argv0, start]] }).catch(() => undefined);
  }

  ended(pid: number): void {
    void this.update({ children: this.record.children.filter(([p]) => p !== pid) }).catch(() => undefined);
  }

  async settle(): Promise<void> {
    await this.chain;
  }
}
