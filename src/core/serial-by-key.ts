/**
 * Tasks in turn per key, and different keys at once: md's events of one array are handled in
 * mdadm's order, while a burst for many arrays (a filer gone: every array fails together) does not
 * make the last array's guard wait for all the others'. A task's failure goes to its onError and
 * does not stop the tasks after it.
 */
export class SerialByKey {
  private readonly tails = new Map<string, Promise<void>>();

  constructor(private readonly onError: (key: string, err: unknown) => void) {}

  /** Runs TASK once every task given before it under KEY has ended. */
  run(key: string, task: () => Promise<void>): void {
    const before = this.tails.get(key) ?? Promise.resolve();
    const tail = before.then(task).catch((err: unknown) => {
      try {
        this.onError(key, err);
      } catch {
        // a failing report must not stop the key's next tasks
      }
    });
    this.tails.set(key, tail);
    // forget an idle key (the map would grow with every md name ever seen)
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
  }

  /** How many keys have a task running or waiting. */
  get busy(): number {
    return this.tails.size;
  }

  /** Resolves when every task given so far (and any given meanwhile) has ended. */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.all([...this.tails.values()]);
  }
}
