import { io, type Socket } from 'socket.io-client';
import { isAfter } from './cursor.js';
import { ConveyorHttpError, ResyncRequiredError, UnauthorizedError } from './errors.js';
import { TERMINAL_STATUSES, type JobEvent, type JobStatus, type Page } from './types.js';

export interface StreamOptions {
  /** Resume after this event id (events() only; watch() starts from the job's first event). */
  lastEventId?: string;
  signal?: AbortSignal;
}

/** How an iterator is currently receiving events; reported through onTransport. */
export type Transport = 'socket' | 'polling';

/** What the streams take from their client: how to reach the socket, and the REST pages. */
export interface StreamSource {
  baseUrl: string;
  /** Read at every (re)connect: the client's token may have changed. */
  token(): string;
  transports: ('websocket' | 'polling')[];
  pollIntervalMs: number;
  connectTimeoutMs: number;
  onTransport(transport: Transport): void;
  eventHistory(id: string, after?: string, limit?: number): Promise<Page<JobEvent>>;
  userEventHistory(after?: string, limit?: number): Promise<Page<JobEvent>>;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done);
  });
}

/** A queue an event source pushes into and an async iterator pulls from. */
class EventChannel<T> {
  private readonly items: T[] = [];
  private waiting: {
    resolve: (value: IteratorResult<T>) => void;
    reject: (error: Error) => void;
  } | null = null;
  private failure: Error | null = null;
  private closed = false;

  push(item: T): void {
    if (this.closed) return;
    if (this.waiting) {
      const { resolve } = this.waiting;
      this.waiting = null;
      resolve({ value: item, done: false });
    } else this.items.push(item);
  }

  fail(error: Error): void {
    if (this.closed) return;
    this.failure = error;
    this.closed = true;
    if (this.waiting) {
      const { reject } = this.waiting;
      this.waiting = null;
      reject(error);
    }
  }

