import { Injectable } from '@nestjs/common';
import type { PublishedJobEvent } from '../core/job-event-bus';

/** Something in this process that follows users' events besides sockets (an MCP session). */
export interface JobEventListener {
  readonly userId: string;
  offer(event: PublishedJobEvent): void;
  /** The live channel was interrupted: read what was missed. */
  resume(): void;
}

/** This instance's non-socket listeners, fed by JobEventRelay from its one subscription. */
@Injectable()
export class JobEventListeners {
  private readonly byUser = new Map<string, Set<JobEventListener>>();

  add(listener: JobEventListener): () => void {
    let set = this.byUser.get(listener.userId);
    if (!set) this.byUser.set(listener.userId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.byUser.get(listener.userId) === set) {
        this.byUser.delete(listener.userId);
      }
    };
  }

  deliver(event: PublishedJobEvent): void {
    for (const listener of this.byUser.get(event.userId) ?? []) listener.offer(event);
  }

  resumeAll(): void {
    for (const set of this.byUser.values()) for (const listener of set) listener.resume();
  }
}
