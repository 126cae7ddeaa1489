import { testConfig } from '../support/app';
import {
  startFakeLlm,
  type FakeLlmServer,
  type FakeProtocol,
} from '../support/fake-llm/fake-llm-server';
import { dropPrefix, uniquePrefix } from '../support/redis';
import { freePort } from '../support/ports';
import { waitFor } from '../support/wait';
import type { AppConfig } from '../../src/config/app-config';
import type { LlmProviderName } from '../../src/config/llm.config';
import { NonRetryableJobError } from '../../src/core/job.errors';
import { LlmCache } from '../../src/llm/llm-cache.service';
import { LlmCircuitBreaker } from '../../src/llm/llm-circuit-breaker.service';
import {
  LlmBadRequestError,
  LlmAttemptFailedError,
  LlmUnavailableError,
} from '../../src/llm/llm.errors';
import { LlmService } from '../../src/llm/llm.service';
import type { LlmRequest } from '../../src/llm/llm.types';
import { RedisService } from '../../src/redis/redis.service';

const KEYS: Record<Exclude<LlmProviderName, 'openai-compatible'>, string> = {
  anthropic: 'sk-ant-fake-key-0001',
  openai: 'sk-openai-fake-key-0002',
  google: 'google-fake-key-0003',
  xai: 'xai-fake-key-0004',
};
const ALL_KEYS = [...Object.values(KEYS), 'compat-fake-key-0005'];

const PROTOCOL: Record<LlmProviderName, FakeProtocol> = {
  anthropic: 'anthropic',
  openai: 'openai-responses',
  google: 'gemini',
  xai: 'openai-chat',
  'openai-compatible': 'openai-chat',
};
const ENV_PREFIX: Record<LlmProviderName, string> = {
  anthropic: 'ANTHROPIC',
  openai: 'OPENAI',
  google: 'GOOGLE_GENERATIVE_AI',
  xai: 'XAI',
  'openai-compatible': 'OPENAI_COMPATIBLE',
};

interface Harness {
  llm: LlmService;
  redis: RedisService;
  config: AppConfig;
  close(): Promise<void>;
}

const opened: Harness[] = [];
const prefixes: string[] = [];

async function harness(
  env: Record<string, string>,
  prefix = uniquePrefix('llm'),
): Promise<Harness> {
  prefixes.push(prefix);
  const config = testConfig({ QUEUE_PREFIX: prefix, ...env });
  const redis = new RedisService(config);
  if (redis.client.status !== 'ready') {
    await new Promise((resolve) => redis.client.once('ready', resolve));
  }
  const llm = new LlmService(
    config,
    new LlmCircuitBreaker(config, redis),
    new LlmCache(config, redis),
  );
  const h = { llm, redis, config, close: () => redis.onApplicationShutdown() };
  opened.push(h);
  return h;
}

function envFor(
  servers: Partial<Record<LlmProviderName, FakeLlmServer>>,
  order?: LlmProviderName[],
) {
  const env: Record<string, string> = {
    LLM_PROVIDERS: (order ?? (Object.keys(servers) as LlmProviderName[])).join(','),
  };
  for (const [name, server] of Object.entries(servers) as [LlmProviderName, FakeLlmServer][]) {
    env[`${ENV_PREFIX[name]}_BASE_URL`] = server.baseURL;
    env[`${ENV_PREFIX[name]}_API_KEY`] =
      name === 'openai-compatible' ? 'compat-fake-key-0005' : KEYS[name];
    env[`${ENV_PREFIX[name]}_MODEL`] = `${name}-model`;
  }
  return env;
}

const request = (overrides: Partial<LlmRequest> = {}): LlmRequest => ({
  system: 'be brief',
  prompt: `say hello ${Math.random()}`,
  cache: false,
  ...overrides,
});

function run(llm: LlmService, req: LlmRequest, signal = new AbortController().signal) {
  const tokens: string[] = [];
  const outcome = llm.generate(req, signal, (text) => tokens.push(text));
  return { outcome, tokens };
}

function expectNoKeys(value: unknown): void {
  const text =
    typeof value === 'string'
      ? value
      : JSON.stringify(value, Object.getOwnPropertyNames(value ?? {}));
  for (const key of ALL_KEYS) expect(text).not.toContain(key);
}

const servers: FakeLlmServer[] = [];
async function fake(
  protocol: FakeProtocol,
  tokens = ['Hello', ', ', 'world'],
): Promise<FakeLlmServer> {
  const server = await startFakeLlm(protocol, { tokens });
  servers.push(server);
  return server;
}

afterAll(async () => {
  await Promise.all(opened.map((h) => h.close()));
  await Promise.all(servers.map((s) => s.close()));
  await Promise.all(prefixes.map((p) => dropPrefix(p)));
});

