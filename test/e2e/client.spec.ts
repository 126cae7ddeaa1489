import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import type { Server as IoServer } from 'socket.io';
import {
  BadRequestError,
  ConveyorClient,
  ConveyorNetworkError,
  ForbiddenError,
  NotFoundError,
  ResyncRequiredError,
  UnauthorizedError,
  type JobEvent,
  type Transport,
} from '../../client/src';
import { JobRepository } from '../../src/core/job.repository';
import { JobEventsGateway } from '../../src/realtime/job-events.gateway';
import { startStack, tokenFor, type TestStack } from '../support/app';
import { uniqueUser } from '../support/api';
import { baseUrl } from '../support/socket';
import { chatterKind, chatterLine, type ChatterParams } from '../support/output-kinds';
import { echoKind, type EchoParams, type EchoResult } from '../support/test-kinds';
import { waitFor } from '../support/wait';

async function collect(iterator: AsyncIterable<JobEvent>, until?: (e: JobEvent) => boolean) {
  const events: JobEvent[] = [];
  for await (const event of iterator) {
    events.push(event);
    if (until?.(event)) break;
  }
  return events;
}

/**
 * An HTTP proxy to the service (WebSocket upgrades included) that can be told to refuse
 * Socket.IO, and to cut the connections it already carries: the client must fall back to polling.
 */
class Proxy {
  refuseSockets = false;
  private readonly server: Server;
  private readonly tunnels = new Set<Duplex>();

