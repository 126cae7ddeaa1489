/**
 * npm run bench:change [-- --runs 3 --iterations 3 --generation-ms 2000 --verbose]
 *
 * What the change kind's orchestration costs: changes that iterate `--iterations` times (a
 * loopback OpenAI-compatible provider whose answers fail the project's tests differently each
 * time, each answer streamed over `--generation-ms` as a model would; real `node --test` runs)
 * are run through Conveyor (APP_ROLE=all, its own process, defaults), one after the other. For
 * each, the change's own duration (started → finished) is compared with the sum of its steps'
 * own durations (each started → finished): what is left is what the loop adds — submitting
 * each step, its queue wait, taking the workspace lease, the wait for its end, and the
 * change's own writes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeLlm } from '../test/support/fake-llm/fake-llm-server';
import { makeBareRepo } from '../test/support/fixture-repos';
import { startConveyorProcess, type ConveyorProcess } from './conveyor-process';

const TESTS = `const test = require('node:test');
const assert = require('node:assert');
const sum = require('../src/sum');
test('adds', () => assert.strictEqual(sum(2, 3), 5));
test('identity', () => assert.strictEqual(sum(7, 0), 7));
`;
/** Answers whose failing sets differ from one iteration to the next, so no-progress never stops the loop. */
const WRONG = ['(a, b) => a * b', '(a, b) => a - b', '(a, b) => a + b + 1'];

interface JobRow {
  id: string;
  kind: string;
  status: string;
  startedAt: string | null;
  finishedAt: string | null;
  result: { iterations?: unknown[]; stopReason?: string } | null;
  children?: { id: string }[];
}

function option(argv: string[], name: string, fallback: number): number {
  const at = argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(argv[at + 1]);
}

const span = (job: JobRow) => Date.parse(job.finishedAt!) - Date.parse(job.startedAt!);
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const runs = option(argv, 'runs', 3);
  const iterations = option(argv, 'iterations', 3);
  const generationMs = option(argv, 'generation-ms', 2000);
  let answered = 0;
  const llm = await startFakeLlm('openai-chat');
  llm.respond(() => {
    const body = WRONG[answered++ % WRONG.length];
    const text = `Here it is.\n<file path="src/sum.js">\nmodule.exports = ${body};\n</file>\n`;
    const tokens = text.match(/[\s\S]{1,4}/g) ?? [text];
    return { tokens, tokenDelayMs: generationMs / tokens.length };
  });
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-bench-change-'));
  let conveyor: ConveyorProcess | undefined;
  try {
    conveyor = await startConveyorProcess('change', {
      ALLOW_LOCAL_REPOS: 'true',
      LLM_PROVIDERS: 'openai-compatible',
      OPENAI_COMPATIBLE_BASE_URL: llm.baseURL,
      OPENAI_COMPATIBLE_MODEL: 'bench-model',
    });
    const base = `${conveyor.base}/api/v1`;
    const { token } = conveyor;
    const call = async <T>(path: string, body?: object): Promise<T> => {
      const res = await fetch(`${base}${path}`, {
        method: body ? 'POST' : 'GET',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body ? JSON.stringify(body) : undefined,
      });
      if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    };
    const until = async <T>(what: string, check: () => Promise<T | undefined>): Promise<T> => {
      const deadline = Date.now() + 300_000;
      for (;;) {
        const value = await check();
        if (value !== undefined) return value;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((done) => setTimeout(done, 100));
      }
    };

    const rows: { total: number; steps: number; count: number }[] = [];
    for (let run = 1; run <= runs; run++) {
      const bare = makeBareRepo(dir, `repo${run}`, {
        'package.json': '{ "name": "bench", "private": true }\n',
        'src/sum.js': "module.exports = () => { throw new Error('not written'); };\n",
        'test/sum.test.js': TESTS,
      });
      const project = await call<{ id: string }>('/projects', {
        name: `bench${run}`,
        repoUrl: `file://${bare}`,
      });
      await until('the project', async () => {
        const view = await call<{ status: string }>(`/projects/${project.id}`);
        return view.status === 'ready' ? view : undefined;
      });
      const submitted = await call<{ id: string }>('/jobs/change', {
        projectId: project.id,
        params: {
          prompt: `Write src/sum.js (run ${run})`,
          testCommand: 'node --test',
          maxIterations: iterations,
        },
      });
      const change = await until('the change', async () => {
        const job = await call<JobRow>(`/jobs/${submitted.id}`);
        return ['done', 'error', 'cancelled'].includes(job.status) ? job : undefined;
      });
      if (change.status !== 'done') throw new Error(`change ${change.id} ended ${change.status}`);
      const steps = await Promise.all(
        (change.children ?? []).map((step) => call<JobRow>(`/jobs/${step.id}`)),
      );
      const sum = steps.reduce((total, step) => total + span(step), 0);
      if (argv.includes('--verbose')) {
        for (const step of steps) console.log(`  ${step.kind} ${span(step)} ms`);
      }
      rows.push({ total: span(change), steps: sum, count: steps.length });
      const overhead = span(change) - sum;
      console.log(
        `run ${run}: ${change.result?.iterations?.length ?? 0} iterations (${change.result?.stopReason}), ` +
          `${steps.length} steps; change ${span(change)} ms, steps ${sum} ms, ` +
          `added ${overhead} ms = ${((overhead / sum) * 100).toFixed(1)} %, ` +
          `${(overhead / steps.length).toFixed(0)} ms per step`,
      );
    }
    const ratios = rows.map((row) => (row.total - row.steps) / row.steps);
    const perStep = rows.map((row) => (row.total - row.steps) / row.count);
    console.log(
      `median of ${runs}: orchestration adds ${(median(ratios) * 100).toFixed(1)} % over the steps' ` +
        `own durations, ${median(perStep).toFixed(0)} ms per step (goal: ≤ 5 %, ≤ 250 ms per step)`,
    );
  } finally {
    await conveyor?.stop();
    await llm.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