describe('each provider through its real SDK package and wire protocol', () => {
  it.each(Object.keys(PROTOCOL) as LlmProviderName[])(
    '%s streams tokens and reports usage',
    async (name) => {
      const server = await fake(PROTOCOL[name], ['Hel', 'lo ', name]);
      const { llm } = await harness(envFor({ [name]: server }));
      const { outcome, tokens } = run(llm, request({ temperature: 0.2, maxOutputTokens: 100 }));
      const result = await outcome;
      expect(tokens).toEqual(['Hel', 'lo ', name]);
      expect(result).toMatchObject({
        provider: name,
        model: `${name}-model`,
        text: `Hello ${name}`,
        cached: false,
        failover: [],
        usage: { inputTokens: 11, outputTokens: 3, totalTokens: 14 },
      });
      expect(result.timeToFirstTokenMs).toEqual(expect.any(Number));
      expect(server.requests).toHaveLength(1);
      const sent = server.requests[0];
      // The key travels in the provider's own header, and only there.
      const auth = [
        sent.headers.authorization,
        sent.headers['x-api-key'],
        sent.headers['x-goog-api-key'],
      ]
        .flat()
        .join(' ');
      expect(auth).toContain(name === 'openai-compatible' ? 'compat-fake-key-0005' : KEYS[name]);
      expect(sent.path).not.toMatch(/key=/);
      expect(JSON.stringify(sent.body)).toContain('be brief');
    },
  );
});

describe('failover', () => {
  it.each([
    ['anthropic 529 overloaded', 529],
    ['429 rate limited', 429],
    ['500', 500],
    ['401 bad key', 401],
  ])('moves on after %s, and records it', async (_label, status) => {
    const first = await fake('anthropic');
    const second = await fake('openai-chat', ['from ', 'xai']);
    first.reply({ status });
    const { llm } = await harness(envFor({ anthropic: first, xai: second }));
    const { outcome, tokens } = run(llm, request());
    const result = await outcome;
    expect(result.provider).toBe('xai');
    expect(tokens.join('')).toBe('from xai');
    expect(result.failover).toEqual([
      { provider: 'anthropic', error: expect.stringContaining(`HTTP ${status}`) },
    ]);
    expectNoKeys(result);
  });

  it('moves on from an in-stream overloaded error before the first token', async () => {
    const first = await fake('anthropic');
    const second = await fake('openai-responses', ['ok']);
    first.reply({ tokens: ['never'], breakAfter: 0, breakWith: 'error-event' });
    const { llm } = await harness(envFor({ anthropic: first, openai: second }));
    const result = await run(llm, request()).outcome;
    expect(result.provider).toBe('openai');
    expect(result.failover[0]).toEqual({
      provider: 'anthropic',
      error: expect.stringMatching(/overloaded/i),
    });
  });

  it('moves on from a refused connection', async () => {
    const port = await freePort();
    const second = await fake('gemini', ['gem']);
    const { llm } = await harness({
      ...envFor({ google: second }, ['openai-compatible', 'google']),
      OPENAI_COMPATIBLE_BASE_URL: `http://127.0.0.1:${port}/v1`,
    });
    const result = await run(llm, request()).outcome;
    expect(result.provider).toBe('google');
    expect(result.failover).toEqual([
      {
        provider: 'openai-compatible',
        error: expect.stringMatching(/^connection failed: .*ECONNREFUSED/),
      },
    ]);
  });

  it('does not fail over after the first token: the attempt fails, retryable', async () => {
    const first = await fake('anthropic');
    const second = await fake('openai-chat');
    first.reply({ tokens: ['a', 'b', 'c'], breakAfter: 2, breakWith: 'error-event' });
    const { llm } = await harness(envFor({ anthropic: first, xai: second }));
    const { outcome, tokens } = run(llm, request());
    const error = await outcome.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LlmAttemptFailedError);
    expect(error).not.toBeInstanceOf(NonRetryableJobError);
    expect(tokens).toEqual(['a', 'b']);
    expect(second.requests).toHaveLength(0);
  });

  it('a dropped connection after the first token fails the attempt too', async () => {
    const first = await fake('openai-chat');
    first.reply({ tokens: ['a', 'b', 'c'], tokenDelayMs: 200, breakAfter: 1, breakWith: 'drop' });
    const { llm } = await harness(envFor({ 'openai-compatible': first }));
    await expect(run(llm, request()).outcome).rejects.toBeInstanceOf(LlmAttemptFailedError);
  });

  it('a 400 fails the job at once, without trying the next provider', async () => {
    const first = await fake('openai-responses');
    const second = await fake('anthropic');
    first.reply({ status: 400, errorMessage: 'max_output_tokens is too large' });
    const { llm } = await harness(envFor({ openai: first, anthropic: second }));
    const error = await run(llm, request()).outcome.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LlmBadRequestError);
    expect(error).toBeInstanceOf(NonRetryableJobError);
    expect((error as Error).message).toBe('openai: HTTP 400: max_output_tokens is too large');
    expect(second.requests).toHaveLength(0);
  });

  it('with a provider given, only that one is tried', async () => {
    const first = await fake('anthropic');
    const second = await fake('openai-chat');
    first.reply({ status: 529 });
    const { llm } = await harness(envFor({ anthropic: first, xai: second }));
    const error = await run(llm, request({ provider: 'anthropic' })).outcome.catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(LlmUnavailableError);
    expect((error as Error).message).toMatch(/anthropic: HTTP 529/);
    expect(second.requests).toHaveLength(0);
  });

  it('a provider silent past LLM_FIRST_TOKEN_TIMEOUT_MS is left (its connection closed) for the next', async () => {
    const first = await fake('openai-chat');
    const second = await fake('anthropic', ['late ', 'but fine']);
    first.reply({ tokens: ['x'], breakAfter: 0, breakWith: 'hang' });
    const { llm } = await harness({
      ...envFor({ xai: first, anthropic: second }),
      LLM_FIRST_TOKEN_TIMEOUT_MS: '300',
    });
    const result = await run(llm, request()).outcome;
    expect(result.provider).toBe('anthropic');
    expect(result.failover).toEqual([
      { provider: 'xai', error: 'timeout: no token within 300 ms' },
    ]);
    await waitFor(
      'the silent server to see its connection closed',
      async () => first.clientClosed === 1,
    );
  });

  it('no key ever appears in an error, even when a provider echoes it', async () => {
    const first = await fake('openai-chat');
    first.reply({ status: 401, errorMessage: `Incorrect API key provided: ${KEYS.xai}` });
    const { llm } = await harness(envFor({ xai: first }));
    const error = await run(llm, request()).outcome.catch((e: unknown) => e);
    expect((error as Error).message).toMatch(
      /xai: HTTP 401: Incorrect API key provided: \[redacted\]/,
    );
    expectNoKeys((error as Error).message);
  });
});