  constructor(target: string) {
    const { hostname, port } = new URL(target);
    this.server = createServer((req, res) => {
      if (this.refuseSockets && (req.url ?? '').startsWith('/socket.io')) {
        res.writeHead(503).end();
        return;
      }
      const upstream = httpRequest(
        { hostname, port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      req.pipe(upstream);
    });
    this.server.on('upgrade', (req: IncomingMessage, client: Duplex, head: Buffer) => {
      if (this.refuseSockets) {
        client.destroy();
        return;
      }
      const upstream = connect(Number(port), hostname, () => {
        const lines = [`${req.method} ${req.url} HTTP/1.1`];
        for (let i = 0; i < req.rawHeaders.length; i += 2) {
          lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
        }
        upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
        upstream.write(head);
        upstream.pipe(client).pipe(upstream);
      });
      for (const end of [client, upstream]) {
        this.tunnels.add(end);
        end.on('error', () => undefined);
        end.on('close', () => {
          this.tunnels.delete(end);
          client.destroy();
          upstream.destroy();
        });
      }
    });
  }

  listen(): Promise<string> {
    return new Promise((resolve) =>
      this.server.listen(0, '127.0.0.1', () =>
        resolve(`http://127.0.0.1:${(this.server.address() as AddressInfo).port}`),
      ),
    );
  }

  /** Refuses Socket.IO from now on and cuts the WebSockets already open. */
  cut(): void {
    this.refuseSockets = true;
    for (const tunnel of this.tunnels) tunnel.destroy();
  }

  async close(): Promise<void> {
    this.cut();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** The typed client (client/) against the real service: REST, typed errors, live iterators. */
describe('client: @conveyor/client', () => {
  let stack: TestStack;
  let url: string;

  beforeAll(async () => {
    stack = await startStack('client', [echoKind, chatterKind]);
    url = baseUrl(stack.app.getHttpServer());
  });
  afterAll(() => stack.close());

  function client(user = uniqueUser('cli'), roles: string[] = []) {
    return new ConveyorClient({ baseUrl: url, token: tokenFor(user, roles), pollIntervalMs: 100 });
  }

  /** A client of a new user whose Socket.IO is refused by a proxy, so it polls. */
  async function pollingClient(
    name: string,
    use: (api: ConveyorClient) => Promise<void>,
  ): Promise<void> {
    const proxy = new Proxy(url);
    proxy.refuseSockets = true;
    try {
      await use(
        new ConveyorClient({
          baseUrl: await proxy.listen(),
          token: tokenFor(uniqueUser(name)),
          pollIntervalMs: 50,
          connectTimeoutMs: 2000,
        }),
      );
    } finally {
      await proxy.close();
    }
  }

  it('submits, gets, lists, cancels and retries, typed by the caller', async () => {
    const api = client();
    const job = await api.submit<EchoParams, EchoResult>('echo', {
      projectId: 'p1',
      params: { text: 'hello' },
      priority: 'high',
    });
    expect(job).toMatchObject({ kind: 'echo', status: 'queued', priority: 'high' });
    const done = await waitFor('done', async () => {
      const read = await api.get<EchoParams, EchoResult>(job.id);
      return read.status === 'done' ? read : undefined;
    });
    expect(done.result?.text).toBe('hello');
    expect(await api.log(job.id)).toEqual({ content: expect.any(String), truncated: false });
    expect((await api.list({ kind: 'echo' })).items.map((j) => j.id)).toEqual([job.id]);

    const failed = await api.submit('echo', {
      projectId: 'p1',
      params: { text: 'x', fail: 'fatal' },
    });
    await waitFor('error', async () => (await api.get(failed.id)).status === 'error');
    expect(await api.retry(failed.id)).toMatchObject({ id: failed.id, status: 'queued' });

    const long = await api.submit('echo', {
      projectId: 'p1',
      params: { text: 'l', steps: 100, stepMs: 200 },
    });
    expect(await api.cancel(long.id)).toMatchObject({ status: 'cancelled' });
    const kinds = await api.kinds();
    expect(kinds.map((k) => k.name).sort()).toEqual(['chatter', 'echo']);
    expect(kinds.find((k) => k.name === 'echo')?.paramsSchema).toMatchObject({
      properties: { text: { type: 'string' } },
    });
  });

  it('throws typed errors carrying the service’s { statusCode, error, message }', async () => {
    const api = client();
    await expect(api.get('00000000-0000-4000-8000-000000000000')).rejects.toBeInstanceOf(
      NotFoundError,
    );
    const bad = await api
      .submit('echo', { projectId: 'p1', params: { text: 42 } as unknown as EchoParams })
      .catch((error: unknown) => error);
    expect(bad).toBeInstanceOf(BadRequestError);
    expect((bad as BadRequestError).body).toMatchObject({
      statusCode: 400,
      message: expect.stringMatching(/params\.text/),
    });
    await expect(new ConveyorClient({ baseUrl: url, token: 'nope' }).list()).rejects.toBeInstanceOf(
      UnauthorizedError,
    );
    await expect(api.queues()).rejects.toBeInstanceOf(ForbiddenError);
    expect((await client('root', ['admin']).queues()).map((q) => q.kind).sort()).toEqual([
      'chatter',
      'echo',
    ]);
    await expect(
      new ConveyorClient({ baseUrl: 'http://127.0.0.1:9', token: 't' }).list(),
    ).rejects.toBeInstanceOf(ConveyorNetworkError);
  });

  it('watch(jobId) yields the job’s events from created to done over the socket, then ends', async () => {
    const api = client();
    const transports: Transport[] = [];
    api.onTransport = (t) => transports.push(t);
    const job = await api.submit('echo', {
      projectId: 'p1',
      params: { text: 'w', steps: 3, stepMs: 20 },
    });
    const events = await collect(api.watch(job.id));
    expect(events.map((e) => e.status)).toEqual([
      'created',
      'processing',
      'progress',
      'progress',
      'progress',
      'done',
    ]);
    expect(events.at(-1)?.result).toMatchObject({ text: 'w' });
    expect(transports).toEqual(['socket']);
    const history = await api.eventHistory(job.id);
    expect(events).toEqual(history.items);
  });

  it('events() resumes after the connection drops: no gap, no duplicate', async () => {
    const user = uniqueUser('resume');
    const api = client(user);
    const live = new Promise<Transport>((resolve) => (api.onTransport = resolve));
    const iterator = api.events();
    const first = iterator.next();
    // Submit once the socket is live, so that the job's first event is news to it.
    expect(await live).toBe('socket');
    const job = await api.submit('echo', {
      projectId: 'p1',
      params: { text: 'r', steps: 20, stepMs: 50 },
    });
    const events: JobEvent[] = [(await first).value as JobEvent];
    const io = stack.app.get(JobEventsGateway).server as unknown as IoServer;
    let dropped = false;
    for (;;) {
      const { value, done } = await iterator.next();
      if (done) break;
      events.push(value);
      if (!dropped && events.length === 4) {
        // Cut every transport: the client reconnects and is replayed what it missed.
        for (const socket of io.sockets.sockets.values()) socket.conn.close();
        dropped = true;
      }
      if (value.status === 'done') break;
    }
    await iterator.return?.();
    expect(dropped).toBe(true);
    const history = await api.eventHistory(job.id);
    expect(events).toEqual(history.items);
  });

  it('watch(jobId) carries streamed output: concatenated across a forced disconnect it equals the log', async () => {
    const api = client();
    const lines = 12;
    const job = await api.submit<ChatterParams>('chatter', {
      projectId: 'p1',
      params: { lines, lineMs: 100 },
    });
    const io = stack.app.get(JobEventsGateway).server as unknown as IoServer;
    const events: JobEvent[] = [];
    let output = '';
    let dropped = false;
    let droppedAt = 0;
    for await (const event of api.watch(job.id)) {
      events.push(event);
      output += event.output ?? '';
      if (!dropped && output !== '' && event.status === 'progress') {
        // Mid-output: cut every transport; the client resumes from the last event it yielded.
        for (const socket of io.sockets.sockets.values()) socket.conn.close();
        dropped = true;
        droppedAt = events.length;
      }
    }
    expect(dropped).toBe(true);
    // Output kept coming after the cut, through the resumed socket.
    expect(events.slice(droppedAt).some((e) => e.output)).toBe(true);
    expect(events.at(-1)?.status).toBe('done');
    const expected = Array.from({ length: lines }, (_, i) => chatterLine(i)).join('');
    expect(output).toBe(expected);
    expect((await api.log(job.id)).content).toBe(expected);
    expect(events).toEqual((await api.eventHistory(job.id)).items);
  });

  it('events({ lastEventId }) older than the retention ends with ResyncRequiredError', async () => {
    const api = client();
    const job = await api.submit('echo', { projectId: 'p1', params: { text: 'old' } });
    const events = await collect(api.watch(job.id));
    const stale = events[0]?.eventId ?? '';
    // What the retention sweep does once EVENT_RETENTION_SEC has passed (all events of this test's
    // database are older than a minute from now).
    await stack.app.get(JobRepository).pruneEvents(new Date(Date.now() + 60_000));
    const error = await api
      .events({ lastEventId: stale })
      .next()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResyncRequiredError);
    expect(error).toMatchObject({
      lastEventId: stale,
      message: expect.stringMatching(/^resync: /),
    });
    // The documented recovery: state over REST, then a new stream without lastEventId.
    expect((await api.get(job.id)).status).toBe('done');
    const live = new Promise<Transport>((resolve) => (api.onTransport = resolve));
    const fresh = api.events();
    const next = fresh.next();
    expect(await live).toBe('socket');
    const again = await api.submit('echo', { projectId: 'p1', params: { text: 'new' } });
    expect((await next).value).toMatchObject({ jobId: again.id, status: 'created' });
    await fresh.return?.();
  });

  it('falls back to polling GET /jobs/:id/events when the socket cannot connect', async () => {
    await pollingClient('poll', async (api) => {
      const transports: Transport[] = [];
      api.onTransport = (t) => transports.push(t);
      const job = await api.submit('echo', {
        projectId: 'p1',
        params: { text: 'p', steps: 2, stepMs: 50 },
      });
      const events = await collect(api.watch(job.id));
      expect(transports).toEqual(['polling']);
      expect(events.at(-1)).toMatchObject({ status: 'done', result: { text: 'p' } });
      expect(events).toEqual((await api.eventHistory(job.id)).items);
    });
  });

  it('events() polling GET /events: every event of the caller, across more than 50 jobs, once and in order', async () => {
    await pollingClient('pollall', async (api) => {
      const polling = new Promise<Transport>((resolve) => (api.onTransport = resolve));
      const stream = api.events();
      const first = stream.next();
      expect(await polling).toBe('polling');
      // The slow jobs are created first, so their later events come when 50 newer jobs exist.
      const slow = await Promise.all(
        [1, 2, 3].map((n) =>
          api.submit('echo', { projectId: 'p1', params: { text: `s${n}`, steps: 2, stepMs: 400 } }),
        ),
      );
      const fast = [];
      for (let n = 0; n < 50; n += 1) {
        fast.push(await api.submit('echo', { projectId: 'p1', params: { text: `f${n}` } }));
      }
      const events: JobEvent[] = [(await first).value as JobEvent];
      const done = new Set<string>(events[0]?.status === 'done' ? [events[0].jobId] : []);
      while (done.size < slow.length + fast.length) {
        const next = await stream.next();
        if (next.done) break;
        events.push(next.value);
        if (next.value.status === 'done') done.add(next.value.jobId);
      }
      await stream.return?.();
      const ids = events.map((e) => BigInt(e.eventId));
      expect(ids).toEqual([...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
      expect(new Set(ids).size).toBe(ids.length);
      for (const job of slow) {
        expect(events.filter((e) => e.jobId === job.id).map((e) => e.status)).toEqual([
          'created',
          'processing',
          'progress',
          'progress',
          'done',
        ]);
      }
      // Exactly what the service stored for this user, nothing more, nothing less.
      const stored = (await api.userEventHistory('0', 1000)).items;
      expect(events).toEqual(stored);
    });
  });

  it('events({ lastEventId }) polling from an event no longer retained ends with ResyncRequiredError', async () => {
    await pollingClient('pollold', async (api) => {
      const job = await api.submit('echo', { projectId: 'p1', params: { text: 'old' } });
      const stale = (await collect(api.watch(job.id)))[0]?.eventId ?? '';
      await stack.app.get(JobRepository).pruneEvents(new Date(Date.now() + 60_000));
      const transports: Transport[] = [];
      api.onTransport = (t) => transports.push(t);
      const error = await api
        .events({ lastEventId: stale })
        .next()
        .catch((e: unknown) => e);
      expect(transports).toEqual(['polling']);
      expect(error).toBeInstanceOf(ResyncRequiredError);
      expect(error).toMatchObject({
        lastEventId: stale,
        message: expect.stringMatching(/^resync: /),
      });
    });
  });

  it('a socket lost mid-job that cannot come back: polling takes over from the last event', async () => {
    const proxy = new Proxy(url);
    try {
      const api = new ConveyorClient({
        baseUrl: await proxy.listen(),
        token: tokenFor(uniqueUser('lost')),
        pollIntervalMs: 50,
        connectTimeoutMs: 1000,
        transports: ['websocket'],
      });
      const transports: Transport[] = [];
      api.onTransport = (t) => transports.push(t);
      const job = await api.submit('echo', {
        projectId: 'p1',
        params: { text: 'l', steps: 30, stepMs: 100 },
      });
      const events: JobEvent[] = [];
      for await (const event of api.watch(job.id)) {
        events.push(event);
        if (event.status === 'progress' && transports.length === 1) proxy.cut();
      }
      expect(transports).toEqual(['socket', 'polling']);
      expect(events.at(-1)).toMatchObject({ status: 'done' });
      expect(events).toEqual((await api.eventHistory(job.id)).items);
    } finally {
      await proxy.close();
    }
  });

  it('builds as CommonJS and ES modules; the CommonJS build works from plain Node', async () => {
    const out = await mkdtemp(join(tmpdir(), 'conveyor-client-'));
    try {
      const tsc = require.resolve('typescript/bin/tsc');
      const project = resolve(__dirname, '../../client');
      const run = promisify(execFile);
      await run(process.execPath, [
        tsc,
        '-p',
        join(project, 'tsconfig.json'),
        '--outDir',
        join(out, 'cjs'),
      ]);
      await run(process.execPath, [
        tsc,
        '-p',
        join(project, 'tsconfig.esm.json'),
        '--outDir',
        join(out, 'esm'),
      ]);
      const script = `const { ConveyorClient } = require(${JSON.stringify(join(out, 'cjs', 'index.js'))});
        new ConveyorClient({ baseUrl: process.argv[1], token: process.argv[2] }).kinds()
          .then((kinds) => console.log(kinds.map((k) => k.name).join(',')));`;
      // As if installed: its one dependency, socket.io-client, resolvable.
      const { stdout } = await run(process.execPath, ['-e', script, url, tokenFor('node-user')], {
        env: { PATH: process.env.PATH, NODE_PATH: resolve(project, '../node_modules') },
      });
      expect(stdout.trim().split(',').sort()).toEqual(['chatter', 'echo']);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('events() with a refused token rejects with UnauthorizedError', async () => {
    const api = new ConveyorClient({ baseUrl: url, token: 'forged' });
    await expect(api.events().next()).rejects.toBeInstanceOf(UnauthorizedError);
  });
});
