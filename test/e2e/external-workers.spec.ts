import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import Redis from 'ioredis';
import type { ExternalStatusCounters } from '../../src/realtime/external-status.service';
import { AdminApi, Api, uniqueUser, type JobBody } from '../support/api';
import { startStack, tokenFor, type TestStack } from '../support/app';
import { payloadsOf } from '../support/realtime';
import { TEST_REDIS_URL } from '../support/redis';
import { baseUrl, connectSocket, type TestSocket } from '../support/socket';
import { echoKind } from '../support/test-kinds';
import { waitFor } from '../support/wait';

type DropReason = keyof ExternalStatusCounters['dropped'];

/** Runs `redis-cli -p <port> PUBLISH <channel> <message>` (no shell) and returns its output. */
function redisCli(channel: string, message: string): Promise<string> {
  const port = new URL(TEST_REDIS_URL).port || '6379';
  return new Promise((resolve, reject) => {
    execFile(
      'redis-cli',
      ['-p', port, 'PUBLISH', channel, message],
      { timeout: 10_000, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`redis-cli failed: ${error.message} ${stderr}`));
        else resolve(stdout.trim());
      },
    );
  });
}

describe('external workers over Redis pub/sub', () => {
  let stack: TestStack;
  let url: string;
  let admin: AdminApi;
  let publisher: Redis;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    stack = await startStack('external', [echoKind]);
    url = baseUrl(stack.app.getHttpServer() as Server);
    admin = new AdminApi(stack);
    publisher = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
    // Conveyor's own workers never take an echo job in this file: only PUBLISH moves them.
    expect(await admin.pause('echo')).toMatchObject({ kind: 'echo', paused: true });
  });

  afterAll(async () => {
    sockets.forEach((s) => s.close());
    publisher?.disconnect();
    await stack?.close();
  });

  const statusChannel = () => `${stack.prefix}:status`;
  const streamChannel = (jobId: string) => `${stack.prefix}:stream:${jobId}`;

  async function publish(channel: string, message: object | string): Promise<void> {
    const raw = typeof message === 'string' ? message : JSON.stringify(message);
    // Every api instance subscribes: at least this stack's one must hear it.
    expect(await publisher.publish(channel, raw)).toBeGreaterThanOrEqual(1);
  }

  async function counters(): Promise<ExternalStatusCounters> {
    const res = await admin.get('/admin/external-status');
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 200 });
    return res.body as ExternalStatusCounters;
  }

  function waitForCounters(
    what: string,
    check: (now: ExternalStatusCounters) => boolean,
  ): Promise<ExternalStatusCounters> {
    return waitFor(what, async () => {
      const now = await counters();
      return check(now) ? now : undefined;
    });
  }

  async function owner(label: string): Promise<{ api: Api; socket: TestSocket }> {
    const api = new Api(stack, uniqueUser(label));
    const socket = await connectSocket(url, { token: tokenFor(api.user) });
    sockets.push(socket);
    return { api, socket };
  }

  async function queuedJob(api: Api, text: string): Promise<JobBody> {
    const job = await api.submitOk('echo', { text });
    expect(job.status).toBe('queued');
    return job;
  }

  function waitForEvent(socket: TestSocket, jobId: string, name: string) {
    return waitFor(`${name} of ${jobId}`, () =>
      Promise.resolve(socket.events.find((e) => e.jobId === jobId && e.name === name)),
    );
  }

  it('drives a job to done with PUBLISH only: the owner sees every event live, in order', async () => {
    const { api, socket } = await owner('ext');
    const job = await queuedJob(api, 'external');
    const before = await counters();

    // Published back to back, as a worker reporting quickly would.
    await publish(statusChannel(), { jobId: job.id, status: 'processing' });
    await publish(statusChannel(), {
      jobId: job.id,
      status: 'progress',
      progress: 30,
      message: 'cloning',
    });
    await publish(statusChannel(), {
      jobId: job.id,
      status: 'progress',
      progress: 70,
      message: 'testing',
    });
    await publish(statusChannel(), {
      jobId: job.id,
      status: 'done',
      result: { passed: 12, failed: 0 },
    });

    await waitForEvent(socket, job.id, 'echo:done');
    expect(socket.events.map((e) => [e.name, e.progress, e.message])).toEqual([
      ['echo:created', 0, 'queued'],
      ['echo:processing', 0, 'attempt 1 of 3 started'],
      ['echo:progress', 30, 'cloning'],
      ['echo:progress', 70, 'testing'],
      ['echo:done', 100, 'done'],
    ]);
    expect(socket.events.at(-1)?.result).toEqual({ passed: 12, failed: 0 });
    expect(payloadsOf(socket.events)).toEqual(await api.allEvents(job.id));
    expect(await api.job(job.id)).toMatchObject({
      status: 'done',
      progress: 100,
      result: { passed: 12, failed: 0 },
      error: null,
      attempts: 1,
    });
    const after = await waitForCounters('4 accepted', (c) => c.accepted === before.accepted + 4);
    expect(after.dropped).toEqual(before.dropped);
    // Its queue entry went with it: nothing left for Conveyor's own workers to run.
    expect(await admin.stats('echo')).toMatchObject({ paused: true, waiting: 0, active: 0 });
  });

  it('drops and counts malformed, unknown, impossible and out-of-range reports, and keeps serving', async () => {
    const { api, socket } = await owner('drops');
    const finished = await queuedJob(api, 'finished');
    await publish(statusChannel(), { jobId: finished.id, status: 'done', result: 'ok' });
    await waitForEvent(socket, finished.id, 'echo:done');
    const running = await queuedJob(api, 'running');
    await publish(statusChannel(), { jobId: running.id, status: 'processing' });
    await waitForEvent(socket, running.id, 'echo:processing');

    const expectDropped = async (reason: DropReason, message: object | string) => {
      const before = await counters();
      await publish(statusChannel(), message);
      const after = await waitForCounters(
        `dropped.${reason} to count ${JSON.stringify(message)}`,
        (c) => c.dropped[reason] === before.dropped[reason] + 1,
      );
      expect(after).toEqual({
        accepted: before.accepted,
        dropped: { ...before.dropped, [reason]: before.dropped[reason] + 1 },
      });
    };

    await expectDropped('malformed', `{"jobId":"${running.id}","status":"done"`);
    await expectDropped('malformed', 'not json at all');
    await expectDropped('malformed', '[1,2,3]');
    await expectDropped('unknownJob', { jobId: randomUUID(), status: 'processing' });
    await expectDropped('notAllowed', { jobId: finished.id, status: 'progress', progress: 80 });
    await expectDropped('notAllowed', { jobId: finished.id, status: 'error', error: 'late' });
    await expectDropped('invalid', { jobId: running.id, status: 'progress', progress: 150 });
    await expectDropped('invalid', { jobId: running.id, status: 'progress', progress: 1.5 });
    await expectDropped('invalid', { jobId: 'job-1', status: 'done' });
    await expectDropped('invalid', { jobId: running.id, status: 'completed' });

    // Nothing of that reached the jobs or their owner.
    expect(await api.job(finished.id)).toMatchObject({ status: 'done', result: 'ok' });
    expect(await api.job(running.id)).toMatchObject({ status: 'processing', progress: 0 });
    expect(payloadsOf(socket.events.filter((e) => e.jobId === finished.id))).toEqual(
      await api.allEvents(finished.id),
    );
    expect(socket.events.filter((e) => e.jobId === running.id).map((e) => e.name)).toEqual([
      'echo:created',
      'echo:processing',
    ]);

    // The server still serves: the running job finishes, and a new one goes through.
    await publish(statusChannel(), { jobId: running.id, status: 'progress', progress: 99 });
    await publish(statusChannel(), { jobId: running.id, status: 'done', result: { n: 1 } });
    await waitForEvent(socket, running.id, 'echo:done');
    const later = await queuedJob(api, 'later');
    await publish(statusChannel(), { jobId: later.id, status: 'error', error: 'gave up' });
    await waitForEvent(socket, later.id, 'echo:error');
    expect(await api.job(later.id)).toMatchObject({ status: 'error', error: 'gave up' });
    expect((await stack.http().get('/health/ready')).status).toBe(200);
  });

  it('accepts the stream-channel format on <prefix>:stream:<jobId>: progress, then complete', async () => {
    const { api, socket } = await owner('stream');
    const ok = await queuedJob(api, 'stream-ok');
    await publish(streamChannel(ok.id), { message: 'Creating project structure...', progress: 0 });
    await publish(streamChannel(ok.id), { message: 'Half way done...', progress: 50 });
    await publish(streamChannel(ok.id), {
      complete: true,
      content: 'Project created successfully!',
      isError: false,
    });
    await waitForEvent(socket, ok.id, 'echo:done');
    expect(socket.events.map((e) => [e.name, e.progress, e.message])).toEqual([
      ['echo:created', 0, 'queued'],
      ['echo:processing', 0, 'attempt 1 of 3 started'],
      ['echo:progress', 0, 'Creating project structure...'],
      ['echo:progress', 50, 'Half way done...'],
      ['echo:done', 100, 'done'],
    ]);
    expect(await api.job(ok.id)).toMatchObject({
      status: 'done',
      result: { content: 'Project created successfully!' },
    });

    const failed = await queuedJob(api, 'stream-error');
    await publish(streamChannel(failed.id), { message: 'Starting job...', progress: 0 });
    await publish(streamChannel(failed.id), {
      complete: true,
      content: 'Failed to create project: disk full',
      isError: true,
    });
    await waitForEvent(socket, failed.id, 'echo:error');
    expect(await api.job(failed.id)).toMatchObject({
      status: 'error',
      error: 'Failed to create project: disk full',
      result: null,
    });
    expect(socket.events.filter((e) => e.jobId === failed.id).at(-1)).toMatchObject({
      name: 'echo:error',
      error: 'Failed to create project: disk full',
    });

    // The stream channel validates too: bad progress and bad JSON are dropped and counted.
    const before = await counters();
    const pending = await queuedJob(api, 'stream-bad');
    await publish(streamChannel(pending.id), { message: 'x', progress: 101 });
    await publish(streamChannel(pending.id), '{"message":');
    await publish(streamChannel('not-a-job-id'), { message: 'x', progress: 1 });
    await waitForCounters(
      'stream drops',
      (c) =>
        c.dropped.invalid === before.dropped.invalid + 2 &&
        c.dropped.malformed === before.dropped.malformed + 1,
    );
    expect(await api.job(pending.id)).toMatchObject({ status: 'queued' });
  });

  it('accepts the agent status format only with the owner’s userId', async () => {
    const { api, socket } = await owner('agent');
    const stranger = await owner('stranger');
    const job = await queuedJob(api, 'agent');

    await publish(statusChannel(), { jobId: job.id, status: 'processing', userId: api.user });
    await waitForEvent(socket, job.id, 'echo:processing');

    const before = await counters();
    await publish(statusChannel(), {
      jobId: job.id,
      status: 'done',
      userId: stranger.api.user,
    });
    await waitForCounters('the stranger’s report dropped', (c) => {
      return c.dropped.invalid === before.dropped.invalid + 1;
    });
    expect(await api.job(job.id)).toMatchObject({ status: 'processing' });

    await publish(statusChannel(), {
      jobId: job.id,
      status: 'error',
      userId: api.user,
      error: 'agent crashed',
    });
    await waitForEvent(socket, job.id, 'echo:error');
    expect(await api.job(job.id)).toMatchObject({ status: 'error', error: 'agent crashed' });
    expect(socket.events.map((e) => e.name)).toEqual([
      'echo:created',
      'echo:processing',
      'echo:error',
    ]);
    expect(stranger.socket.events).toEqual([]);
    // The stranger cannot read the job over REST either.
    expect((await stranger.api.get(`/jobs/${job.id}`)).status).toBe(404);
  });

  it('works with the documented redis-cli commands', async () => {
    const { api, socket } = await owner('cli');
    const job = await queuedJob(api, 'cli');
    const channel = statusChannel();

    const steps: [string, string][] = [
      [`{"jobId":"${job.id}","status":"processing"}`, 'echo:processing'],
      [
        `{"jobId":"${job.id}","status":"progress","progress":40,"message":"halfway"}`,
        'echo:progress',
      ],
      [`{"jobId":"${job.id}","status":"done","result":{"ok":true}}`, 'echo:done'],
    ];
    for (const [message, event] of steps) {
      // redis-cli prints the number of subscribers that received the message.
      expect(Number(await redisCli(channel, message))).toBeGreaterThanOrEqual(1);
      await waitForEvent(socket, job.id, event);
    }
    expect(await api.job(job.id)).toMatchObject({
      status: 'done',
      progress: 100,
      result: { ok: true },
    });
    expect(socket.events.map((e) => e.name)).toEqual([
      'echo:created',
      'echo:processing',
      'echo:progress',
      'echo:done',
    ]);
    expect(socket.events[2]).toMatchObject({ progress: 40, message: 'halfway' });
  });

  it('keeps Conveyor’s own workers off a finished external job once the queue resumes', async () => {
    const { api, socket } = await owner('resumed');
    const external = await queuedJob(api, 'external');
    await publish(statusChannel(), { jobId: external.id, status: 'done', result: 'by-hand' });
    await waitForEvent(socket, external.id, 'echo:done');

    await admin.resume('echo');
    try {
      // An internal job after the resume runs; the external one is not run again.
      const internal = await api.submitOk('echo', { text: 'internal' });
      const done = await api.waitForStatus(internal.id);
      expect(done).toMatchObject({ status: 'done', result: { text: 'internal' } });
      await admin.idle('echo');
      expect(await api.job(external.id)).toMatchObject({ status: 'done', result: 'by-hand' });
      expect((await api.allEvents(external.id)).map((e) => e.status)).toEqual([
        'created',
        'processing',
        'done',
      ]);
    } finally {
      await admin.pause('echo');
    }
  });
});