  close(): void {
    this.closed = true;
    if (this.waiting) {
      const { resolve } = this.waiting;
      this.waiting = null;
      resolve({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<T>> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve({ value: item, done: false });
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }
}

/** The live event streams: Socket.IO with resume, a polling fallback, and the REST pager. */
export class LiveEvents {
  constructor(private readonly source: StreamSource) {}

  open(options: StreamOptions, jobId: string | undefined): AsyncIterableIterator<JobEvent> {
    const channel = new EventChannel<JobEvent>();
    const stop = new AbortController();
    const signal = options.signal;
    signal?.addEventListener('abort', () => stop.abort());
    void this.run(channel, stop.signal, jobId, options.lastEventId).then(
      () => channel.close(),
      (error: Error) => channel.fail(error),
    );
    const iterator: AsyncIterableIterator<JobEvent> = {
      next: () => channel.next(),
      return: () => {
        stop.abort();
        channel.close();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  private async run(
    channel: EventChannel<JobEvent>,
    signal: AbortSignal,
    jobId: string | undefined,
    lastEventId: string | undefined,
  ): Promise<void> {
    let last = lastEventId;
    let finished = false;
    const emit = (event: JobEvent): void => {
      if (!isAfter(event.eventId, last) || (jobId !== undefined && event.jobId !== jobId)) return;
      last = event.eventId;
      channel.push(event);
      if (jobId !== undefined && TERMINAL_STATUSES.includes(event.status as JobStatus)) {
        finished = true;
      }
    };
    if (jobId !== undefined) {
      // The job's past first: the socket then resumes right after its last stored event.
      await this.replay(
        (after) => this.source.eventHistory(jobId, after, 100),
        undefined,
        emit,
        signal,
      );
      if (finished) return;
    }
    const outcome = await this.viaSocket(
      signal,
      () => last,
      emit,
      () => finished,
    );
    if (outcome === 'ended' || signal.aborted || finished) return;
    this.source.onTransport('polling');
    if (jobId === undefined && last === undefined) {
      // Live from now, as over the socket: what is already stored is not news.
      last = (await this.source.userEventHistory()).nextCursor ?? '0';
    }
    while (!signal.aborted && !finished) {
      if (jobId !== undefined) {
        await this.replay(
          (after) => this.source.eventHistory(jobId, after, 100),
          last,
          emit,
          signal,
        );
      } else {
        await this.followUserEvents(() => last ?? '0', emit, signal);
      }
      if (!finished) await sleep(this.source.pollIntervalMs, signal);
    }
  }

  /**
   * Streams over one Socket.IO connection until the signal aborts or the job ends ('ended').
   * Resolves 'unreachable' when the socket cannot connect within connectTimeoutMs, at first or
   * after losing its connection: the caller then polls on from the last event it yielded.
   */
  private viaSocket(
    signal: AbortSignal,
    last: () => string | undefined,
    emit: (event: JobEvent) => void,
    finished: () => boolean,
  ): Promise<'ended' | 'unreachable'> {
    return new Promise<'ended' | 'unreachable'>((resolve, reject) => {
      let everConnected = false;
      const socket: Socket = io(this.source.baseUrl || undefined, {
        transports: this.source.transports,
        forceNew: true,
        reconnectionDelay: 250,
        reconnectionDelayMax: 2000,
        // Read at every (re)connect: the server replays what came after the last yielded event.
        auth: (callback) => {
          const lastEventId = last();
          const token = this.source.token();
          callback(lastEventId === undefined ? { token } : { token, lastEventId });
        },
      });
      const finish = (outcome: 'ended' | 'unreachable' | Error) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        socket.removeAllListeners();
        socket.offAny();
        socket.close();
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      const onAbort = () => finish('ended');
      const giveUp = () => setTimeout(() => finish('unreachable'), this.source.connectTimeoutMs);
      let timer = giveUp();
      signal.addEventListener('abort', onAbort);
      socket.on('connect', () => {
        if (!everConnected) this.source.onTransport('socket');
        everConnected = true;
        clearTimeout(timer);
      });
      socket.on('connect_error', (error: Error) => {
        if (/^unauthorized/.test(error.message)) {
          finish(
            new UnauthorizedError(401, {
              statusCode: 401,
              error: 'Unauthorized',
              message: error.message,
            }),
          );
        } else if (!everConnected) finish('unreachable');
        // After a disconnect Socket.IO keeps reconnecting by itself, within the timer's bound.
      });
      socket.on('disconnect', (reason: string) => {
        clearTimeout(timer);
        timer = giveUp();
        // A server-side disconnect (a restart, a resync) is not retried by Socket.IO itself.
        if (reason === 'io server disconnect' && !signal.aborted) socket.connect();
      });
      socket.on('resync', (notice: { reason: string; lastEventId: string }) => {
        finish(new ResyncRequiredError(notice.lastEventId, notice.reason));
      });
      socket.onAny((name: string, payload: unknown) => {
        if (!/:(created|processing|progress|done|error|cancelled)$/.test(name)) return;
        emit(payload as JobEvent);
        if (finished()) finish('ended');
      });
    });
  }

  /** Every page after `from`, each yielded as it arrives (a long backlog is not gathered first). */
  private async replay(
    read: (after: string | undefined) => Promise<Page<JobEvent>>,
    from: string | undefined,
    emit: (event: JobEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    let cursor = from;
    while (!signal.aborted) {
      const page = await read(cursor);
      for (const event of page.items) emit(event);
      if (page.nextCursor === null) return;
      cursor = page.nextCursor;
    }
  }

  /** The caller's retained events after the last one yielded; a pruned one ends the stream. */
  private async followUserEvents(
    last: () => string,
    emit: (event: JobEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    try {
      await this.replay((after) => this.source.userEventHistory(after, 1000), last(), emit, signal);
    } catch (error) {
      if (error instanceof ConveyorHttpError && error.status === 410) {
        throw new ResyncRequiredError(last(), error.body.message);
      }
      throw error;
    }
  }
}
