import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { connect } from 'node:net';
import { startStack, type TestStack } from '../support/app';
import { AdminApi, Api, expectError, uniqueUser } from '../support/api';
import { echoKind } from '../support/test-kinds';

const MB = 1024 * 1024;

/** Regressions for what the fuzzer (test/fuzz) and the issue found: each was a 500 or a bare error. */
describe('input rules: null, unstorable text, nesting, cursors, oversized requests', () => {
  let stack: TestStack;
  let api: Api;

  beforeAll(async () => {
    stack = await startStack('input-rules', [echoKind]);
    api = new Api(stack, uniqueUser('rules'));
  });
  afterAll(() => stack.close());

  async function nothingWritten(): Promise<void> {
    expect(await api.listAll()).toEqual([]);
    expect((await api.get('/projects').expect(200)).body).toEqual([]);
    const queues = (await new AdminApi(stack).get('/admin/queues').expect(200)).body as {
      kind: string;
      waiting: number;
      prioritized: number;
    }[];
    expect(queues.find((queue) => queue.kind === 'echo')).toMatchObject({
      waiting: 0,
      prioritized: 0,
    });
  }

  describe('POST /projects', () => {
    it('refuses repoUrl null with a 400 naming it (was: TypeError, 500)', async () => {
      const res = await api.post('/projects', { name: 'p', repoUrl: null });
      expectError(res, 400, 'repoUrl must not be null; omit it to leave it unset');
    });

    it('refuses null for every optional field alike', async () => {
      expectError(
        await api.post('/projects', { name: 'p', defaultBranch: null }),
        400,
        /defaultBranch must not be null/,
      );
    });

    it('refuses a NUL in the name with a 400 naming it (was: PostgreSQL error, 500)', async () => {
      const res = await api.post('/projects', { name: 'a\u0000b' });
      expectError(res, 400, 'name must be text without NUL characters or unpaired surrogates');
    });

    it('refuses an unpaired surrogate sent as a JSON escape', async () => {
      const res = await stack
        .http()
        .post('/api/v1/projects')
        .set('Authorization', api.auth)
        .set('Content-Type', 'application/json')
        .send('{"name":"x\\ud800y"}');
      expectError(res, 400, /^name must be text without NUL/);
    });
  });

  describe('POST /jobs/:kind', () => {
    it('refuses a NUL in requestId with a 400 naming it (was: 500)', async () => {
      const res = await api.submit('echo', {
        projectId: 'p1',
        params: { text: 'x' },
        requestId: 'r\u0000',
      });
      expectError(res, 400, /^requestId must be text without NUL/);
    });

    it.each([
      ['priority', { projectId: 'p1', params: { text: 'x' }, priority: null }],
      ['requestId', { projectId: 'p1', params: { text: 'x' }, requestId: null }],
      ['params.steps', { projectId: 'p1', params: { text: 'x', steps: null } }],
    ])('refuses %s null with a 400 naming it', async (field, body) => {
      expectError(await api.submit('echo', body), 400, `${field} must not be null`);
    });

    it('refuses unstorable text inside params, by path', async () => {
      const res = await api.submit('echo', { projectId: 'p1', params: { text: '\udc00' } });
      expectError(res, 400, /^params\.text must be text without NUL/);
    });

    it('refuses params nested past the bound before anything recursive sees them', async () => {
      let deep: unknown = 1;
      for (let i = 0; i < 500; i += 1) deep = { a: deep };
      const res = await api.submit('echo', { projectId: 'p1', params: { text: 'x', deep } });
      expectError(res, 400, /^params is nested more than 32 levels deep/);
    });

    it('names an extra property even when its name is empty', async () => {
      const res = await api.submit('echo', { projectId: 'p1', params: { text: 'x' }, '': 1 });
      expectError(res, 400, '"" is not an allowed property');
    });

    it('left no row and no queue entry behind', nothingWritten);
  });

  describe('GET /jobs cursors', () => {
    const cursor = (text: string) => Buffer.from(text).toString('base64url');

    it.each([
      [
        'an id of 36 dashes (was: uuid cast error, 500)',
        `2026-01-01T00:00:00.000Z|${'-'.repeat(36)}`,
      ],
      ['a year PostgreSQL cannot store (was: 500)', `-271821-04-20T00:00:00.000Z|${randomUUID()}`],
      ['a date that is not the API format', `2026-01-01|${randomUUID()}`],
    ])('refuses %s with a 400', async (_name, text) => {
      const res = await api.get('/jobs').query({ cursor: cursor(text) });
      expectError(res, 400, 'cursor is not a cursor this API returned');
    });

    it('refuses a NUL in a query value', async () => {
      expectError(await api.get('/jobs').query({ cursor: 'a\u0000' }), 400, /^cursor must be text/);
    });
  });

  describe('requests Node refuses before routing', () => {
    it('answers a URL past the header limit with 431 in the error shape (was: empty body)', async () => {
      const res = await fetch(`${baseUrl()}/api/v1/jobs/${'a'.repeat(20_000)}`);
      expect(res.status).toBe(431);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await res.json()).toEqual({
        statusCode: 431,
        error: 'Request Header Fields Too Large',
        message: 'request line and headers are too large (the URL counts)',
      });
    });

    it('reads on after a 431 until the client is done sending, so the client sees the answer (was: reset)', async () => {
      // Half-open like an HTTP client still sending: the answer's FIN does not end our side.
      const socket = connect({ port: port(), allowHalfOpen: true });
      const received: Buffer[] = [];
      const answered = new Promise<void>((resolve) => {
        socket.on('data', (chunk: Buffer) => {
          received.push(chunk);
          if (Buffer.concat(received).includes('\r\n\r\n')) resolve();
        });
      });
      const closed = new Promise<{ error?: Error }>((resolve) => {
        let error: Error | undefined;
        socket.on('error', (e) => (error = e));
        socket.on('close', () => resolve({ error }));
      });
      await once(socket, 'connect');
      socket.write(
        `POST /api/v1/jobs/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${8 * MB}\r\n\r\n`,
      );
      await answered;
      expect(Buffer.concat(received).toString()).toMatch(/^HTTP\/1\.1 431 /);
      // The rest of the body, sent after the answer: a server that stopped reading resets here.
      for (let sent = 0; sent < 8 * MB; sent += MB) {
        if (!socket.write(Buffer.alloc(MB, 'x'))) await once(socket, 'drain');
      }
      socket.end();
      expect(await closed).toEqual({ error: undefined });
      expect(Buffer.concat(received).toString()).toMatch(/"statusCode":431/);
    });

    it('still serves after it', async () => {
      await stack.http().get('/health/ready').expect(200);
    });
  });

  function port(): number {
    return (stack.app.getHttpServer().address() as { port: number }).port;
  }

  function baseUrl(): string {
    return `http://127.0.0.1:${port()}`;
  }
});
