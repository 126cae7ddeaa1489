import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateTaskResultSchema,
  ErrorCode,
  McpError,
  type CallToolResult,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { Queue } from 'bullmq';
import fc from 'fast-check';
import Redis from 'ioredis';
import { Client } from 'pg';
import { io } from 'socket.io-client';
import { externalKindKeys } from '../../src/core/external-queue.service';
import { parseStatusMessage, parseStreamMessage } from '../../src/realtime/status-message';
import { TEST_JWT_SECRET, tokenFor } from '../support/app';
import { killAllConveyors, startConveyor, type ConveyorProcess } from '../support/conveyor-process';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { dropPrefix, TEST_REDIS_URL, uniquePrefix } from '../support/redis';
import { waitFor } from '../support/wait';
import { queuePrefix } from '../../src/redis/redis-keys';
import { fuzzSettings } from './fuzz-settings';
import {
  hostileValue,
  malformedJson,
  mutatedValue,
  nastyString,
  propertyNames,
  validValue,
  type Components,
  type Hints,
  type Schema,
} from './schema-arbitraries';

/*
 * The fuzz tier: reads the served OpenAPI document and throws generated values at every
 * operation, at the Socket.IO handshake and at the external status channels of one api
 * process (a real child, so a crash shows as an exit). Pass: no 5xx, every 4xx in the error
 * shape of docs/errors.md (a 400 naming a field), the process alive and ready afterwards, and the
 * database and the queues holding exactly what the accepted requests created.
 *
 * MCP (docs/mcp.md): an SDK client session with the fuzz user's token lists the tools and calls
 * each with arguments generated from its inputSchema. A kind's tool is called as a task first
 * (it answers at once: the api runs no workers, so a plain call that is accepted would wait for
 * ever); only arguments the task call refused are sent again as a plain call, which must refuse
 * them too. Accepted tasks are jobs, counted in the final bookkeeping. The raw /mcp surface
 * (malformed JSON-RPC, bad session ids and Last-Event-IDs) is fuzzed as another user, whose
 * jobs that bookkeeping does not count.
 */

const settings = fuzzSettings();
const EXTERNAL_KIND = 'fuzz-external';
const READY_MS = 90_000;
// Longer runs get longer bounds: a request takes milliseconds, a shrink a few hundred of them.
jest.setTimeout(180_000 + settings.runs * 2_000);

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: Schema;
}
interface Operation {
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  security?: unknown[];
}
interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Components };
}
interface FuzzRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}
interface FuzzResponse {
  status: number;
  text: string;
  json: unknown;
}
interface Tally {
  sent: number;
  /** An HTTP status, or for MCP `accepted`, `isError <status>` or `rpc <code>`. */
  byStatus: Record<string, number>;
}

const HTTP_METHODS = ['get', 'post', 'put', 'patch', 'delete'];
/** Header values Node's client can send at all (it refuses control characters itself). */
const headerText = fc.string({
  unit: fc.oneof(
    fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
    fc.integer({ min: 0x80, max: 0xff }).map((code) => String.fromCharCode(code)),
  ),
  maxLength: 300,
});
const LONE_SURROGATE = /[\ud800-\udfff]/g;

function encodePathSegment(value: string): string {
  // encodeURIComponent throws on a lone surrogate; the URL would carry U+FFFD anyway.
  return encodeURIComponent(value.replace(LONE_SURROGATE, '\ufffd'));
}

/** A request in a few hundred characters, for counterexamples (bodies can be megabytes). */
function summarize(request: FuzzRequest): string {
  const body = request.body ?? '';
  const headers = { ...request.headers };
  if (headers.authorization) headers.authorization = `${headers.authorization.slice(0, 16)}…`;
  return (
    `${request.method} ${request.url.slice(0, 300)} headers ${JSON.stringify(headers).slice(0, 300)} ` +
    `body (${body.length} chars) ${JSON.stringify(body.slice(0, 300))}`
  );
}

function stringify(value: unknown): string {
  return JSON.stringify(value) ?? 'null';
}