describe('circuit breaker', () => {
  it('skips a provider after failures in a row until the cool-down ends, then closes on success', async () => {
    const first = await fake('anthropic');
    const second = await fake('openai-chat', ['ok']);
    first.setDefault({ status: 503 });
    const { llm } = await harness({
      ...envFor({ anthropic: first, xai: second }),
      LLM_CIRCUIT_FAILURES: '2',
      LLM_CIRCUIT_COOLDOWN_MS: '1500',
    });
    for (let i = 0; i < 2; i += 1) {
      const result = await run(llm, request()).outcome;
      expect(result.failover[0].error).toMatch(/HTTP 503/);
    }
    expect(first.requests).toHaveLength(2);
    const skipped = await run(llm, request()).outcome;
    expect(skipped.provider).toBe('xai');
    expect(skipped.failover).toEqual([
      {
        provider: 'anthropic',
        error: expect.stringMatching(/^skipped: circuit open after 2 failures in a row/),
      },
    ]);
    expect(first.requests).toHaveLength(2);
    first.setDefault({ tokens: ['back'] });
    const back = await waitFor(
      'the cool-down to end',
      async () => {
        const result = await run(llm, request()).outcome;
        return result.provider === 'anthropic' ? result : null;
      },
      10_000,
      200,
    );
    expect(back.text).toBe('back');
    const after = await run(llm, request()).outcome;
    expect(after.failover).toEqual([]);
  });
});

describe('circuit breaker, half-open', () => {
  it('one more failure after the cool-down opens the circuit again at once', async () => {
    const first = await fake('anthropic');
    const second = await fake('openai-chat', ['ok']);
    first.setDefault({ status: 500 });
    const { llm } = await harness({
      ...envFor({ anthropic: first, xai: second }),
      LLM_CIRCUIT_FAILURES: '2',
      LLM_CIRCUIT_COOLDOWN_MS: '400',
    });
    await run(llm, request()).outcome;
    await run(llm, request()).outcome;
    expect((await run(llm, request()).outcome).failover[0].error).toMatch(/^skipped/);
    // After the cool-down anthropic is tried again, fails, and is skipped at once after that.
    await waitFor(
      'anthropic to be tried again',
      async () => /HTTP 500/.test((await run(llm, request()).outcome).failover[0].error),
      10_000,
      100,
    );
    expect((await run(llm, request()).outcome).failover[0].error).toMatch(
      /^skipped: circuit open after 3 failures in a row/,
    );
  });
});

