import type { Server } from 'node:http';
import { Injectable } from '@nestjs/common';
import { IsBoolean, IsInt, IsOptional, Max, Min } from 'class-validator';
import { NonRetryableJobError } from '../../src/core/job.errors';
import { defineJobKind, type JobContext, type JobProcessor } from '../../src/core/job.types';
import { Api, uniqueUser, type EventBody } from '../support/api';
import { startStack, tokenFor, type TestStack } from '../support/app';
import { payloadsOf, waitForTerminal } from '../support/realtime';
import { baseUrl, connectSocket, type TestSocket } from '../support/socket';

const INTERVAL_MS = 200;
const REPORTS = 10_000;

class ChattyParams {
  @IsInt()
  @Min(1)
  @Max(100_000)
  reports!: number;

  /** Pause 1 ms every this many reports, so the reports span several windows (0: never). */
  @IsOptional()
  @IsInt()
  @Min(0)
  pauseEvery?: number;

  @IsOptional()
  @IsBoolean()
  fail?: boolean;
}

type ChattyResult = { reports: number };

/** The progress value of report i (1-based): 0 … 99, the last report is 99. */
function progressOf(i: number, reports: number): number {
  return Math.min(99, Math.floor((i * 100) / (reports + 1)));
}

/** Reports progress `reports` times as fast as it can, then finishes (or fails). */
@Injectable()
class ChattyProcessor implements JobProcessor<ChattyParams, ChattyResult> {
  async process(ctx: JobContext<ChattyParams>): Promise<ChattyResult> {
    const { reports, pauseEvery = 0, fail = false } = ctx.params;
    for (let i = 1; i <= reports; i += 1) {
      await ctx.progress(progressOf(i, reports), `report ${i} of ${reports}`);
      if (pauseEvery > 0 && i % pauseEvery === 0) {
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }
    if (fail) throw new NonRetryableJobError(`failed after ${reports} reports`);
    return { reports };
  }
}

const chattyKind = defineJobKind({
  name: 'chatty',
  params: ChattyParams,
  processor: ChattyProcessor,
  policies: { attempts: 1 },
});

describe('progress coalescing (PROGRESS_INTERVAL_MS=200)', () => {
  let stack: TestStack;
  let url: string;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    stack = await startStack('coalesce', [chattyKind], {
      PROGRESS_INTERVAL_MS: String(INTERVAL_MS),
    });
    url = baseUrl(stack.app.getHttpServer() as Server);
  });

  afterAll(async () => {
    sockets.forEach((s) => s.close());
    await stack?.close();
  });

  async function watch(user: string): Promise<TestSocket> {
    const socket = await connectSocket(url, { token: tokenFor(user) });
    sockets.push(socket);
    return socket;
  }

  /**
   * The rule: a window opens with a report written at once and closes INTERVAL_MS later,
   * writing the latest report it held back; the next report opens the next window. So at most
   * two progress rows per window, and windows start at least INTERVAL_MS apart.
   */
  function expectCoalesced(events: EventBody[], reports: number, terminal: 'done' | 'error') {
    const statuses = events.map((e) => e.status);
    expect(statuses[0]).toBe('created');
    expect(statuses[1]).toBe('processing');
    expect(statuses.at(-1)).toBe(terminal);
    expect(statuses.filter((s) => s === terminal)).toHaveLength(1);
    const progress = events.filter((e) => e.status === 'progress');
    expect(statuses.slice(2, -1)).toEqual(progress.map(() => 'progress'));

    // Far fewer rows than reports (loose bound, not a timing assertion).
    expect(events.length).toBeLessThan(100);
    // The bound the rule gives for the time the reports took (it only grows when slower).
    const elapsed = Date.parse(events.at(-1)?.at ?? '') - Date.parse(progress[0].at);
    expect(progress.length).toBeLessThanOrEqual(2 * (Math.ceil(elapsed / INTERVAL_MS) + 2));

    // The first report is written at once; the last one held back is written before the end.
    expect(progress[0]).toMatchObject({ progress: 0, message: `report 1 of ${reports}` });
    expect(progress.at(-1)).toMatchObject({
      progress: progressOf(reports, reports),
      message: `report ${reports} of ${reports}`,
    });
    // Progress never goes backwards between the rows that were kept.
    const values = progress.map((e) => e.progress);
    expect([...values].sort((a, b) => a - b)).toEqual(values);
  }

  it('10,000 reports in a tight loop: a few rows, the last report kept, done never coalesced', async () => {
    const api = new Api(stack, uniqueUser('tight'));
    const socket = await watch(api.user);
    const job = await api.submitOk('chatty', { reports: REPORTS });
    await waitForTerminal(socket, [job.id]);
    const finished = await api.waitForStatus(job.id);
    expect(finished).toMatchObject({
      status: 'done',
      progress: 100,
      result: { reports: REPORTS },
    });

    const events = await api.allEvents(job.id);
    expectCoalesced(events, REPORTS, 'done');
    expect(events.at(-1)).toMatchObject({ status: 'done', result: { reports: REPORTS } });
    // The owner saw exactly the stored rows, live.
    expect(payloadsOf(socket.events)).toEqual(events);
  });

  it('10,000 reports spread over several windows: same guarantees', async () => {
    const api = new Api(stack, uniqueUser('spread'));
    const socket = await watch(api.user);
    const job = await api.submitOk('chatty', { reports: REPORTS, pauseEvery: 20 });
    await waitForTerminal(socket, [job.id]);
    const events = await api.allEvents(job.id);
    expectCoalesced(events, REPORTS, 'done');
    // 500 pauses of at least 1 ms: the reports outlast the first window, so a timer wrote the
    // held-back report and a later report opened another window.
    expect(events.filter((e) => e.status === 'progress').length).toBeGreaterThan(2);
    expect(payloadsOf(socket.events)).toEqual(events);
  });

  it('an error right after a burst: the last report is written first, the error is kept', async () => {
    const api = new Api(stack, uniqueUser('fail'));
    const job = await api.submitOk('chatty', { reports: REPORTS, fail: true });
    expect(await api.waitForStatus(job.id)).toMatchObject({
      status: 'error',
      error: `failed after ${REPORTS} reports`,
    });
    const events = await api.allEvents(job.id);
    expectCoalesced(events, REPORTS, 'error');
    expect(events.at(-1)).toMatchObject({ error: `failed after ${REPORTS} reports` });
  });

  it('coalesces per job: concurrent jobs of one user each keep their own last report', async () => {
    const api = new Api(stack, uniqueUser('many'));
    const socket = await watch(api.user);
    // Many window boundaries, each one a chance for a held-back report to land out of order.
    const sizes = [4000, 5000, 6000, 7000, 8000];
    const jobs = await Promise.all(
      sizes.map((reports) => api.submitOk('chatty', { reports, pauseEvery: 10 })),
    );
    await waitForTerminal(
      socket,
      jobs.map((j) => j.id),
    );
    for (const [i, job] of jobs.entries()) {
      const events = await api.allEvents(job.id);
      expectCoalesced(events, sizes[i], 'done');
      expect(payloadsOf(socket.events.filter((e) => e.jobId === job.id))).toEqual(events);
    }
  });
});