describe('fuzz: the served API, the socket handshake, the status channels and MCP', () => {
  let db: TestDatabase;
  let prefix: string;
  let dataDir: string;
  let api: ConveyorProcess;
  let base: string;
  let doc: OpenApiDocument;
  const user = `fuzz-${settings.seed}`;
  const userToken = tokenFor(user);
  const adminToken = tokenFor(`fuzz-admin-${settings.seed}`, ['admin']);
  const knownIds: string[] = [];
  const accepted = { jobs: new Set<string>(), projects: new Set<string>() };
  const tallies = new Map<string, Tally>();

  beforeAll(async () => {
    console.log(
      `fuzz seed ${settings.seed}, ${settings.runs} runs per operation ` +
        `(replay: FUZZ_SEED=${settings.seed} FUZZ_RUNS=${settings.runs})`,
    );
    db = await createTestDatabase();
    prefix = uniquePrefix('fuzz');
    dataDir = await mkdtemp(join(tmpdir(), 'conveyor-fuzz-'));
    const started = await startConveyor(
      'fuzz api',
      {
        APP_ROLE: 'api',
        PORT: '0',
        DATABASE_URL: db.url,
        REDIS_URL: TEST_REDIS_URL,
        QUEUE_PREFIX: prefix,
        JWT_SECRET: TEST_JWT_SECRET,
        DATA_DIR: dataDir,
        LOG_LEVEL: 'warn',
        SUBMIT_LIMIT_PER_MINUTE: '1000000',
        // Credentials are stored, so the fuzzer reaches the sealing path (without a key they are a
        // documented 501, docs/credentials.md).
        SECRETS_KEY: randomBytes(32).toString('hex'),
        // An external kind has an operation too; its jobs wait on a Redis list.
        EXTERNAL_KINDS: EXTERNAL_KIND,
        [`EXTERNAL_${EXTERNAL_KIND.toUpperCase().replace(/-/g, '_')}_ITEM`]: 'id',
      },
      READY_MS,
    );
    api = started.proc;
    base = `http://127.0.0.1:${started.ready.port}`;
    doc = (await (await fetch(`${base}/docs-json`)).json()) as OpenApiDocument;

    const project = await call('POST', '/api/v1/projects', userToken, { name: 'fuzz' });
    const projectId = (project.json as { id: string }).id;
    accepted.projects.add(projectId);
    const job = await call('POST', '/api/v1/jobs/echo', userToken, {
      projectId,
      params: { text: 'seed' },
    });
    const jobId = (job.json as { id: string }).id;
    accepted.jobs.add(jobId);
    const other = await call('POST', '/api/v1/jobs/echo', tokenFor(`${user}-other`), {
      projectId: 'elsewhere',
      params: { text: 'not yours' },
    });
    knownIds.push(projectId, jobId, (other.json as { id: string }).id);
    expect([project.status, job.status, other.status]).toEqual([201, 202, 202]);
  });

  afterAll(async () => {
    const rows = [...tallies.entries()].map(([operation, t]) => ({
      operation,
      sent: t.sent,
      statuses: Object.entries(t.byStatus)
        .map(([status, count]) => `${status}×${count}`)
        .join(' '),
    }));
    if (rows.length > 0) {
      const total = rows.reduce((sum, row) => sum + row.sent, 0);
      const fives = [...tallies.values()].reduce(
        (sum, t) =>
          sum +
          Object.entries(t.byStatus)
            .filter(([status]) => Number(status) >= 500 || / 5\d\d$/.test(status))
            .reduce((s, [, n]) => s + n, 0),
        0,
      );
      console.log(
        `fuzz seed ${settings.seed}: ${total} requests, 5xx = ${fives}\n` +
          rows
            .map((r) => `${r.operation.padEnd(48)} ${String(r.sent).padStart(6)}  ${r.statuses}`)
            .join('\n'),
      );
    }
    await killAllConveyors();
    if (prefix) await dropPrefix(prefix);
    await db?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  async function send(request: FuzzRequest): Promise<FuzzResponse> {
    const res = await fetch(`${base}${request.url}`, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      redirect: 'manual',
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, text, json };
  }

  function call(method: string, url: string, token: string, body?: unknown): Promise<FuzzResponse> {
    return send({
      method,
      url,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : stringify(body),
    });
  }

  function describeRequest(request: FuzzRequest, response: FuzzResponse): string {
    return (
      `${summarize(request)}\n→ ${response.status} ${response.text.slice(0, 500)}\n` +
      (api.running ? '' : api.describe())
    );
  }

  /** Ids that exist, so some requests get past "not found" to the checks behind it. */
  function hints(): Hints {
    return {
      projectId: fc.constantFrom(...knownIds.slice(0, 1)),
      testCommand: fc.constantFrom('npm test', 'go test ./...'),
      // Values the new kinds' checks accept, so requests reach what runs behind the DTO.
      prompt: fc.constantFrom('add a greeting function', 'explain the README'),
      title: fc.constantFrom('Add the greeting endpoint'),
      sourceBranch: fc.constantFrom('conveyor/fuzz', 'feature-1'),
      targetBranch: fc.constantFrom('main', 'release/1.0'),
      q: fc.constantFrom('greeting', 'main'),
    };
  }

  function parameterValue(parameter: Parameter): fc.Arbitrary<string> {
    const schema = parameter.schema ?? {};
    if (parameter.name === 'kind') {
      const kinds = Object.keys(doc.paths)
        .map((path) => /^\/api\/v1\/jobs\/([a-z][a-z0-9-]*)$/.exec(path)?.[1])
        .filter((kind): kind is string => kind !== undefined);
      return fc.oneof(fc.constantFrom(...kinds, 'no-such-kind', 'ECHO'), nastyString);
    }
    if (parameter.name === 'id') {
      return fc.oneof(fc.constantFrom(...knownIds), fc.uuid(), nastyString);
    }
    if (parameter.name === 'after') {
      return fc.oneof(fc.bigInt({ min: 0n, max: 10n ** 20n }).map(String), nastyString);
    }
    if (parameter.name === 'cursor') {
      const cursor = fc
        .tuple(
          fc.oneof(
            fc.date().map((d) => (Number.isNaN(d.getTime()) ? 'x' : d.toISOString())),
            nastyString,
          ),
          fc.oneof(fc.uuid(), fc.constant('-'.repeat(36)), nastyString),
        )
        .map(([at, id]) => Buffer.from(`${at}|${id}`).toString('base64url'));
      return fc.oneof(cursor, nastyString, fc.bigInt().map(String));
    }
    return fc.oneof(
      {
        weight: 3,
        arbitrary: validValue(schema, doc.components.schemas).map((v) =>
          typeof v === 'string' ? v : stringify(v),
        ),
      },
      {
        weight: 1,
        arbitrary: hostileValue(schema, doc.components.schemas).map((v) =>
          typeof v === 'string' ? v : stringify(v),
        ),
      },
    );
  }

  function requestFor(
    path: string,
    method: string,
    operation: Operation,
  ): fc.Arbitrary<FuzzRequest> {
    const parameters = operation.parameters ?? [];
    const pathParams = parameters.filter((p) => p.in === 'path');
    const queryParams = parameters.filter((p) => p.in === 'query');
    const headerParams = parameters.filter((p) => p.in === 'header');
    const bodySchema = operation.requestBody?.content?.['application/json']?.schema;
    const isAdmin = path.includes('/admin/');
    const auth = fc.oneof(
      { weight: 12, arbitrary: fc.constant(`Bearer ${isAdmin ? adminToken : userToken}`) },
      { weight: 1, arbitrary: fc.constant(`Bearer ${isAdmin ? userToken : adminToken}`) },
      { weight: 1, arbitrary: headerText.map((text) => `Bearer ${text}`) },
      { weight: 1, arbitrary: fc.constant('') },
    );
    const body: fc.Arbitrary<string | undefined> = bodySchema
      ? fc.oneof(
          {
            weight: 6,
            arbitrary: mutatedValue(bodySchema, doc.components.schemas, 0, hints()).map(stringify),
          },
          { weight: 1, arbitrary: malformedJson },
        )
      : fc.option(malformedJson, { nil: undefined, freq: 4 });
    return fc
      .record({
        path: fc.tuple(...pathParams.map(parameterValue), fc.constant('')),
        query: fc.tuple(
          ...queryParams.map((p) => fc.option(parameterValue(p), { nil: undefined, freq: 2 })),
          fc.constant(undefined),
        ),
        headers: fc.tuple(
          ...headerParams.map(() => fc.option(headerText, { nil: undefined })),
          fc.constant(undefined),
        ),
        auth,
        contentType: fc.constantFrom('application/json', 'application/json', 'text/plain'),
        body,
      })
      .map((generated) => {
        let url = path;
        pathParams.forEach((p, i) => {
          url = url.replace(`{${p.name}}`, encodePathSegment(generated.path[i] ?? ''));
        });
        const search = new URLSearchParams();
        queryParams.forEach((p, i) => {
          const value = generated.query[i];
          if (value !== undefined) search.set(p.name, value);
        });
        const query = search.toString();
        const headers: Record<string, string> = { 'content-type': generated.contentType };
        if (generated.auth) headers.authorization = generated.auth;
        headerParams.forEach((p, i) => {
          const value = generated.headers[i];
          if (value !== undefined) headers[p.name.toLowerCase()] = value;
        });
        const upper = method.toUpperCase();
        const canHaveBody = upper !== 'GET' && upper !== 'HEAD';
        const request: FuzzRequest = {
          method: upper,
          url: query ? `${url}?${query}` : url,
          headers,
          body: canHaveBody ? generated.body : undefined,
        };
        return Object.defineProperty(request, fc.toStringMethod, {
          value: () => summarize(request),
          enumerable: false,
        });
      });
  }

  /** A 400 may name a property the request sent that no schema knows (an extra one). */
  function namesSentKey(request: FuzzRequest, message: string): boolean {
    let parsed: unknown;
    try {
      parsed = JSON.parse(request.body ?? '');
    } catch {
      return false;
    }
    const keys: string[] = [];
    const collect = (value: unknown, depth: number) => {
      if (depth > 2 || typeof value !== 'object' || value === null) return;
      for (const [key, item] of Object.entries(value)) {
        keys.push(key);
        collect(item, depth + 1);
      }
    };
    collect(parsed, 0);
    return keys.some(
      (key) => (key !== '' && message.startsWith(key)) || message.includes(`.${key} `),
    );
  }

  /** What a 400 may name: the operation's fields and parameters, or the body as a whole. */
  function fieldPattern(operation: Operation): RegExp {
    const bodySchema = operation.requestBody?.content?.['application/json']?.schema;
    const names = [
      ...propertyNames(bodySchema, doc.components.schemas),
      ...(operation.parameters ?? []).map((p) => p.name),
      'body',
      'JSON',
      'params',
      'Idempotency-Key',
      'cursor',
    ];
    const escaped = names.map((name) => name.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&'));
    // An extra property is named too, though no schema knows it.
    return new RegExp(`(${escaped.join('|')}|.+ is not an allowed property)`, 'i');
  }

  function record(operation: string, status: number | string): void {
    const tally = tallies.get(operation) ?? { sent: 0, byStatus: {} };
    tally.sent += 1;
    tally.byStatus[status] = (tally.byStatus[status] ?? 0) + 1;
    tallies.set(operation, tally);
  }

  function remember(path: string, request: FuzzRequest, response: FuzzResponse): void {
    // A request sent with another token created that user's job or project, not the fuzz user's.
    if (request.headers.authorization !== `Bearer ${userToken}`) return;
    const { method } = request;
    const id = (response.json as { id?: unknown } | undefined)?.id;
    if (method === 'POST' && path.startsWith('/api/v1/jobs/') && !path.includes('{id}')) {
      if (response.status < 300 && typeof id === 'string') accepted.jobs.add(id);
    }
    if (method === 'POST' && path === '/api/v1/projects' && response.status === 201) {
      if (typeof id === 'string') accepted.projects.add(id);
    }
  }

  it('every operation: no 5xx, every 4xx in the error shape naming what is wrong', async () => {
    const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => HTTP_METHODS.includes(method))
        .map(([method, operation]) => ({ path, method, operation })),
    );
    expect(operations.length).toBeGreaterThan(10);
    for (const [index, { path, method, operation }] of operations.entries()) {
      const name = `${method.toUpperCase()} ${path}`;
      const fields = fieldPattern(operation);
      await fc.assert(
        fc.asyncProperty(requestFor(path, method, operation), async (request) => {
          const response = await send(request);
          record(name, response.status);
          remember(path, request, response);
          const context = describeRequest(request, response);
          if (response.status >= 500) throw new Error(`5xx from ${name}\n${context}`);
          if (response.status >= 400) {
            const body = response.json as {
              statusCode?: unknown;
              error?: unknown;
              message?: unknown;
            };
            const shaped =
              body?.statusCode === response.status &&
              typeof body.error === 'string' &&
              body.error !== '' &&
              typeof body.message === 'string' &&
              body.message !== '';
            if (!shaped) throw new Error(`error not in the error shape\n${context}`);
            const message = body.message as string;
            if (
              response.status === 400 &&
              !fields.test(message) &&
              !namesSentKey(request, message)
            ) {
              throw new Error(`400 that names no field\n${context}`);
            }
          }
        }),
        { seed: settings.seed + index, numRuns: settings.runs },
      );
    }
  });

  it('the Socket.IO handshake: any auth value is refused or accepted, never a crash', async () => {
    const authValue = fc.record(
      {
        token: fc.oneof(
          fc.constantFrom(userToken, tokenFor(user, [], -10), `${userToken}x`),
          nastyString,
          fc.jsonValue({ maxDepth: 3 }),
        ),
        lastEventId: fc.oneof(
          fc.bigInt({ min: 0n, max: 10n ** 20n }).map(String),
          nastyString,
          fc.jsonValue({ maxDepth: 2 }),
        ),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(authValue, async (auth) => {
        const outcome = await new Promise<string>((resolve) => {
          const socket = io(base, {
            auth: auth as Record<string, unknown>,
            transports: ['websocket'],
            reconnection: false,
            forceNew: true,
            timeout: 10_000,
          });
          socket.once('connect', () => {
            socket.close();
            resolve('connected');
          });
          socket.once('connect_error', (error) => {
            socket.close();
            resolve(error.message);
          });
        });
        record('socket.io handshake', outcome === 'connected' ? 101 : 401);
        const valid =
          auth.token === userToken &&
          (auth.lastEventId === undefined ||
            auth.lastEventId === null ||
            (typeof auth.lastEventId === 'string' && /^\d{1,18}$/.test(auth.lastEventId)));
        if (outcome === 'connected' && !valid) {
          throw new Error(`accepted a bad handshake ${stringify(auth).slice(0, 300)}`);
        }
        if (outcome !== 'connected' && valid) {
          throw new Error(`refused a good handshake: ${outcome}`);
        }
        if (!api.running) throw new Error(`the api died\n${api.describe()}`);
      }),
      { seed: settings.seed, numRuns: settings.runs },
    );
  });

  it('the external status channels: every report is applied or dropped, none is lost', async () => {
    const publisher = new Redis(TEST_REDIS_URL);
    try {
      const jobId = fc.oneof(fc.constantFrom(...knownIds), fc.uuid(), nastyString);
      const statusSchema: Schema = {
        type: 'object',
        required: ['jobId', 'status'],
        properties: {
          jobId: { type: 'string', format: 'uuid' },
          status: { type: 'string', enum: ['processing', 'progress', 'done', 'error'] },
          progress: { type: 'integer', minimum: 0, maximum: 100 },
          message: { type: 'string' },
          result: { type: 'object' },
          error: { type: 'string' },
          userId: { type: 'string' },
        },
      };
      const streamSchema: Schema = {
        type: 'object',
        properties: {
          progress: { type: 'integer', minimum: 0, maximum: 100 },
          message: { type: 'string' },
          complete: { type: 'boolean' },
          content: { type: 'string' },
          isError: { type: 'boolean' },
        },
      };
      const report = fc.oneof(
        fc.tuple(jobId, mutatedValue(statusSchema, {})).map(([id, body]) => ({
          channel: `${prefix}:status`,
          raw: stringify({ jobId: id, ...(body as object) }),
        })),
        fc
          .tuple(jobId, fc.oneof(mutatedValue(streamSchema, {}).map(stringify), malformedJson))
          .map(([id, raw]) => ({ channel: `${prefix}:stream:${id}`, raw })),
        malformedJson.map((raw) => ({ channel: `${prefix}:status`, raw })),
      );
      const reports = fc.sample(report, { seed: settings.seed, numRuns: settings.runs * 4 });
      // Identical bad reports within the claim window are one report (every instance hears each).
      const seenBad = new Set<string>();
      let expected = 0;
      for (const { channel, raw } of reports) {
        const streamPrefix = `${prefix}:stream:`;
        const parsed = channel.startsWith(streamPrefix)
          ? parseStreamMessage(channel.slice(streamPrefix.length), raw)
          : parseStatusMessage(raw);
        const digest = createHash('sha1').update(channel).update('\n').update(raw).digest('hex');
        if (parsed.ok || !seenBad.has(digest)) expected += 1;
        if (!parsed.ok) seenBad.add(digest);
        await publisher.publish(channel, raw);
        record('redis status channels', parsed.ok ? 200 : 400);
      }
      await waitFor(
        `all ${expected} reports counted as applied or dropped`,
        async () => {
          const res = await call('GET', '/api/v1/admin/external-status', adminToken);
          const counts = res.json as { accepted: number; dropped: Record<string, number> };
          const total = counts.accepted + Object.values(counts.dropped).reduce((a, b) => a + b, 0);
          return total === expected ? counts : undefined;
        },
        30_000,
      );
      expect(api.running).toBe(true);
    } finally {
      publisher.disconnect();
    }
  });

  /** `refused (400): params.title must be …` → 400; what a refused call's text starts with. */
  function refusedStatus(text: string): number | undefined {
    const match = /^refused \((\d{3})\): /.exec(text);
    return match ? Number(match[1]) : undefined;
  }

  function textOf(result: CallToolResult): string {
    const first = result.content[0];
    return first?.type === 'text' ? first.text : '';
  }

  function mcpTransport(token: string): StreamableHTTPClientTransport {
    return new StreamableHTTPClientTransport(new URL('/mcp', base), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    });
  }

  it('MCP tool arguments: refused with a JSON-RPC error or an isError result naming the field', async () => {
    const lister = new McpClient({ name: 'conveyor-fuzz', version: '1.0.0' });
    await lister.connect(mcpTransport(userToken));
    const { tools } = await lister.listTools().finally(() => lister.close());
    const names = tools.map((tool) => tool.name);
    expect(names).toEqual(
      expect.arrayContaining(['get_job', 'cancel_job', 'search_code', 'test_execution']),
    );
    expect(names).toContain(EXTERNAL_KIND.replace(/-/g, '_'));
    const mcpHints: Hints = { ...hints(), jobId: fc.constantFrom(...knownIds.slice(1)) };
    // A session per tool: each must survive its tool's calls (same id, still answering).
    for (const [index, tool] of tools.entries()) {
      const client = new McpClient({ name: 'conveyor-fuzz', version: '1.0.0' });
      const transport = mcpTransport(userToken);
      await client.connect(transport);
      const sessionId = transport.sessionId;
      try {
        await fuzzTool(client, tool, mcpHints, settings.seed + 1000 + index);
        expect(transport.sessionId).toBe(sessionId);
        expect((await client.listTools()).tools.map((t) => t.name)).toEqual(names);
      } finally {
        await client.close();
      }
    }
    expect(api.running).toBe(true);
  });

  async function fuzzTool(client: McpClient, tool: Tool, mcpHints: Hints, seed: number) {
    const schema = tool.inputSchema as Schema;
    const operation = `MCP ${tool.name}`;
    const isKind = tool.execution?.taskSupport !== undefined;
    const known = propertyNames(schema, {});
    const names = (args: unknown, message: string): boolean => {
      if ([...known, 'arguments', 'params'].some((name) => message.includes(name))) return true;
      const sent = typeof args === 'object' && args !== null ? Object.keys(args) : [];
      // An odd name (say "") is quoted in the message.
      return sent.some(
        (key) => (key !== '' && message.includes(key)) || message.includes(JSON.stringify(key)),
      );
    };
    /** A refusal, as an isError result or a JSON-RPC error: what is wrong is said. */
    const checkRefusal = (args: unknown, how: string, status: number | undefined, text: string) => {
      const context = `${operation} (${how}) ${stringify(args).slice(0, 300)}\n→ ${text.slice(0, 500)}`;
      if (!api.running) throw new Error(`the api died\n${context}\n${api.describe()}`);
      if (status === undefined || status >= 500) throw new Error(`not a refusal\n${context}`);
      if (status === 400 && !names(args, text)) throw new Error(`names no field\n${context}`);
    };
    const rpcRefusal = (args: unknown, how: string, error: unknown): void => {
      if (!(error instanceof McpError)) {
        throw new Error(`${operation} (${how}): not a JSON-RPC error: ${String(error)}`);
      }
      record(operation, `rpc ${error.code}`);
      // InvalidParams carries the service's own refusal, or the SDK's schema check of the call.
      if (error.code !== Number(ErrorCode.InvalidParams)) {
        checkRefusal(args, how, 500, error.message);
      }
      checkRefusal(
        args,
        how,
        refusedStatus(error.message.replace(/^(MCP error -?\d+: )+/, '')) ?? 400,
        error.message,
      );
    };
    const plainCall = async (args: unknown) => {
      let result: CallToolResult;
      try {
        result = (await client.callTool(
          { name: tool.name, arguments: args as Record<string, unknown> },
          undefined,
          { timeout: 20_000 },
        )) as CallToolResult;
      } catch (error) {
        rpcRefusal(args, 'call', error);
        return 'refused';
      }
      if (!result.isError) {
        record(operation, 'answered');
        return 'answered';
      }
      const text = textOf(result);
      record(operation, `isError ${refusedStatus(text) ?? '?'}`);
      checkRefusal(args, 'call', refusedStatus(text), text);
      return 'refused';
    };
    const argumentValues = fc.oneof(
      { weight: 8, arbitrary: mutatedValue(schema, {}, 0, mcpHints) },
      { weight: 1, arbitrary: hostileValue(schema, {}) },
    );
    await fc.assert(
      fc.asyncProperty(argumentValues, async (args) => {
        if (!isKind) {
          await plainCall(args);
          return;
        }
        let taskError: unknown;
        try {
          const created = await client.request(
            {
              method: 'tools/call',
              params: {
                name: tool.name,
                arguments: args as Record<string, unknown>,
                task: { ttl: 60_000 },
              },
            },
            CreateTaskResultSchema,
            { timeout: 20_000 },
          );
          accepted.jobs.add(created.task.taskId);
          record(operation, 'accepted');
          return;
        } catch (error) {
          taskError = error;
        }
        rpcRefusal(args, 'task', taskError);
        // The same arguments as a plain call: refused too, so it answers at once.
        const plain = await plainCall(args);
        if (plain !== 'refused') {
          throw new Error(`${operation}: a plain call accepted what its task call refused`);
        }
      }),
      { seed, numRuns: settings.runs },
    );
  }

  /** The SSE answers of a POST (read up to a bound: a call that started a job never ends). */
  async function answersOf(res: Response, read: boolean): Promise<string> {
    if (!read || !res.body) {
      await res.body?.cancel();
      return '';
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const bound = setTimeout(() => void reader.cancel(), 5_000);
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
    } finally {
      clearTimeout(bound);
    }
    return text;
  }

  it('the raw /mcp surface: malformed JSON-RPC, bad session ids and Last-Event-IDs are 4xx', async () => {
    // Another user: a raw call that starts a job is not followed, so it stays out of the count.
    const rawToken = tokenFor(`${user}-mcp-raw`);
    const client = new McpClient({ name: 'conveyor-fuzz-raw', version: '1.0.0' });
    const transport = mcpTransport(rawToken);
    await client.connect(transport);
    const liveSession = transport.sessionId ?? '';
    try {
      const jsonRpc = fc.record(
        {
          jsonrpc: fc.oneof(fc.constant('2.0'), fc.constant('1.0'), hostileValue({}, {})),
          id: fc.oneof(fc.integer(), fc.string({ maxLength: 10 }), fc.constant(null), nastyString),
          method: fc.oneof(
            fc.constantFrom('initialize', 'tools/list', 'tools/call', 'ping', 'tasks/get'),
            fc.constantFrom('resources/list', 'notifications/cancelled', 'logging/setLevel'),
            nastyString,
          ),
          params: fc.oneof(
            fc.record({
              name: fc.oneof(fc.constantFrom('get_job', 'search_code', 'nope'), nastyString),
              arguments: fc.jsonValue({ maxDepth: 3 }),
              protocolVersion: fc.constantFrom('2025-11-25', '1999-01-01'),
            }),
            hostileValue({}, {}),
          ),
        },
        { requiredKeys: [] },
      );
      const body = fc.oneof(
        { weight: 4, arbitrary: jsonRpc.map(stringify) },
        { weight: 1, arbitrary: fc.array(jsonRpc, { maxLength: 3 }).map(stringify) },
        { weight: 2, arbitrary: malformedJson },
      );
      const request = fc
        .record({
          method: fc.constantFrom('POST', 'POST', 'POST', 'GET', 'DELETE', 'PUT'),
          session: fc.option(
            fc.oneof(
              fc.constant(liveSession),
              fc.uuid(),
              headerText.filter((t) => t !== ''),
            ),
            { nil: undefined },
          ),
          lastEventId: fc.option(
            fc.oneof(headerText, fc.constant(`${liveSession}_1`), fc.constant('0')),
            { nil: undefined, freq: 3 },
          ),
          accept: fc.constantFrom(
            'application/json, text/event-stream',
            'application/json',
            'text/html',
            '',
          ),
          contentType: fc.constantFrom('application/json', 'text/plain'),
          auth: fc.oneof(
            { weight: 8, arbitrary: fc.constant(`Bearer ${rawToken}`) },
            { weight: 1, arbitrary: fc.constant(`Bearer ${userToken}`) },
            { weight: 1, arbitrary: headerText.map((text) => `Bearer ${text}`) },
          ),
          body,
        })
        .map((r) => {
          const headers: Record<string, string> = {
            'content-type': r.contentType,
            authorization: r.auth,
          };
          if (r.accept) headers.accept = r.accept;
          if (r.session !== undefined) headers['mcp-session-id'] = r.session;
          if (r.lastEventId !== undefined) headers['last-event-id'] = r.lastEventId;
          const sent: FuzzRequest = {
            method: r.method,
            url: '/mcp',
            headers,
            body: r.method === 'GET' ? undefined : r.body,
          };
          return Object.defineProperty(sent, fc.toStringMethod, {
            value: () => summarize(sent),
            enumerable: false,
          });
        });
      await fc.assert(
        fc.asyncProperty(request, async (sent) => {
          const res = await fetch(`${base}${sent.url}`, {
            method: sent.method,
            headers: sent.headers,
            body: sent.body,
          });
          const streaming = (res.headers.get('content-type') ?? '').includes('text/event-stream');
          // A POST's stream ends with its answers; a GET's stays open and is not waited for.
          const text = streaming ? await answersOf(res, sent.method === 'POST') : await res.text();
          record('raw /mcp', res.status);
          const context = `${summarize(sent)}\n→ ${res.status} ${text.slice(0, 500)}`;
          if (!api.running) throw new Error(`the api died\n${context}\n${api.describe()}`);
          if (res.status >= 500) throw new Error(`5xx from /mcp\n${context}`);
          // A malformed request inside a well-formed message is the client's fault, said so.
          if (text.includes(`"code":${ErrorCode.InternalError}`)) {
            throw new Error(`InternalError for a client's mistake\n${context}`);
          }
          if (res.status >= 400) {
            let parsed: unknown;
            try {
              parsed = JSON.parse(text);
            } catch {
              throw new Error(`a ${res.status} without a JSON body\n${context}`);
            }
            const spec = parsed as { statusCode?: unknown; error?: unknown; message?: unknown };
            const rpc = parsed as { jsonrpc?: unknown; error?: { message?: unknown } };
            const specShaped =
              spec.statusCode === res.status &&
              typeof spec.error === 'string' &&
              typeof spec.message === 'string' &&
              spec.message !== '';
            const rpcShaped =
              rpc.jsonrpc === '2.0' &&
              typeof rpc.error?.message === 'string' &&
              rpc.error.message !== '';
            if (!specShaped && !rpcShaped) {
              throw new Error(`neither the error shape nor a JSON-RPC error\n${context}`);
            }
          }
        }),
        { seed: settings.seed + 2000, numRuns: settings.runs * 2 },
      );
      expect(api.running).toBe(true);
    } finally {
      await client.close().catch(() => undefined);
    }
  });

  it('leaves the service ready and nothing behind that a refused request created', async () => {
    expect(api.running).toBe(true);
    const ready = await fetch(`${base}/health/ready`);
    expect(ready.status).toBe(200);

    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      const jobs = await client.query<{
        id: string;
        kind: string;
        status: string;
        progress: number;
      }>('SELECT id, kind, status, progress FROM "Job" WHERE "userId" = $1', [user]);
      expect(new Set(jobs.rows.map((row) => row.id))).toEqual(accepted.jobs);
      for (const row of jobs.rows) {
        expect(['queued', 'processing', 'done', 'error', 'cancelled']).toContain(row.status);
        expect(row.progress).toBeGreaterThanOrEqual(0);
        expect(row.progress).toBeLessThanOrEqual(100);
      }
      const projects = await client.query<{ id: string }>(
        'SELECT id FROM "Project" WHERE "ownerId" = $1',
        [user],
      );
      for (const row of projects.rows) expect(accepted.projects).toContain(row.id);

      // Every queue entry has its row, and every queued row its queue entry.
      const kinds = [...new Set(jobs.rows.map((row) => row.kind))];
      for (const kind of kinds.filter((name) => name !== EXTERNAL_KIND)) {
        const queue = new Queue(kind, {
          connection: { url: TEST_REDIS_URL },
          prefix: queuePrefix(prefix, kind),
        });
        try {
          const entries = await queue.getJobs(['waiting', 'prioritized', 'delayed', 'active']);
          const queued = new Set(entries.map((entry) => entry.id));
          for (const id of queued) {
            const row = await client.query('SELECT 1 FROM "Job" WHERE id = $1', [id]);
            expect({ id, rows: row.rowCount }).toEqual({ id, rows: 1 });
          }
          const ofKind = jobs.rows.filter((row) => row.kind === kind);
          for (const row of ofKind.filter((r) => r.status === 'queued')) {
            expect(queued).toContain(row.id);
          }
        } finally {
          await queue.close();
        }
      }
      // An external kind's queue is its Redis list, one bare job id per queued job.
      const redis = new Redis(TEST_REDIS_URL);
      try {
        // A fuzzed admin pause holds new items in the kind's held list until a resume.
        const [list, held] = externalKindKeys(
          prefix,
          `${prefix}:external:${EXTERNAL_KIND}`,
          EXTERNAL_KIND,
        );
        const listed = [...(await redis.lrange(list, 0, -1)), ...(await redis.lrange(held, 0, -1))];
        // Another user's jobs (sent with the admin's token, or over raw /mcp) are listed too.
        for (const id of listed) {
          const row = await client.query('SELECT 1 FROM "Job" WHERE id = $1', [id]);
          expect({ id, rows: row.rowCount }).toEqual({ id, rows: 1 });
        }
        const queuedExternal = jobs.rows.filter(
          (row) => row.kind === EXTERNAL_KIND && row.status === 'queued',
        );
        for (const row of queuedExternal) expect(listed).toContain(row.id);
      } finally {
        redis.disconnect();
      }
    } finally {
      await client.end();
    }
  });
});
