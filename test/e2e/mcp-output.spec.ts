import type { Server } from 'node:http';
import { join } from 'node:path';
import { Injectable } from '@nestjs/common';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CallToolResultSchema,
  LoggingMessageNotificationSchema,
  type LoggingMessageNotification,
  type Progress,
} from '@modelcontextprotocol/sdk/types.js';
import { IsInt, Max, Min } from 'class-validator';
import { defineJobKind, type JobContext, type JobProcessor } from '../../src/core/job.types';
import { testExecutionKind } from '../../src/kinds/test-execution/test-execution.kind';
import { Api, uniqueUser } from '../support/api';
import { startStack, tokenFor, type TestStack } from '../support/app';
import { writeFiles } from '../support/code-index';
import { baseUrl } from '../support/socket';

const LINES = 2000;
const PROGRESS_EVERY = 50;

class TalkerParams {
  @IsInt()
  @Min(1)
  @Max(10_000)
  lines!: number;
}

/** Streams numbered lines, reporting progress every PROGRESS_EVERY of them. */
@Injectable()
class TalkerProcessor implements JobProcessor<TalkerParams, { lines: number }> {
  async process(ctx: JobContext<TalkerParams>): Promise<{ lines: number }> {
    for (let i = 0; i < ctx.params.lines; i += 1) {
      ctx.output(lineOf(i));
      if (i % PROGRESS_EVERY === 0) {
        await ctx.progress(Math.floor((i * 99) / ctx.params.lines), `at ${i}`);
      }
    }
    return { lines: ctx.params.lines };
  }
}

const talkerKind = defineJobKind({
  name: 'talker',
  params: TalkerParams,
  processor: TalkerProcessor,
});

function lineOf(i: number): string {
  return `line ${i}\n`;
}

function expectedOutput(lines: number): string {
  return Array.from({ length: lines }, (_, i) => lineOf(i)).join('');
}

interface OutputData {
  jobId: string;
  output: string;
}

describe('MCP: streamed job output as logging notifications', () => {
  let stack: TestStack;
  const clients: Client[] = [];

  beforeAll(async () => {
    // A coalescing window, so that several writes and status lines share one event.
    stack = await startStack('mcp-output', [talkerKind, testExecutionKind], {
      PROGRESS_INTERVAL_MS: '50',
    });
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
    await stack?.close();
  });

  async function connect(user: string): Promise<Client> {
    const client = new Client({ name: 'conveyor-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(
        new URL('/mcp', baseUrl(stack.app.getHttpServer() as Server)),
        { requestInit: { headers: { Authorization: `Bearer ${tokenFor(user)}` } } },
      ),
    );
    clients.push(client);
    return client;
  }

  it(`delivers ${LINES} output lines whole and in order, with strictly increasing progress`, async () => {
    const user = uniqueUser('watcher');
    const client = await connect(user);
    const logs: LoggingMessageNotification['params'][] = [];
    let output = '';
    client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
      logs.push(notification.params);
      output += (notification.params.data as OutputData).output;
    });
    const progress: Progress[] = [];
    /** For each status line `at i` as it arrived: had line i's output arrived before it? */
    const lineBeforeStatus: boolean[] = [];
    const result = await client.callTool(
      { name: 'talker', arguments: { projectId: 'p1', lines: LINES } },
      CallToolResultSchema,
      {
        resetTimeoutOnProgress: true,
        onprogress: (p) => {
          progress.push(p);
          const at = /^at (\d+)$/.exec(p.message ?? '');
          if (at) lineBeforeStatus.push(output.includes(lineOf(Number(at[1]))));
        },
      },
    );

    expect(result.isError).toBe(false);
    const { jobId } = result.structuredContent as { jobId: string };
    expect(result.structuredContent).toMatchObject({ status: 'done', result: { lines: LINES } });
    // Every notification of the call went out before its answer.
    expect(output).toBe(expectedOutput(LINES));
    expect(logs.length).toBeGreaterThan(1);
    for (const log of logs) {
      expect(log).toMatchObject({ level: 'info', logger: 'conveyor.output', data: { jobId } });
      expect((log.data as OutputData).output).not.toBe('');
    }

    expect(progress.length).toBeGreaterThan(1);
    const values = progress.map((p) => p.progress);
    expect(values.slice(1).every((value, i) => value > values[i])).toBe(true);
    expect(values.every((value) => value >= 0 && value < 100)).toBe(true);
    expect(progress.every((p) => p.total === 100)).toBe(true);
    expect(lineBeforeStatus.length).toBeGreaterThan(0);
    expect(lineBeforeStatus.every(Boolean)).toBe(true);

    const log = await new Api(stack, user).get(`/jobs/${jobId}/log`);
    expect(log.status).toBe(200);
    expect(log.text).toBe(output);
  });

  it('sends no output to a client that set its logging level above info; the answer is whole', async () => {
    const client = await connect(uniqueUser('quiet'));
    await client.setLoggingLevel('warning');
    const logs: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
      logs.push(notification.params.data);
    });
    const progress: number[] = [];
    const result = await client.callTool(
      { name: 'talker', arguments: { projectId: 'p1', lines: 200 } },
      CallToolResultSchema,
      { onprogress: (p) => progress.push(p.progress) },
    );
    expect(result.structuredContent).toMatchObject({ status: 'done', result: { lines: 200 } });
    expect(progress.length).toBeGreaterThan(0);
    expect(logs).toEqual([]);
  });

  it("relays a real kind's output: test_execution's child process, as its log has it", async () => {
    const user = uniqueUser('tester');
    const api = new Api(stack, user);
    const created = await api.post('/projects', { name: 'printer' });
    expect({ status: created.status, body: created.body as unknown }).toMatchObject({
      status: 201,
    });
    const projectId = (created.body as { id: string }).id;
    writeFiles(join(stack.config.workspacesDir, projectId), {
      'print.js': `for (let i = 0; i < ${LINES}; i += 1) console.log('line ' + i);\n`,
    });
    const client = await connect(user);
    let output = '';
    client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
      output += (notification.params.data as OutputData).output;
    });
    const progress: number[] = [];
    const result = await client.callTool(
      { name: 'test_execution', arguments: { projectId, testCommand: 'node print.js' } },
      CallToolResultSchema,
      { resetTimeoutOnProgress: true, onprogress: (p) => progress.push(p.progress) },
    );
    expect(result.structuredContent).toMatchObject({
      status: 'done',
      result: { exitCode: 0 },
    });
    const { jobId } = result.structuredContent as { jobId: string };
    const log = await api.get(`/jobs/${jobId}/log`);
    expect(log.status).toBe(200);
    expect(output).toBe(log.text);
    expect(output).toContain(expectedOutput(LINES));
    expect(progress.slice(1).every((value, i) => value > progress[i])).toBe(true);
  });
});
