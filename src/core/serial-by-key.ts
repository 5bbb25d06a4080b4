/**
 * Tasks in turn per key, and a few keys at once: md's events of one array are handled in mdadm's
 * order, while in a burst for many arrays (a filer gone: every array fails together) one array
 * whose label lock is busy (up to half a second) does not hold back every guard after it. At most
 * `limit` tasks run at once, taken in the order they became free to run: were all of them to run
 * together, their file-system reads would interleave and every guard of a burst would be written
 * near its end instead of one after the other. A task's failure goes to onError and does not stop
 * the tasks after it.
 */
export class SerialByKey {
  private readonly tails = new Map<string, Promise<void>>();
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly onError: (key: string, err: unknown) => void,
    private readonly limit = 4,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`SerialByKey: limit ${limit}`);
  }

  /** Runs TASK once every task given before it under KEY has ended and a slot is free. */
  run(key: string, task: () => Promise<void>): void {
    const before = this.tails.get(key) ?? Promise.resolve();
    const tail = before
      .then(() => this.slot())
      .then(async (release) => {
        try {
          await task();
        } finally {
          release();
        }
      })
      .catch((err: unknown) => {
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

  /** A slot to run in; its release hands it to the first waiting task. */
  private slot(): Promise<() => void> {
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    };
    if (this.running < this.limit) {
      this.running++;
      return Promise.resolve(release);
    }
    return new Promise((resolve) => this.waiting.push(() => resolve(release)));
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
