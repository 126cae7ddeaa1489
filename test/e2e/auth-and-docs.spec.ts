import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { startStack, TEST_JWT_SECRET, tokenFor, type TestStack } from '../support/app';
import { AdminApi, Api, expectError, uniqueUser, type JobBody } from '../support/api';
import { echoKind } from '../support/test-kinds';

interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
}

describe('authentication, ownership, roles, health and docs', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startStack('auth', [echoKind]);
  });
  afterAll(() => stack.close());

  describe('401 without a valid bearer token', () => {
    const protectedRoutes: ['get' | 'post', string][] = [
      ['get', '/api/v1/jobs'],
      ['get', `/api/v1/jobs/${randomUUID()}`],
      ['get', `/api/v1/jobs/${randomUUID()}/events`],
      ['post', `/api/v1/jobs/${randomUUID()}/cancel`],
      ['post', `/api/v1/jobs/${randomUUID()}/retry`],
      ['post', '/api/v1/jobs/echo'],
      ['get', '/api/v1/admin/queues'],
      ['post', '/api/v1/admin/queues/echo/pause'],
    ];

    it.each(protectedRoutes)('%s %s without Authorization answers 401', async (method, path) => {
      const http = stack.http();
      const res = await http[method](path).send({ projectId: 'p1', params: { text: 'a' } });
      expectError(res, 401, /Bearer token is required/);
    });

    const malformed = [
      ['a Basic credential', 'Basic dXNlcjpwYXNz'],
      ['Bearer without a token', 'Bearer'],
      ['Bearer with an empty token', 'Bearer '],
      ['another scheme', `Token ${tokenFor('alice')}`],
      ['two tokens', `Bearer ${tokenFor('alice')} extra`],
    ];

    it.each(malformed)('answers 401 for a malformed header: %s', async (_name, header) => {
      const res = await stack.http().get('/api/v1/jobs').set('Authorization', header);
      expectError(res, 401);
    });

    it('answers 401 for a token that is not a JWT', async () => {
      const res = await stack.http().get('/api/v1/jobs').set('Authorization', 'Bearer not.a.jwt');
      expectError(res, 401, /token is invalid/);
    });

    it('answers 401 for a token signed with another secret', async () => {
      const token = jwt.sign({ roles: ['admin'] }, 'another-secret-of-enough-length', {
        algorithm: 'HS256',
        subject: 'alice',
        expiresIn: 60,
      });
      const res = await stack.http().get('/api/v1/jobs').set('Authorization', `Bearer ${token}`);
      expectError(res, 401, /token is invalid/);
    });

    it('answers 401 for an unsigned token (alg none)', async () => {
      const token = jwt.sign({ roles: ['admin'] }, '', {
        algorithm: 'none',
        subject: 'alice',
        expiresIn: 60,
      });
      const res = await stack.http().get('/api/v1/jobs').set('Authorization', `Bearer ${token}`);
      expectError(res, 401);
    });

    it('answers 401 for an expired token', async () => {
      const res = await stack
        .http()
        .get('/api/v1/jobs')
        .set('Authorization', `Bearer ${tokenFor('alice', [], -10)}`);
      expectError(res, 401, /expired/);
    });

    it('answers 401 for a token signed with a past exp claim', async () => {
      const token = jwt.sign(
        { sub: 'alice', roles: [], exp: Math.floor(Date.now() / 1000) - 60 },
        TEST_JWT_SECRET,
        { algorithm: 'HS256' },
      );
      const res = await stack.http().get('/api/v1/jobs').set('Authorization', `Bearer ${token}`);
      expectError(res, 401, /expired/);
    });

    it('answers 401 for a correctly signed token without a subject', async () => {
      const token = jwt.sign({ roles: [] }, TEST_JWT_SECRET, { algorithm: 'HS256', expiresIn: 60 });
      const res = await stack.http().get('/api/v1/jobs').set('Authorization', `Bearer ${token}`);
      expectError(res, 401, /subject/);
    });

    it('accepts a valid token and the lower-case bearer scheme', async () => {
      await stack
        .http()
        .get('/api/v1/jobs')
        .set('Authorization', `bearer ${tokenFor('alice')}`)
        .expect(200);
    });
  });

  describe("another user's job answers 404, never 403", () => {
    let alice: Api;
    let bob: Api;
    let job: JobBody;

    beforeAll(async () => {
      alice = new Api(stack, uniqueUser('alice'));
      bob = new Api(stack, uniqueUser('bob'));
      job = await alice.submitOk('echo', { text: 'private', fail: 'fatal' });
      await alice.waitForStatus(job.id, ['error']);
    });

    it.each([
      ['get', ''],
      ['get', '/events'],
      ['post', '/cancel'],
      ['post', '/retry'],
    ] as const)('%s /jobs/:id%s', async (method, suffix) => {
      const res = await bob[method](`/jobs/${job.id}${suffix}`);
      expectError(res, 404, new RegExp(job.id));
    });

    it('even for an admin who is not the owner', async () => {
      const admin = new AdminApi(stack);
      expectError(await admin.get(`/jobs/${job.id}`), 404);
    });

    it("leaves the owner's job untouched and answers the owner", async () => {
      const seen = await alice.job(job.id);
      expect(seen).toMatchObject({ id: job.id, status: 'error', attempts: 1 });
      const events = await alice.allEvents(job.id);
      expect(events.map((event) => event.status)).toEqual(['created', 'processing', 'error']);
    });

    it("does not list another user's jobs", async () => {
      expect((await bob.listAll()).map((j) => j.id)).not.toContain(job.id);
      expect((await alice.listAll()).map((j) => j.id)).toEqual([job.id]);
    });

    it.each([
      ['get', ''],
      ['get', '/events'],
      ['post', '/cancel'],
      ['post', '/retry'],
    ] as const)('answers 404 for a non-uuid id (%s /jobs/:id%s)', async (method, suffix) => {
      for (const id of ['not-a-uuid', '123', `${randomUUID()}x`]) {
        expectError(await alice[method](`/jobs/${id}${suffix}`), 404);
      }
    });

    it('answers 404 for a well-formed id that does not exist', async () => {
      expectError(await alice.get(`/jobs/${randomUUID()}`), 404);
    });
  });

  describe('admin role', () => {
    const adminRoutes: ['get' | 'post', string][] = [
      ['get', '/admin/queues'],
      ['post', '/admin/queues/echo/pause'],
      ['post', '/admin/queues/echo/resume'],
      ['post', '/admin/queues/echo/clean'],
    ];

    it.each(adminRoutes)('%s %s answers 403 without the admin role', async (method, path) => {
      const user = new Api(stack, uniqueUser('user'), ['operator']);
      expectError(await user[method](path), 403, /admin role is required/);
    });

    it.each(adminRoutes)('%s %s answers 200 with the admin role', async (method, path) => {
      const admin = new AdminApi(stack);
      try {
        const res = await admin[method](path);
        expect(res.status).toBe(200);
      } finally {
        await admin.resume('echo');
      }
    });
  });

  describe('health', () => {
    it('GET /health/live answers 200 without auth', async () => {
      const res = await stack.http().get('/health/live').expect(200);
      expect(res.body).toEqual({ status: 'ok' });
    });

    it('GET /health/ready answers 200 with every check up, without auth', async () => {
      const res = await stack.http().get('/health/ready').expect(200);
      expect(res.body).toEqual({ status: 'ok', checks: { redis: 'up', database: 'up' } });
    });

    it('is not served under the API prefix', async () => {
      const res = await stack.http().get('/api/v1/health/live');
      expect(res.status).not.toBe(200);
    });
  });

  describe('OpenAPI', () => {
    it('GET /docs serves the Swagger UI without auth', async () => {
      const res = await stack.http().get('/docs').redirects(1).expect(200);
      expect(res.headers['content-type']).toMatch(/text\/html/);
      expect(res.text).toMatch(/swagger-ui/i);
    });

    it('GET /docs-json lists every route under /api/v1 and the job schemas', async () => {
      const res = await stack.http().get('/docs-json').expect(200);
      const doc = res.body as OpenApiDocument;
      expect(doc.openapi).toMatch(/^3\./);
      const routes = Object.entries(doc.paths).flatMap(([path, operations]) =>
        Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
      );
      expect(routes).toEqual(
        expect.arrayContaining([
          'POST /api/v1/jobs/{kind}',
          'GET /api/v1/jobs',
          'GET /api/v1/jobs/{id}',
          'GET /api/v1/jobs/{id}/events',
          'POST /api/v1/jobs/{id}/cancel',
          'POST /api/v1/jobs/{id}/retry',
          'GET /api/v1/admin/queues',
          'POST /api/v1/admin/queues/{kind}/pause',
          'POST /api/v1/admin/queues/{kind}/resume',
          'POST /api/v1/admin/queues/{kind}/clean',
        ]),
      );
      const apiRoutes = routes.filter((route) => !route.includes(' /health/'));
      for (const route of apiRoutes) expect(route).toMatch(/^[A-Z]+ \/api\/v1\//);

      const { schemas } = doc.components;
      expect(Object.keys(schemas)).toEqual(
        expect.arrayContaining(['SubmitJobDto', 'JobView', 'EchoParams']),
      );
      expect(Object.keys(schemas.SubmitJobDto?.properties ?? {}).sort()).toEqual(
        ['params', 'priority', 'projectId', 'requestId'].sort(),
      );
      expect(Object.keys(schemas.JobView?.properties ?? {})).toEqual(
        expect.arrayContaining(['id', 'status', 'progress', 'result', 'error', 'attempts']),
      );
    });
  });
});
