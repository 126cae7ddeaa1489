import type { PublishedJobEvent } from '../core/job-event-bus';
import { toEventView, type JobEventView } from '../core/job-event.view';
import { retainedUserEventsAfter, type JobRepository } from '../core/job.repository';
import type { JobEvent } from '../generated/prisma/client';
import type { ResyncNotice } from './realtime.types';

/** Whoever follows a user's events through a feed: a socket, or an MCP session. */
export interface EventSink {
  /** The user's next event: in id order, each once. */
  emit(event: JobEventView): void;
  /** The follower's lastEventId is no longer retained: it must refetch job state. */
  resync(notice: ResyncNotice): void;
  /** The feed found no starting point and stops; the follower may reconnect. */
  disconnect(): void;
}

const PAGE = 500;
/**
 * How long an event that overtook its predecessor waits for it before the gap is read from the
 * database. A job's `created` comes from the api and its `processing` from a worker, which under
 * load often wins by the api's event-loop lag (measured up to ~250 ms): at 100 ms one job in 80
 * cost a database read. A truly lost message waits longer; that is rare, as a resubscribe reads
 * its gap at once.
 */
export const REORDER_WAIT_MS = 500;

/**
 * One follower's view of its user's event stream: everything after `lastSent`, in id order, once.
 * All work runs on one promise chain, so a replay and the live events that arrive during it
 * cannot interleave. A live event whose predecessor is not the last one sent means something was
 * missed (a dropped or reordered publish): the gap is read back from the database.
 */
export class UserEventFeed {
  private lastSent = 0n;
  private chain: Promise<void> = Promise.resolve();
  /** Live events that arrived before their predecessor, by the predecessor's id. */
  private readonly early = new Map<bigint, PublishedJobEvent>();
  private gapTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly sink: EventSink,
    private readonly userId: string,
    private readonly events: Pick<
      JobRepository,
      'userEventsAfter' | 'latestUserEventId' | 'userEventExists'
    >,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** `current`: lastEventId was just read as the user's latest, so it needs no retention check. */
  start(lastEventId: bigint | undefined, current = false): Promise<void> {
    return this.enqueue(async () => {
      try {
        await this.begin(lastEventId, current);
      } catch (error) {
        // Without a known starting point the feed could only guess; the client reconnects
        // with its lastEventId and gets exactly what it missed.
        this.sink.disconnect();
        throw error;
      }
    });
  }

  private async begin(lastEventId: bigint | undefined, current: boolean): Promise<void> {
    if (lastEventId === undefined) {
      this.lastSent = (await this.events.latestUserEventId(this.userId)) ?? 0n;
      return;
    }
    this.lastSent = lastEventId;
    if (current) return this.catchUp();
    const first = await retainedUserEventsAfter(this.events, this.userId, lastEventId, PAGE);
    if (!first) {
      this.lastSent = (await this.events.latestUserEventId(this.userId)) ?? 0n;
      this.sink.resync({
        reason: 'lastEventId is no longer retained; refetch job state over REST',
        lastEventId: lastEventId.toString(),
      });
      return;
    }
    await this.catchUp(first);
  }

  offer(event: PublishedJobEvent): Promise<void> {
    return this.enqueue(() => {
      const id = BigInt(event.eventId);
      if (this.closed || id <= this.lastSent) return;
      const previous = event.previousEventId === null ? 0n : BigInt(event.previousEventId);
      if (previous !== this.lastSent) {
        // Publishes from different processes may overtake each other: give the predecessor a
        // moment to arrive before reading the gap from the database.
        this.early.set(previous, event);
        this.scheduleGapRead();
        return;
      }
      this.send(toPayload(event), id);
      this.sendEarlySuccessors();
    });
  }

  /** Resolves once everything offered so far has been handled. */
  settled(): Promise<void> {
    return this.chain;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.gapTimer);
    this.early.clear();
  }

  /** Reads the gap if the held-back events' predecessors have not come in time; again if it fails. */
  private scheduleGapRead(): void {
    if (this.gapTimer || this.closed) return;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = undefined;
      void this.enqueue(async () => {
        try {
          await this.catchUp();
        } catch (error) {
          if (this.early.size > 0) this.scheduleGapRead();
          throw error;
        }
      });
    }, REORDER_WAIT_MS);
    this.gapTimer.unref();
  }

  /** After the live channel was interrupted: read whatever was missed. */
  resume(): Promise<void> {
    return this.enqueue(() => this.catchUp());
  }

  /** Sends every stored event after lastSent, starting with `firstPage` when it was read already. */
  private async catchUp(firstPage?: JobEvent[]): Promise<void> {
    let page = firstPage;
    while (!this.closed) {
      page ??= await this.events.userEventsAfter(this.userId, this.lastSent, PAGE);
      for (const event of page) this.send(toEventView(event), event.id);
      if (page.length < PAGE) break;
      page = undefined;
    }
    this.sendEarlySuccessors();
  }

  /** Sends held-back events that now follow on, and forgets those already sent. */
  private sendEarlySuccessors(): void {
    for (let next = this.early.get(this.lastSent); next; next = this.early.get(this.lastSent)) {
      this.early.delete(this.lastSent);
      this.send(toPayload(next), BigInt(next.eventId));
    }
    for (const [previous, event] of this.early) {
      if (BigInt(event.eventId) <= this.lastSent) this.early.delete(previous);
    }
    if (this.early.size === 0) {
      clearTimeout(this.gapTimer);
      this.gapTimer = undefined;
    }
  }

  private send(view: JobEventView, id: bigint): void {
    this.sink.emit(view);
    this.lastSent = id;
  }

  private enqueue(work: () => Promise<void> | void): Promise<void> {
    this.chain = this.chain.then(work).catch(this.onError);
    return this.chain;
  }
}

function toPayload(event: PublishedJobEvent): JobEventView {
  const { userId: _user, previousEventId: _previous, ...view } = event;
  return view;
}
