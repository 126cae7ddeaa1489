import type { Server } from 'node:http';
import { Injectable } from '@nestjs/common';
import { IsBoolean, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { NonRetryableJobError } from '../../src/core/job.errors';
import { OUTPUT_EVENT_MAX_BYTES } from '../../src/core/job-output';
import type { JobEventView } from '../../src/core/job-event.view';
import { defineJobKind, type JobContext, type JobProcessor } from '../../src/core/job.types';
import { Api, uniqueUser, type EventBody } from '../support/api';
import { startStack, tokenFor, type TestStack } from '../support/app';
import { payloadsOf, waitForTerminal } from '../support/realtime';
import { baseUrl, connectSocket, type ReceivedEvent, type TestSocket } from '../support/socket';
import { waitFor } from '../support/wait';

const WRITES = 10_000;
/** 2-, 3- and 4-byte characters, so that a 64 KiB cut lands inside one unless it is careful. */
const BIG_UNIT = '😀é€x';
const BIG_UNITS = 15_000;

class StreamerParams {
  @IsString()
  @MaxLength(100)
  tag!: string;

  @IsInt()
  @Min(0)
  @Max(100_000)
  writes!: number;

  /** Wait for the test's go-ahead after the first half of the writes. */
  @IsOptional()
  @IsBoolean()
  gate?: boolean;

  /** End with one write of BIG_UNITS × BIG_UNIT (≈ 146 KiB). */
  @IsOptional()
  @IsBoolean()
  big?: boolean;

  /** Pause 1 ms every this many writes, so the writes span several windows (0: never). */
  @IsOptional()
  @IsInt()
  @Min(0)
  pauseEvery?: number;

  @IsOptional()
  @IsBoolean()
  fail?: boolean;
}

type StreamerResult = { writes: number };

/** Write i: mostly short ASCII, every 7th with multi-byte characters, a newline every 50. */
function pieceOf(i: number): string {
  if (i % 7 === 3) return `ü€😀${i}\n`;
  return i % 50 === 49 ? `${i}\n` : `${i} `;
}

function bigText(): string {
  return BIG_UNIT.repeat(BIG_UNITS);
}

/** Exactly what a streamer job with these params writes, in order. */
function expectedOutput(params: Omit<StreamerParams, 'tag'>): string {
  const parts: string[] = [];
  for (let i = 0; i < params.writes; i += 1) parts.push(pieceOf(i));
  if (params.big) parts.push(bigText());
  return parts.join('');
}

/** The test opens a gate (by tag) when the processor may go on; afterAll opens them all. */
const gates = new Map<string, () => void>();
const opened = new Set<string>();

function waitAtGate(tag: string, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (opened.has(tag)) return resolve();
    gates.set(tag, resolve);
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

function openGate(tag: string): void {
  opened.add(tag);
  gates.get(tag)?.();
}

@Injectable()
class StreamerProcessor implements JobProcessor<StreamerParams, StreamerResult> {
  async process(ctx: JobContext<StreamerParams>): Promise<StreamerResult> {
    const { tag, writes, gate = false, big = false, pauseEvery = 0, fail = false } = ctx.params;
    for (let i = 0; i < writes; i += 1) {
      if (gate && i === Math.floor(writes / 2)) await waitAtGate(tag, ctx.signal);
      ctx.output(pieceOf(i));
      if (pauseEvery > 0 && i % pauseEvery === pauseEvery - 1) {
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }
    if (big) ctx.output(bigText());
    if (fail) throw new NonRetryableJobError(`failed after ${writes} writes`);
    return { writes };
  }
}

const streamerKind = defineJobKind({
  name: 'streamer',
  params: StreamerParams,
  processor: StreamerProcessor,
  policies: { attempts: 1 },
});

function outputOf(events: readonly { jobId: string; output?: string }[], jobId: string): string {
  return events
    .filter((event) => event.jobId === jobId)
    .map((event) => event.output ?? '')
    .join('');
}

/** The longest start of the text within maxBytes of UTF-8, never cut inside a character. */
function utf8Start(text: string, maxBytes: number): string {
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    bytes += Buffer.byteLength(char);
    if (bytes > maxBytes) break;
    end += char.length;
  }
  return text.slice(0, end);
}

/** Every event of a job over REST, following nextCursor with small pages. */
async function pagedEvents(api: Api, jobId: string, limit: number): Promise<EventBody[]> {
  const all: EventBody[] = [];
  let after: string | null = null;
  for (let pages = 0; pages < 10_000; pages += 1) {
    const page = await api.events(jobId, { limit, ...(after !== null && { after }) });
    all.push(...page.items);
    after = page.nextCursor;
    if (after === null) return all;
  }
  throw new Error(`events of ${jobId}: more than 10,000 pages`);
}

/** What every job's events must satisfy: output only on progress events, 64 KiB at most each. */
function expectOutputShape(events: readonly { status: string; output?: string }[]): void {
  for (const event of events) {
    if (event.output === undefined) continue;
    expect(event.status).toBe('progress');
    expect(event.output).not.toBe('');
    expect(Buffer.byteLength(event.output)).toBeLessThanOrEqual(OUTPUT_EVENT_MAX_BYTES);
  }
}

class Harness {
  stack!: TestStack;
  url!: string;
  private readonly sockets: TestSocket[] = [];

  constructor(
    readonly label: string,
    private readonly env: Record<string, string>,
  ) {}

  async start(): Promise<void> {
    this.stack = await startStack(this.label, [streamerKind], this.env);
    this.url = baseUrl(this.stack.app.getHttpServer() as Server);
  }

  async stop(): Promise<void> {
    this.sockets.forEach((socket) => socket.close());
    await this.stack?.close();
  }

  async open(user: string, lastEventId?: string): Promise<TestSocket> {
    const socket = await connectSocket(this.url, {
      token: tokenFor(user),
      ...(lastEventId !== undefined && { lastEventId }),
    });
    this.sockets.push(socket);
    return socket;
  }
}

function ofJob(events: readonly ReceivedEvent[], jobId: string): JobEventView[] {
  return payloadsOf(events.filter((event) => event.jobId === jobId));
}

describe.each([
  ['coalesced (PROGRESS_INTERVAL_MS=200)', 'stream-coalesced', '200'],
  ['not coalesced (PROGRESS_INTERVAL_MS=0)', 'stream-direct', '0'],
])('streamed output, %s', (_title, label, interval) => {
  const harness = new Harness(label, { PROGRESS_INTERVAL_MS: interval });

  beforeAll(() => harness.start());

  afterAll(async () => {
    [...gates.keys()].forEach(openGate);
    await harness.stop();
  });

  it('10,000 small writes and one over 64 KiB: live, resumed, replayed, paged over REST and logged, exactly', async () => {
    const user = uniqueUser(label);
    const api = new Api(harness.stack, user);
    const live = await harness.open(user);
    const early = await harness.open(user);
    const params = { writes: WRITES, gate: true, big: true, pauseEvery: 100 };
    const expected = expectedOutput(params);
    const half = expectedOutput({ writes: WRITES / 2 });
    const tag = `${label}-${user}`;
    const job = await api.submitOk('streamer', { ...params, tag });

    // The first half reaches the socket in full while the job waits at its gate.
    await waitFor('the first half of the output on a socket', () =>
      Promise.resolve(outputOf(early.events, job.id).length >= half.length),
    );
    expect(outputOf(early.events, job.id)).toBe(half);
    early.close();
    const lastSeen = early.events.at(-1)!.eventId;
    openGate(tag);

    await waitForTerminal(live, [job.id]);
    expect(await api.waitForStatus(job.id)).toMatchObject({
      status: 'done',
      result: { writes: WRITES },
    });
    const resumed = await harness.open(user, lastSeen);
    const replayed = await harness.open(user, '0');
    await waitForTerminal(resumed, [job.id], 'the resumed replay');
    await waitForTerminal(replayed, [job.id], 'the full replay');

    const events = await pagedEvents(api, job.id, 7);
    expect(outputOf(live.events, job.id)).toBe(expected);
    expect(outputOf(early.events, job.id) + outputOf(resumed.events, job.id)).toBe(expected);
    expect(outputOf(replayed.events, job.id)).toBe(expected);
    expect(outputOf(events, job.id)).toBe(expected);
    // One history, whichever way it is read.
    expect(ofJob(live.events, job.id)).toEqual(events);
    expect(ofJob(replayed.events, job.id)).toEqual(events);
    expect([...ofJob(early.events, job.id), ...ofJob(resumed.events, job.id)]).toEqual(events);

    const log = await api.get(`/jobs/${job.id}/log`);
    expect(log.status).toBe(200);
    expect(log.text).toBe(expected);

    expectOutputShape(events);
    expect(events[0].status).toBe('created');
    expect(events.at(-1)?.status).toBe('done');
    // The big write alone needs three events; the small ones ride on a few writes, not 10,000.
    const carrying = events.filter((event) => event.output !== undefined);
    expect(carrying.filter((e) => Buffer.byteLength(e.output!) > 60_000).length).toBeGreaterThan(1);
    expect(events.length).toBeLessThan(WRITES / 10);
  });

  it('a cancel writes the output streamed so far first; nothing follows the cancelled event', async () => {
    const user = uniqueUser(`${label}-cancel`);
    const api = new Api(harness.stack, user);
    const socket = await harness.open(user);
    const params = { writes: 2000, gate: true };
    const half = expectedOutput({ writes: 1000 });
    const job = await api.submitOk('streamer', { ...params, tag: `${label}-cancel-${user}` });
    await waitFor('some output on the socket', () =>
      Promise.resolve(outputOf(socket.events, job.id).length > 0),
    );
    // The job waits at its gate; once cancelled, it writes the second half anyway.
    expect((await api.post(`/jobs/${job.id}/cancel`)).status).toBe(200);
    await waitForTerminal(socket, [job.id]);
    const events = await pagedEvents(api, job.id, 50);
    expect(events.at(-1)?.status).toBe('cancelled');
    expect(outputOf(events, job.id)).toBe(half);
    expect(ofJob(socket.events, job.id)).toEqual(events);
    expectOutputShape(events);
  });

  it('output written just before an error comes first, in progress events', async () => {
    const user = uniqueUser(`${label}-fail`);
    const api = new Api(harness.stack, user);
    const socket = await harness.open(user);
    const params = { writes: 3000, fail: true };
    const job = await api.submitOk('streamer', { ...params, tag: `${label}-fail-${user}` });
    await waitForTerminal(socket, [job.id]);
    const events = await pagedEvents(api, job.id, 50);
    expect(events.at(-1)).toMatchObject({ status: 'error', error: 'failed after 3000 writes' });
    expect(events.at(-1)).not.toHaveProperty('output');
    expect(outputOf(events, job.id)).toBe(expectedOutput(params));
    expect(outputOf(socket.events, job.id)).toBe(expectedOutput(params));
    expectOutputShape(events);
  });
});

describe('streamed output past JOB_LOG_MAX_BYTES', () => {
  const LOG_MAX = 4096;
  const harness = new Harness('stream-capped', {
    PROGRESS_INTERVAL_MS: '200',
    JOB_LOG_MAX_BYTES: String(LOG_MAX),
  });

  beforeAll(() => harness.start());
  afterAll(() => harness.stop());

  it('streams the first JOB_LOG_MAX_BYTES exactly, then nothing more; the log keeps the tail', async () => {
    const user = uniqueUser('capped');
    const api = new Api(harness.stack, user);
    const socket = await harness.open(user);
    const params = { writes: WRITES, big: true };
    const expected = expectedOutput(params);
    const job = await api.submitOk('streamer', { ...params, tag: `capped-${user}` });
    await waitForTerminal(socket, [job.id]);
    const events = await pagedEvents(api, job.id, 100);
    expect(events.at(-1)?.status).toBe('done');
    const streamed = outputOf(events, job.id);
    expect(streamed).toBe(utf8Start(expected, LOG_MAX));
    expect(outputOf(socket.events, job.id)).toBe(streamed);
    expectOutputShape(events);

    const log = await api.get(`/jobs/${job.id}/log`);
    expect(log.headers['x-log-truncated']).toBe('true');
    expect(Buffer.byteLength(log.text)).toBeLessThanOrEqual(LOG_MAX);
    expect(expected.endsWith(log.text)).toBe(true);
  });
});
