/**
 * npm run bench:llm [-- --runs 5 --tokens 400 --interval-ms 10 --pglite]
 *
 * What Conveyor adds between an LLM and the person watching: one loopback OpenAI-compatible
 * provider (the fake server the tests use, real Chat Completions SSE), called
 *  - directly, through the AI SDK (what a client calling the provider itself sees), and
 *  - through Conveyor: a code-generation job submitted over REST, its tokens received as the
 *    `output` of progress events by a Socket.IO client, Conveyor (APP_ROLE=all) in its own
 *    process with its default settings.
 * Time to first token and the token rate delivered are compared, run by run, in one process.
 */
import { resolve } from 'node:path';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { streamText } from 'ai';
import { io, type Socket } from 'socket.io-client';
import { Child } from '../child';
import { startConveyorProcess, type ConveyorProcess } from '../conveyor-process';

const ROOT = resolve(__dirname, '../..');

interface Options {
  runs: number;
  tokens: number;
  intervalMs: number;
  pglite: boolean;
}

function options(argv: string[]): Options {
  const value = (name: string, fallback: number) => {
    const at = argv.indexOf(`--${name}`);
    return at === -1 ? fallback : Number(argv[at + 1]);
  };
  return {
    runs: value('runs', 5),
    tokens: value('tokens', 400),
    intervalMs: value('interval-ms', 10),
    pglite: argv.includes('--pglite'),
  };
}

interface Sample {
  ttftMs: number;
  /** Tokens per second from the first token to the last. */
  rate: number;
  totalMs: number;
}

/** The provider's tokens are 8 characters wide (fake-provider-main.ts): count = length / 8. */
const WIDTH = 8;

function sample(started: number, first: number, last: number, count: number): Sample {
  return {
    ttftMs: first - started,
    rate: ((count - 1) * 1000) / Math.max(1, last - first),
    totalMs: last - started,
  };
}

async function direct(baseURL: string, count: number): Promise<Sample> {
  const model = createOpenAICompatible({ name: 'bench', baseURL })('bench-model');
  const started = performance.now();
  let first = 0;
  let last = 0;
  let received = '';
  const result = streamText({ model, prompt: 'bench', maxRetries: 0, onError: () => undefined });
  for await (const part of result.textStream) {
    const now = performance.now();
    if (first === 0) first = now;
    last = now;
    received += part;
  }
  if (received.length !== count * WIDTH) throw new Error(`direct: ${received.length} chars`);
  return sample(started, first, last, count);
}

async function viaConveyor(
  base: string,
  token: string,
  socket: Socket,
  projectId: string,
  count: number,
): Promise<Sample> {
  let first = 0;
  let last = 0;
  let received = '';
  let jobId = '';
  const early: { jobId: string; output?: string; at: number }[] = [];
  const started = performance.now();
  const submitted = fetch(`${base}/api/v1/jobs/code-generation`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ projectId, params: { prompt: 'bench', cache: false, apply: false } }),
  }).then(async (res) => {
    if (res.status !== 202) throw new Error(`submit: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { id: string }).id;
  });
  const done = new Promise<void>((resolveDone, reject) => {
    const onProgress = (event: { jobId: string; output?: string }) => {
      const at = performance.now();
      if (!jobId) return void early.push({ ...event, at });
      take(event, at);
    };
    const take = (event: { jobId: string; output?: string }, at: number) => {
      if (event.jobId !== jobId || !event.output) return;
      if (first === 0) first = at;
      last = at;
      received += event.output;
      if (received.length >= count * WIDTH) finish();
    };
    const onEnd = (event: { jobId: string; status: string; error?: string }) => {
      if (event.jobId !== jobId) return;
      if (event.status === 'error') reject(new Error(`job failed: ${event.error ?? ''}`));
    };
    const finish = () => {
      socket.off('code-generation:progress', onProgress);
      socket.off('code-generation:error', onEnd);
      resolveDone();
    };
    socket.on('code-generation:progress', onProgress);
    socket.on('code-generation:error', onEnd);
    submitted.then((id) => {
      jobId = id;
      for (const event of early.splice(0)) take(event, event.at);
    }, reject);
  });
  await done;
  return sample(started, first, last, count);
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main(): Promise<void> {
  const opts = options(process.argv.slice(2));
  const provider = new Child(
    'provider',
    process.execPath,
    [
      '-r',
      'ts-node/register/transpile-only',
      'bench/llm/fake-provider-main.ts',
      String(opts.tokens),
      String(opts.intervalMs),
    ],
    { cwd: ROOT, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } },
  );
  const providerURL = (await provider.waitForOutput(/fake provider ready at (\S+)/, 60_000))[1];
  let conveyor: ConveyorProcess | undefined;
  let socket: Socket | undefined;
  try {
    conveyor = await startConveyorProcess(
      'llm',
      {
        LLM_PROVIDERS: 'openai-compatible',
        OPENAI_COMPATIBLE_BASE_URL: providerURL,
        OPENAI_COMPATIBLE_MODEL: 'bench-model',
      },
      opts.pglite,
    );
    const { base, token } = conveyor;
    const project = await fetch(`${base}/api/v1/projects`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench' }),
    });
    const projectId = ((await project.json()) as { id: string }).id;
    socket = io(base, { auth: { token }, transports: ['websocket'], reconnection: false });
    await new Promise<void>((ok, fail) => {
      socket?.once('connect', () => ok());
      socket?.once('connect_error', fail);
    });
    // One of each first: connections, JIT and the database warm up.
    await direct(providerURL, opts.tokens);
    await viaConveyor(base, token, socket, projectId, opts.tokens);
    const rows: { direct: Sample; conveyor: Sample }[] = [];
    for (let run = 0; run < opts.runs; run += 1) {
      rows.push({
        direct: await direct(providerURL, opts.tokens),
        conveyor: await viaConveyor(base, token, socket, projectId, opts.tokens),
      });
    }
    const report = (pick: (s: Sample) => number) => ({
      direct: median(rows.map((r) => pick(r.direct))),
      conveyor: median(rows.map((r) => pick(r.conveyor))),
    });
    const ttft = report((s) => s.ttftMs);
    const rate = report((s) => s.rate);
    const total = report((s) => s.totalMs);
    const fmt = (n: number) => n.toFixed(1);
    console.log(
      `LLM streaming through Conveyor (${opts.pglite ? 'PGlite' : 'PostgreSQL'}, APP_ROLE=all), ` +
        `${opts.tokens} tokens every ${opts.intervalMs} ms from a loopback OpenAI-compatible provider, ` +
        `median of ${opts.runs} runs`,
    );
    console.table({
      'time to first token (ms)': {
        direct: fmt(ttft.direct),
        conveyor: fmt(ttft.conveyor),
        'conveyor / direct': fmt(ttft.conveyor / ttft.direct),
        'added (ms)': fmt(ttft.conveyor - ttft.direct),
      },
      'tokens per second': {
        direct: fmt(rate.direct),
        conveyor: fmt(rate.conveyor),
        'conveyor / direct': (rate.conveyor / rate.direct).toFixed(2),
        'added (ms)': '',
      },
      'whole answer (ms)': {
        direct: fmt(total.direct),
        conveyor: fmt(total.conveyor),
        'conveyor / direct': (total.conveyor / total.direct).toFixed(2),
        'added (ms)': fmt(total.conveyor - total.direct),
      },
    });
  } finally {
    socket?.close();
    await conveyor?.stop();
    await provider.stop(5_000);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