describe('cache', () => {
  it('answers an identical request from Redis without a provider call; cache: false bypasses it', async () => {
    const server = await fake('anthropic', ['cached ', 'answer']);
    const { llm } = await harness(envFor({ anthropic: server }));
    const req = request({ cache: true });
    const first = await run(llm, req).outcome;
    const again = run(llm, req);
    const second = await again.outcome;
    expect(first.cached).toBe(false);
    expect(second).toMatchObject({ cached: true, text: 'cached answer', provider: 'anthropic' });
    expect(again.tokens).toEqual(['cached answer']);
    expect(server.requests).toHaveLength(1);
    await run(llm, { ...req, cache: false }).outcome;
    expect(server.requests).toHaveLength(2);
    await run(llm, { ...req, temperature: 0.5 }).outcome;
    expect(server.requests).toHaveLength(3);
  });

  it('identical requests in flight share one provider call, within a process and across processes', async () => {
    const server = await fake('openai-chat');
    let release = () => undefined as void;
    server.reply({
      tokens: ['one ', 'call'],
      hold: new Promise<void>((resolve) => (release = resolve)),
    });
    const prefix = uniquePrefix('llm-share');
    const env = envFor({ xai: server });
    const a = await harness(env, prefix);
    const b = await harness(env, prefix);
    const req = request({ cache: true });
    const runs = [run(a.llm, req), run(a.llm, req), run(b.llm, req), run(b.llm, req)];
    await waitFor('the first call to reach the server', async () => server.requests.length === 1);
    release();
    const results = await Promise.all(runs.map((r) => r.outcome));
    expect(server.requests).toHaveLength(1);
    expect(results.map((r) => r.text)).toEqual(Array(4).fill('one call'));
    expect(results.filter((r) => !r.cached)).toHaveLength(1);
  });
});

describe('cancel', () => {
  it('aborting closes the provider connection mid-stream', async () => {
    const server = await fake('anthropic');
    server.reply({ tokens: Array.from({ length: 200 }, (_, i) => `t${i} `), tokenDelayMs: 50 });
    const { llm } = await harness(envFor({ anthropic: server }));
    const controller = new AbortController();
    const { outcome, tokens } = run(llm, request(), controller.signal);
    await waitFor('a few tokens', async () => tokens.length >= 3);
    controller.abort(new Error('cancelled by test'));
    await expect(outcome).rejects.toThrow('cancelled by test');
    await waitFor('the server to see its connection closed', async () => server.clientClosed === 1);
    expect(tokens.length).toBeLessThan(200);
  });
});

describe('nothing configured', () => {
  it('fails with one line naming what to set when the default local server does not answer', async () => {
    const { llm } = await harness({});
    expect(llm.providers.map((p) => p.name)).toEqual(['openai-compatible']);
    const error = await run(llm, request()).outcome.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NonRetryableJobError);
    const message = (error as Error).message;
    expect(message).not.toContain('\n');
    expect(message).toMatch(
      /set ANTHROPIC_API_KEY, OPENAI_API_KEY, GOOGLE_GENERATIVE_AI_API_KEY or XAI_API_KEY, or OPENAI_COMPATIBLE_BASE_URL/,
    );
  });
});

describe('logs', () => {
  it('SDK warnings and provider errors reach the log through the service, never with a key', async () => {
    const first = await fake('openai-chat');
    const second = await fake('anthropic', ['ok']);
    first.reply({ status: 401, errorMessage: `Incorrect API key provided: ${KEYS.xai}` });
    const { llm } = await harness(envFor({ xai: first, anthropic: second }));
    const written: string[] = [];
    const spies = [process.stdout, process.stderr].map((stream) =>
      jest.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
        written.push(String(chunk));
        return true;
      }),
    );
    const consoles = (['log', 'info', 'warn', 'error'] as const).map((method) =>
      jest.spyOn(console, method).mockImplementation(() => undefined),
    );
    try {
      // An unknown model and a temperature it refuses: the SDK warns.
      await run(llm, request({ temperature: 0.3 })).outcome;
      // The SDK reports a step's warnings once the step is recorded, just after the stream.
      await waitFor('the SDK warning in the log', async () =>
        /\[Llm\].*anthropic.*anthropic-model/.test(written.join('')),
      );
    } finally {
      spies.forEach((spy) => spy.mockRestore());
      consoles.forEach((spy) => spy.mockRestore());
    }
    const log = written.join('');
    expect(log).toMatch(/xai: HTTP 401: Incorrect API key provided: \[redacted\]/);
    for (const spy of consoles) expect(spy).not.toHaveBeenCalled();
    expectNoKeys(log);
  });
});
