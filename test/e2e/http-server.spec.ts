import { gzipSync } from 'node:zlib';
import { startStack, type TestStack } from '../support/app';
import { Api, expectError, uniqueUser } from '../support/api';
import { echoKind } from '../support/test-kinds';

const LIMIT = 4096;
const NAME_REQUIRED = 'name must be longer than or equal to 1 characters; name must be a string';

/**
 * What the HTTP server answers around the routes, kept from Express when it moved to Fastify
 * (docs/api-contract.md#the-http-server): bodies, routing, bad URLs, request ids, content types.
 */
describe('the HTTP server around the routes', () => {
  let stack: TestStack;
  let api: Api;

  beforeAll(async () => {
    stack = await startStack('http-server', [echoKind], { BODY_LIMIT_BYTES: String(LIMIT) });
    api = new Api(stack, uniqueUser('http'));
  });
  afterAll(() => stack.close());

  function postProject(contentType: string | undefined, body: string | Buffer) {
    const req = stack.http().post('/api/v1/projects').set('Authorization', api.auth);
    if (contentType !== undefined) req.set('Content-Type', contentType);
    return req.send(body);
  }

  describe('bodies', () => {
    it.each(['null', '"text"', '1', '{'])(
      'refuses %s as JSON: 400 not valid JSON',
      async (body) => {
        expectError(
          await postProject('application/json', body),
          400,
          'request body is not valid JSON',
        );
      },
    );

    it('takes an empty JSON body as no body: the route names the missing field', async () => {
      expectError(await postProject('application/json', ''), 400, NAME_REQUIRED);
    });

    it.each(['text/plain', 'application/vnd.api+json', 'garbage'])(
      'leaves a %s body unread: the route sees no body (no 415)',
      async (type) => {
        expectError(await postProject(type, '{"name":"x"}'), 400, NAME_REQUIRED);
      },
    );

    it('reads a JSON body with an upper-case type, a utf-8 charset or gzip', async () => {
      expectError(
        await postProject('APPLICATION/JSON', '{"name":1}'),
        400,
        /name must be a string/,
      );
      expectError(
        await postProject('application/json; charset=UTF-8', '{"name":1}'),
        400,
        /name must be a string/,
      );
      const port = (stack.app.getHttpServer().address() as { port: number }).port;
      const gzipped = await fetch(`http://127.0.0.1:${port}/api/v1/projects`, {
        method: 'POST',
        headers: {
          authorization: api.auth,
          'content-type': 'application/json',
          'content-encoding': 'gzip',
        },
        body: gzipSync('{"name":1}'),
      });
      expect(gzipped.status).toBe(400);
      const { message } = (await gzipped.json()) as { message: string };
      expect(message).toMatch(/name must be a string/);
    });

    it('refuses another charset or encoding with 415', async () => {
      expectError(
        await postProject('application/json; charset=latin1', '{}'),
        415,
        'unsupported charset "LATIN1"',
      );
      const encoded = await stack
        .http()
        .post('/api/v1/projects')
        .set('Authorization', api.auth)
        .set('Content-Type', 'application/json')
        .set('Content-Encoding', 'foo')
        .send('{}');
      expectError(encoded, 415, 'unsupported content encoding "foo"');
    });

    it('refuses a body past BODY_LIMIT_BYTES with 413, before authentication', async () => {
      const body = JSON.stringify({ name: 'x'.repeat(LIMIT) });
      expectError(await postProject('application/json', body), 413, `exceeds ${LIMIT} bytes`);
      const anonymous = await stack
        .http()
        .post('/api/v1/projects')
        .set('Content-Type', 'application/json')
        .send(body);
      expectError(anonymous, 413);
    });
  });

  describe('routing', () => {
    it('matches without regard to case and with a trailing slash', async () => {
      await stack.http().get('/API/V1/JOBS').set('Authorization', api.auth).expect(200);
      await stack.http().get('/api/v1/jobs/').set('Authorization', api.auth).expect(200);
      await stack.http().get('/health/live/').expect(200);
    });

    it('answers a path or method no route has with 404 Cannot <METHOD> <url>', async () => {
      expectError(await stack.http().get('/nope?x=1'), 404, 'Cannot GET /nope?x=1');
      expectError(
        await stack.http().delete('/api/v1/jobs').set('Authorization', api.auth),
        404,
        'Cannot DELETE /api/v1/jobs',
      );
      expectError(await stack.http().options('/api/v1/jobs'), 404, 'Cannot OPTIONS /api/v1/jobs');
    });

    it('hands a long parameter to the route, which refuses it', async () => {
      const id = 'a'.repeat(300);
      expectError(await api.get(`/jobs/${id}`), 404, `job ${id} not found`);
    });

    it('names a malformed escape in a parameter (400), a path no route has is 404', async () => {
      expectError(await api.get('/jobs/%ZZ/events'), 400, "Failed to decode param '%ZZ'");
      expectError(await stack.http().get('/nope%ZZ'), 404, 'Cannot GET /nope%ZZ');
    });
  });

  describe('request ids and content types', () => {
    it('answers a routed request with its X-Request-Id, or a new one', async () => {
      const given = await api.get('/jobs').set('X-Request-Id', 'req.given-1').expect(200);
      expect(given.headers['x-request-id']).toBe('req.given-1');
      const bad = await api.get('/jobs').set('X-Request-Id', 'not valid!').expect(200);
      expect(bad.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('serves the OpenAPI page and YAML with a utf-8 charset', async () => {
      const page = await stack.http().get('/docs').expect(200);
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
      const yaml = await stack.http().get('/docs-yaml').expect(200);
      expect(yaml.headers['content-type']).toBe('text/yaml; charset=utf-8');
    });

    it('types scripts as text/javascript', async () => {
      const bundle = await stack.http().get('/docs/swagger-ui-bundle.js').expect(200);
      expect(bundle.headers['content-type']).toBe('text/javascript; charset=utf-8');
    });
  });
});
