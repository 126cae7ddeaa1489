import { isConnectionFailure } from '../common/dependency.errors';

export interface BatcherOptions {
  /**
   * While a batch is running, how long the first item of the next one waits for others; 0: only
   * those added in the same tick. With nothing running, items go after the current tick.
   */
  windowMs: number;
  maxSize: number;
  /** Batches run at the same time; items added meanwhile wait and join the next one. */
  maxInFlight: number;
  /**
   * Idle, run what was added once the current tick's promise chains have settled
   * (process.nextTick) instead of after I/O (setImmediate): for items that all come from one
   * settled result, to leave together with the other Redis commands of that tick.
   */
  sameTick?: boolean;
}

interface Waiting<I, O> {
  item: I;
  resolve: (outcome: O) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: items added within a short window (or until a batch is full) are handed to `run`
 * together, and each caller gets its own outcome (`run` answers one per item, in order). While
 * `maxInFlight` batches are running, new items queue up, so the busier the store, the larger the
 * batches. A batch that fails for another reason than a lost connection is run again item by
 * item, so one bad item cannot fail its neighbours.
 */
export class Batcher<I, O> {
  private queued: Waiting<I, O>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private tickPending = false;
  private inFlight = 0;
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly run: (items: I[]) => Promise<O[]>,
    private readonly options: BatcherOptions,
  ) {}

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queued.push({ item, resolve, reject });
      if (this.queued.length >= this.options.maxSize) this.flush();
      else this.schedule();
    });
  }

  /** Resolves once every item added so far has its outcome. */
  async drain(): Promise<void> {
    while (this.queued.length > 0 || this.running.size > 0) {
      this.flush();
      await Promise.all([...this.running]);
    }
  }

  private schedule(): void {
    if (this.timer || this.immediate || this.tickPending) return;
    // Idle, nothing is gained by waiting: the items of this tick go at once. Busy, the window
    // gathers more per round trip (and a running batch's end sends them sooner).
    if (this.options.windowMs > 0 && this.inFlight > 0) {
      this.timer = setTimeout(() => this.flush(), this.options.windowMs);
    } else if (this.options.sameTick) {
      this.tickPending = true;
      process.nextTick(() => {
        this.tickPending = false;
        this.flush();
      });
    } else {
      this.immediate = setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = undefined;
    while (this.queued.length > 0 && this.inFlight < this.options.maxInFlight) {
      const batch = this.queued.splice(0, this.options.maxSize);
      this.inFlight += 1;
      const running = this.execute(batch).finally(() => {
        this.inFlight -= 1;
        this.running.delete(running);
        // What queued up meanwhile has waited long enough.
        if (this.queued.length > 0) this.flush();
      });
      this.running.add(running);
    }
  }

  private async execute(batch: Waiting<I, O>[]): Promise<void> {
    try {
      const outcomes = await this.run(batch.map((waiting) => waiting.item));
      batch.forEach((waiting, index) => waiting.resolve(outcomes[index]));
    } catch (error) {
      if (batch.length === 1 || isConnectionFailure(error)) {
        for (const waiting of batch) waiting.reject(error);
        return;
      }
      await Promise.all(batch.map((waiting) => this.execute([waiting])));
    }
  }
}
