import request from 'supertest';
import type { JobEventView } from '../../src/core/job-event.view';
import { tokenFor } from './app';
import type { ReceivedEvent, TestSocket } from './socket';
import { waitFor } from './wait';

/** What GET /jobs/:id/events answers, one page. */
interface EventPage {
  items: JobEventView[];
  nextCursor: string | null;
}

/** Every event of a job over REST (following nextCursor), as a polling client sees them. */
export async function polledEvents(
  url: string,
  user: string,
  jobId: string,
  after?: string,
): Promise<JobEventView[]> {
  const all: JobEventView[] = [];
  let cursor: string | null | undefined = after;
  do {
    const res = await request(url)
      .get(`/api/v1/jobs/${jobId}/events`)
      .query({ limit: 1000, ...(cursor !== undefined && cursor !== null && { after: cursor }) })
      .set('Authorization', `Bearer ${tokenFor(user)}`);
    if (res.status !== 200) {
      throw new Error(`GET events of ${jobId}: ${res.status} ${JSON.stringify(res.body)}`);
    }
    const page = res.body as EventPage;
    all.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return all;
}

/** The events of several jobs of one user, merged in eventId order (the order a socket sees). */
export async function polledUserEvents(
  url: string,
  user: string,
  jobIds: readonly string[],
): Promise<JobEventView[]> {
  const perJob = await Promise.all(jobIds.map((id) => polledEvents(url, user, id)));
  return perJob.flat().sort(compareEventIds);
}

export function compareEventIds(a: { eventId: string }, b: { eventId: string }): number {
  const x = BigInt(a.eventId);
  const y = BigInt(b.eventId);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * The payloads of what a socket received, after checking that each event's name is
 * `<kind>:<status>` of its payload.
 */
export function payloadsOf(events: readonly ReceivedEvent[]): JobEventView[] {
  return events.map(({ name, ...view }) => {
    if (name !== `${view.kind}:${view.status}`) {
      throw new Error(`event named ${name} carries ${view.kind}:${view.status}`);
    }
    return view;
  });
}

/** Throws unless the ids are strictly increasing (as BigInts). */
export function expectStrictlyIncreasing(events: readonly { eventId: string }[]): void {
  for (let i = 1; i < events.length; i += 1) {
    if (BigInt(events[i].eventId) <= BigInt(events[i - 1].eventId)) {
      throw new Error(
        `eventId ${events[i].eventId} at ${i} follows ${events[i - 1].eventId}: not increasing`,
      );
    }
  }
}

/** Waits until the socket has received a terminal event for every one of the jobs. */
export function waitForTerminal(
  socket: TestSocket,
  jobIds: readonly string[],
  what = 'terminal events',
  timeoutMs = 60_000,
): Promise<true> {
  const terminal = new Set(['done', 'error', 'cancelled']);
  return waitFor(
    `${what} for ${jobIds.length} job(s)`,
    () => {
      const finished = new Set(
        socket.events.filter((e) => terminal.has(e.status)).map((e) => e.jobId),
      );
      return Promise.resolve(jobIds.every((id) => finished.has(id)));
    },
    timeoutMs,
  );
}
