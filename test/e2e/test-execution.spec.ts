import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_TEST_COMMAND_ALLOWLIST } from '../../src/config/app-config';
import { JOB_KINDS } from '../../src/job-kinds';
import type { TestExecutionResult } from '../../src/kinds/test-execution/test-execution.result';
import { startStack, TEST_JWT_SECRET, tokenFor, type TestStack } from '../support/app';
import { Api, expectError, uniqueUser, type EventBody, type JobBody } from '../support/api';
import { makeBareRepo } from '../support/fixture-repos';
import {
  isRunning,
  killAll,
  processesIn,
  processesWithArg,
  waitNoProcesses,
  type ProcessInfo,
} from '../support/processes';
import { TEST_REDIS_URL } from '../support/redis';
import { baseUrl, connectSocket, type ReceivedEvent, type TestSocket } from '../support/socket';
import { waitFor } from '../support/wait';

const KIND = 'test-execution';
const MISSING_RUNNER = 'conveyor-missing-runner';
const LINES = 3000;
const RUN_ID = randomBytes(4).toString('hex');
/** Every grandchild the fixtures start carries this in its arguments. */
const MARKER = `conveyor-e2e-grandchild-${RUN_ID}`;
const CANARY_TOKEN = `canary-token-${RUN_ID}`;
/** Outside /tmp (which bubblewrap replaces) and outside every workspace. */
const OUTSIDE_FILE = `/var/tmp/conveyor-e2e-outside-${RUN_ID}`;
const POSTGRES_SOCKET = '/run/postgresql/.s.PGSQL.5432';

const RESULT_KEYS = [
  'durationMs',
  'exitCode',
  'failed',
  'failures',
  'outputTail',
  'passed',
  'signal',
  'skipped',
].sort();

/** The node:test files (and scripts) of the fixture repository. */
interface ServerFacts {
  pid: number;
  cwd: string;
  dataDir: string;
  /** Names and values the run must not be able to find anywhere. */
  secrets: string[];
}

function fixtureFiles(server: ServerFacts): Record<string, string> {
  const header = [
    "const { test } = require('node:test');",
    "const assert = require('node:assert');",
    "const fs = require('node:fs');",
    "const path = require('node:path');",
    "const { spawn } = require('node:child_process');",
    '',
  ].join('\n');
  return {
    'package.json': '{ "name": "fixture", "private": true }\n',
    'test/pass.test.js': `${header}
test('adds', () => assert.strictEqual(1 + 1, 2));
test('subtracts', () => assert.strictEqual(2 - 1, 1));
test('multiplies', () => assert.strictEqual(2 * 3, 6));
test('powers', { skip: 'not yet' }, () => {});
`,
    'test/fail.test.js': `${header}
test('adds', () => assert.strictEqual(1 + 1, 2));
test('subtracts', () => assert.strictEqual(2 - 1, 1));
test('divides', () => assert.strictEqual(6 / 2, 4, 'six halves should be four'));
test('modulo', { todo: true }, () => {});
`,
    'hang.test.js': `${header}
test('never ends', () => new Promise(() => setInterval(() => {}, 1000)));
`,
    // Grandchildren: two node processes (one in a session of its own) and a sleep, then hang.
    'grandchild.test.js': `${header}
test('spawns grandchildren that sleep for ever', async () => {
  const tag = ${JSON.stringify(MARKER)} + '-' + path.basename(process.cwd());
  const keep = ['-e', 'setInterval(() => {}, 1 << 30)'];
  const seconds = String(500000 + Math.floor(Math.random() * 400000));
  const plain = spawn(process.execPath, [...keep, tag + '-plain'], { stdio: 'ignore' });
  const setsid = spawn(process.execPath, [...keep, tag + '-setsid'], { stdio: 'ignore', detached: true });
  const sleep = spawn('sleep', [seconds], { stdio: 'ignore' });
  fs.writeFileSync('grandchildren.json', JSON.stringify({ tag, seconds, pids: [plain.pid, setsid.pid, sleep.pid] }));
  await new Promise(() => setInterval(() => {}, 1000));
});
`,
    // Thousands of lines, over a second or two, then a passing test.
    'print.test.js': `${header}
test('prints ${LINES} lines', async () => {
  for (let i = 1; i <= ${LINES}; i += 1) {
    process.stdout.write('line ' + String(i).padStart(5, '0') + ' of the printing fixture\\n');
    if (i % 100 === 0) await new Promise((resolve) => setTimeout(resolve, 40));
  }
});
`,
    'nul.test.js': `${header}
test('prints a NUL byte', () => {
  process.stdout.write('before\\u0000after\\n');
});
`,
    // Holds an exclusive lock file for a while: a second run at the same time fails to take it.
    'overlap.test.js': `${header}
test('has the workspace to itself', async () => {
  const fd = fs.openSync('busy.lock', 'wx');
  fs.appendFileSync('journal.txt', 'start ' + Date.now() + '\\n');
  await new Promise((resolve) => setTimeout(resolve, 600));
  fs.appendFileSync('journal.txt', 'end ' + Date.now() + '\\n');
  fs.closeSync(fd);
  fs.unlinkSync('busy.lock');
});
`,
    // Leaves a daemon behind that keeps the output pipe, and exits at once.
    'daemon.js': `${header}
const tag = ${JSON.stringify(MARKER)} + '-' + path.basename(process.cwd()) + '-daemon';
const daemon = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)', tag], { detached: true, stdio: 'inherit' });
daemon.unref();
console.log('daemon started');
`,
    // Looks for the server's secrets and services from inside the run; prints what it found.
    'probe.test.js': `${header}
const net = require('node:net');
const SERVER = ${JSON.stringify(server)};
const OUTSIDE_FILE = ${JSON.stringify(OUTSIDE_FILE)};
const attempt = (fn) => { try { return fn(); } catch (error) { return 'error ' + (error.code || error.message); } };
const connect = (options) => new Promise((resolve) => {
  const socket = net.connect(options);
  socket.setTimeout(3000, () => { socket.destroy(); resolve('timeout'); });
  socket.on('connect', () => { socket.destroy(); resolve('connected'); });
  socket.on('error', (error) => resolve('error ' + (error.code || error.message)));
});
test('probes', async () => {
  // Where could a secret be read? The own environment and every readable /proc/*/environ.
  const places = { env: JSON.stringify(process.env) };
  let readableEnvirons = 0;
  for (const pid of fs.readdirSync('/proc').filter((entry) => /^\\d+$/.test(entry))) {
    const text = attempt(() => fs.readFileSync('/proc/' + pid + '/environ', 'utf8'));
    if (text.startsWith('error ')) continue;
    readableEnvirons += 1;
    places['/proc/' + pid + '/environ' + (Number(pid) === process.ppid ? ' (parent)' : '')] = text;
  }
  const secretsFound = [];
  for (const [where, text] of Object.entries(places)) {
    SERVER.secrets.forEach((secret, index) => {
      if (text.includes(secret)) secretsFound.push(where + ': secret #' + index);
    });
  }
  const report = {
    env: process.env,
    readableEnvirons,
    procPids: fs.readdirSync('/proc').filter((entry) => /^\\d+$/.test(entry)).length,
    secretsFound,
    serverProcess: attempt(() => fs.readFileSync('/proc/' + SERVER.pid + '/cmdline', 'utf8').split('\\0')[0]),
    serverCwd: attempt(() => fs.readdirSync(SERVER.cwd)),
    dataDir: attempt(() => fs.readdirSync(SERVER.dataDir)),
    siblings: attempt(() => fs.readdirSync(path.dirname(process.cwd()))),
    writeWorkspace: attempt(() => { fs.writeFileSync('probe-was-here.txt', 'x'); return 'written'; }),
    writeHome: attempt(() => { fs.writeFileSync(path.join(process.env.HOME, 'x'), 'x'); return 'written'; }),
    writeTmp: attempt(() => { fs.writeFileSync(path.join(process.env.TMPDIR, 'x'), 'x'); return 'written'; }),
    writeOutside: attempt(() => { fs.writeFileSync(OUTSIDE_FILE, 'x'); return 'written'; }),
    redis: await connect({ host: '127.0.0.1', port: 6379 }),
    postgresSocket: await connect({ path: ${JSON.stringify(POSTGRES_SOCKET)} }),
  };
  // base64: the test runner escapes some characters of what a test prints.
  console.log('PROBE ' + Buffer.from(JSON.stringify(report)).toString('base64'));
});
`,
  };
}

interface Probe {
  env: Record<string, string>;
  readableEnvirons: number;
  procPids: number;
  secretsFound: string[];
  serverProcess: string;
  serverCwd: string[] | string;
  dataDir: string[] | string;
  siblings: string[] | string;
  writeWorkspace: string;
  writeHome: string;
  writeTmp: string;
  writeOutside: string;
  redis: string;
  postgresSocket: string;
}

interface Finished {
  job: JobBody;
  /** The job's events as the socket received them. */
  socketEvents: ReceivedEvent[];
  /** The job's events over REST. */
  events: EventBody[];
  log: string;
  truncated: boolean;
}

interface Grandchildren {
  tag: string;
  seconds: string;
  pids: number[];
}

/** Server-side secrets put into the server's environment for the run: none may reach a test. */
const SECRET_NAMES = ['JWT_SECRET', 'DATABASE_URL', 'REDIS_URL', 'CONVEYOR_API_TOKEN'] as const;

function setServerSecrets(stack: TestStack): () => void {
  const saved = SECRET_NAMES.map((name) => [name, process.env[name]] as const);
  process.env.JWT_SECRET = TEST_JWT_SECRET;
  process.env.DATABASE_URL = stack.db.url;
  process.env.REDIS_URL = TEST_REDIS_URL;
  process.env.CONVEYOR_API_TOKEN = CANARY_TOKEN;
  return () => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}

/**
 * One stack running test-execution jobs with the given sandbox, a user with a live socket, and
 * helpers to make projects from the fixture repository and follow jobs to the end.
 */
class Harness {
  stack!: TestStack;
  api!: Api;
  socket!: TestSocket;
  private fixtures!: string;
  private bare!: string;
  private restoreEnv?: () => void;
  readonly user: string;

  constructor(
    private readonly label: string,
    private readonly env: Record<string, string>,
  ) {
    this.user = uniqueUser(label);
  }

  async start(): Promise<void> {
    this.fixtures = mkdtempSync(join(tmpdir(), `conveyor-${this.label}-fixtures-`));
    this.stack = await startStack(this.label, JOB_KINDS, {
      ALLOW_LOCAL_REPOS: 'true',
      TEST_COMMAND_ALLOWLIST: [...DEFAULT_TEST_COMMAND_ALLOWLIST, MISSING_RUNNER].join(','),
      TEST_TIMEOUT_MAX_MS: '110000',
      TEST_TIMEOUT_MS: '60000',
      ...this.env,
    });
    this.restoreEnv = setServerSecrets(this.stack);
    this.bare = makeBareRepo(
      this.fixtures,
      'suite',
      fixtureFiles({
        pid: process.pid,
        cwd: process.cwd(),
        dataDir: this.stack.config.dataDir,
        secrets: [...SECRET_NAMES.map((name) => `${name}=`), ...secretValues(this.stack)],
      }),
    );
    this.api = new Api(this.stack, this.user);
    this.socket = await connectSocket(baseUrl(this.stack.app.getHttpServer()), {
      token: tokenFor(this.user),
    });
  }

  async stop(): Promise<void> {
    this.restoreEnv?.();
    this.socket?.close();
    if (this.stack) {
      killAll(processesIn(this.stack.config.workspacesDir));
      await this.stack.close();
    }
    killAll(processesWithArg(MARKER));
    if (this.fixtures) rmSync(this.fixtures, { recursive: true, force: true });
  }

  workspaceOf(projectId: string): string {
    return join(this.stack.config.workspacesDir, projectId);
  }

  /** A project cloned from the fixture repository, ready. */
  async project(): Promise<string> {
    const res = await this.api.post('/projects', { name: 'suite', repoUrl: this.bare });
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 201 });
    const id = (res.body as { id: string }).id;
    await waitFor(`project ${id} to be ready`, async () => {
      const project = await this.api.get(`/projects/${id}`);
      if ((project.body as { status: string }).status === 'error') {
        throw new Error(`clone failed: ${JSON.stringify(project.body)}`);
      }
      return (project.body as { status: string }).status === 'ready';
    });
    return id;
  }

  async submit(projectId: string, params: object): Promise<JobBody> {
    const res = await this.api.submit(KIND, { projectId, params });
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 202 });
    const job = res.body as JobBody;
    expect(job).toMatchObject({ kind: KIND, status: 'queued', projectId });
    return job;
  }

  socketEventsOf(jobId: string): ReceivedEvent[] {
    return this.socket.events.filter((event) => event.jobId === jobId);
  }

  /**
   * Follows the job to its end over the socket and by polling, then reads its events and log,
   * and checks what every finished job must satisfy.
   */
  async finish(
    job: JobBody,
    { timeoutMs = 60_000, beforeProcessCheck = () => {} } = {},
  ): Promise<Finished> {
    const terminal = await waitFor(
      `a terminal socket event of job ${job.id}`,
      async () =>
        this.socketEventsOf(job.id).find((event) =>
          ['done', 'error', 'cancelled'].includes(event.status),
        ),
      timeoutMs,
    );
    const polled = await this.api.waitForStatus(job.id, ['done', 'error', 'cancelled'], 10_000);
    expect(polled.status).toBe(terminal.status);
    const events = await this.api.allEvents(job.id);
    // The socket saw exactly what REST records, each named "<kind>:<status>".
    const socketEvents = this.socketEventsOf(job.id);
    expect(socketEvents.map(({ name: _name, ...view }) => view)).toEqual(events);
    expect(socketEvents.every((event) => event.name === `${KIND}:${event.status}`)).toBe(true);
    expect(events[0]?.status).toBe('created');
    expect(events.at(-1)?.status).toBe(polled.status);
    const logRes = await this.api.get(`/jobs/${job.id}/log`);
    expect(logRes.status).toBe(200);
    expect(logRes.headers['content-type']).toMatch(/^text\/plain/);
    // No process of the run is left in the workspace.
    beforeProcessCheck();
    await waitNoProcesses('process in the workspace', () =>
      processesIn(this.workspaceOf(job.projectId)),
    );
    return {
      job: polled,
      socketEvents,
      events,
      log: logRes.text,
      truncated: logRes.headers['x-log-truncated'] === 'true',
    };
  }

  async run(projectId: string, params: object): Promise<Finished> {
    return this.finish(await this.submit(projectId, params));
  }

  /** Waits for the grandchild fixture to start its three grandchildren; returns them. */
  async grandchildren(
    projectId: string,
  ): Promise<{ recorded: Grandchildren; found: ProcessInfo[] }> {
    const file = join(this.workspaceOf(projectId), 'grandchildren.json');
    const recorded = await waitFor('the fixture to record its grandchildren', async () =>
      existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Grandchildren) : undefined,
    );
    const found = await waitFor('the three grandchildren to run', async () => {
      const all = findGrandchildren(recorded);
      return all.length === 3 ? all : undefined;
    });
    // The recorded pids are the grandchildren's own (inside bubblewrap's pid namespace, if any).
    expect(found.map((info) => info.nsPids.at(-1)).sort()).toEqual([...recorded.pids].sort());
    return { recorded, found };
  }
}

function findGrandchildren(recorded: Grandchildren): ProcessInfo[] {
  return [
    ...processesWithArg(recorded.tag),
    ...processesWithArg(recorded.seconds).filter((info) => info.argv[0]?.endsWith('sleep')),
  ];
}

/** No grandchild runs any more, and (bounded) each pid is gone: reaped, not even a zombie. */
async function expectGrandchildrenGone(
  recorded: Grandchildren,
  found: ProcessInfo[],
): Promise<void> {
  await waitNoProcesses('grandchild', () => findGrandchildren(recorded));
  for (const { pid } of found)
    expect({ pid, running: isRunning(pid) }).toEqual({ pid, running: false });
  await waitFor('the grandchildren to be reaped', async () =>
    found.every(({ pid }) => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    }),
  );
}

function statuses(events: readonly { status: string }[]): string[] {
  return events.map((event) => event.status);
}

function result(job: JobBody): TestExecutionResult {
  expect(job.result).not.toBeNull();
  expect(Object.keys(job.result ?? {}).sort()).toEqual(RESULT_KEYS);
  return job.result as unknown as TestExecutionResult;
}

function probeOf(log: string): Probe {
  const line = /PROBE ([A-Za-z0-9+/=]+)\s*$/m.exec(log);
  if (!line) throw new Error(`no PROBE line in the log:\n${log.slice(0, 2000)}`);
  try {
    return JSON.parse(Buffer.from(line[1], 'base64').toString('utf8')) as Probe;
  } catch (error) {
    throw new Error(`${(error as Error).message} in ${line[1].slice(0, 2000)}`);
  }
}

function secretValues(stack: TestStack): string[] {
  return [TEST_JWT_SECRET, stack.db.url, stack.db.name, CANARY_TOKEN];
}

function expectCleanEnvironment(probe: Probe, stack: TestStack): void {
  for (const name of SECRET_NAMES) expect(probe.env).not.toHaveProperty(name);
  expect(probe.env).toMatchObject({ CI: 'true' });
  expect(probe.env.HOME).not.toBe(process.env.HOME);
  expect(probe.env.TMPDIR).toBeDefined();
  expect(probe.env.HOME.startsWith(stack.config.dataDir)).toBe(false);
  expect(Object.keys(probe.env).sort()).toEqual(
    expect.arrayContaining(['CI', 'HOME', 'PATH', 'TMPDIR']),
  );
  expect(probe.writeHome).toBe('written');
  expect(probe.writeTmp).toBe('written');
  expect(probe.writeWorkspace).toBe('written');
}

function jobsEnvKeys(probe: Probe): string[] {
  const allowed = ['PATH', 'HOME', 'TMPDIR', 'CI', 'NO_COLOR', 'FORCE_COLOR', 'LANG', 'PWD'];
  // node --test marks its test-file processes.
  return Object.keys(probe.env).filter(
    (name) => !allowed.includes(name) && name !== 'NODE_TEST_CONTEXT',
  );
}

describe('test-execution with TEST_SANDBOX=bwrap', () => {
  const harness = new Harness('testexec-bwrap', { TEST_SANDBOX: 'bwrap' });

  beforeAll(() => harness.start());
  afterAll(async () => {
    await harness.stop();
    rmSync(OUTSIDE_FILE, { force: true });
  });

  it('runs passing tests: done, counts, output tail, log; followed over the socket', async () => {
    const project = await harness.project();
    const { job, socketEvents, log, truncated } = await harness.run(project, {
      testCommand: 'node --test',
      files: ['test/pass.test.js'],
    });
    expect(job).toMatchObject({ status: 'done', attempts: 1, error: null });
    expect(result(job)).toMatchObject({
      exitCode: 0,
      signal: null,
      passed: 3,
      failed: 0,
      skipped: 1,
      failures: [],
    });
    expect(result(job).durationMs).toBeGreaterThanOrEqual(0);
    expect(result(job).outputTail).toMatch(/# pass 3\n/);
    expect(log).toContain('ok 1 - adds');
    expect(log).toContain(result(job).outputTail);
    expect(truncated).toBe(false);
    const names = socketEvents.map((event) => event.name);
    expect(names[0]).toBe(`${KIND}:created`);
    expect(names[1]).toBe(`${KIND}:processing`);
    expect(names).toContain(`${KIND}:progress`);
    expect(names.at(-1)).toBe(`${KIND}:done`);
  });

  it('finishes a run with failing tests as done with failed > 0, not as an error', async () => {
    const project = await harness.project();
    const { job, events, log } = await harness.run(project, {
      testCommand: 'node --test test/fail.test.js',
    });
    expect(job).toMatchObject({ status: 'done', attempts: 1, error: null });
    expect(result(job)).toMatchObject({
      exitCode: 1,
      signal: null,
      passed: 2,
      failed: 1,
      skipped: 1,
    });
    expect(log).toContain('six halves should be four');
    expect(statuses(events)).not.toContain('error');
    expect(result(job).failures).toEqual([
      {
        name: 'divides',
        file: 'test/fail.test.js',
        message: expect.stringMatching(/^six halves should be four\n\n3 !== 4\n\s+at /),
      },
    ]);
  });

  it('reads the failures from the JUnit report the command writes, or says it is missing', async () => {
    const project = await harness.project();
    const report = 'junit.xml';
    const { job } = await harness.run(project, {
      testCommand: `node --test --test-reporter=junit --test-reporter-destination=${report} test/fail.test.js`,
      junitReport: report,
    });
    expect(job).toMatchObject({ status: 'done' });
    expect(existsSync(join(harness.workspaceOf(project), report))).toBe(true);
    expect(result(job).failures).toEqual([
      { name: 'divides', message: expect.stringContaining('six halves should be four\n\n3 !== 4') },
    ]);

    const missing = await harness.run(project, {
      testCommand: 'node --test test/fail.test.js',
      junitReport: 'reports/none.xml',
    });
    expect(missing.log).toContain(
      'JUnit report reports/none.xml not read: the command did not write it; failures are read from the output',
    );
    expect(result(missing.job).failures.map((failure) => failure.name)).toEqual(['divides']);
  });

  it('kills a hanging run at its timeout: error, not retried, nothing left running', async () => {
    const project = await harness.project();
    const { job, events } = await harness.run(project, {
      testCommand: 'node --test hang.test.js',
      timeoutMs: 2000,
    });
    expect(job).toMatchObject({
      status: 'error',
      attempts: 1,
      maxAttempts: 3,
      result: null,
      error: 'tests timed out after 2000 ms; the process tree was killed',
    });
    expect(statuses(events)).toEqual(expect.arrayContaining(['created', 'processing', 'error']));
    expect(statuses(events).filter((status) => status === 'processing')).toHaveLength(1);
  });

  it.each(['timeout', 'cancel'] as const)(
    'leaves no grandchild behind after a %s',
    async (ending) => {
      const project = await harness.project();
      const submitted = await harness.submit(project, {
        testCommand: 'node --test grandchild.test.js',
        timeoutMs: ending === 'timeout' ? 5000 : 100_000,
      });
      const { recorded, found } = await harness.grandchildren(project);
      if (ending === 'cancel') {
        const res = await harness.api.post(`/jobs/${submitted.id}/cancel`);
        expect(res.status).toBe(200);
      }
      const { job } = await harness.finish(submitted);
      if (ending === 'timeout') {
        expect(job).toMatchObject({ status: 'error', attempts: 1 });
        expect(job.error).toMatch(/timed out after 5000 ms/);
      } else {
        expect(job).toMatchObject({ status: 'cancelled', attempts: 1, result: null });
      }
      await expectGrandchildrenGone(recorded, found);
    },
  );

  it('leaves no daemon behind when the command exits and a daemon it started lives on', async () => {
    const project = await harness.project();
    const { job, log } = await harness.run(project, { testCommand: 'node daemon.js' });
    expect(job).toMatchObject({ status: 'done' });
    expect(result(job)).toMatchObject({ exitCode: 0, passed: null, failed: null, skipped: null });
    expect(log).toContain('daemon started');
    await waitNoProcesses('daemon', () => processesWithArg(`${MARKER}-${project}-daemon`));
  });

  it('streams thousands of lines as batched progress events and stores them all', async () => {
    const project = await harness.project();
    const { job, events, socketEvents, log, truncated } = await harness.run(project, {
      testCommand: 'node print.test.js',
    });
    expect(job).toMatchObject({ status: 'done' });
    expect(result(job)).toMatchObject({ exitCode: 0, passed: 1, failed: 0 });

    const progress = events.filter((event) => event.status === 'progress');
    expect(socketEvents.filter((event) => event.status === 'progress')).toHaveLength(
      progress.length,
    );
    // Batched: far fewer events than lines.
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress.length).toBeLessThan(LINES / 20);
    // The message is a short status line; the lines are in `output`, exactly as logged.
    for (const event of progress) {
      expect(event.message).toMatch(/^running node print\.test\.js(: \d+ lines? of output)?$/);
    }
    const streamed = progress.map((event) => event.output ?? '').join('');
    expect(streamed).toBe(log);
    // Each carries new lines only, in order, and together they reach the last line.
    let last = 0;
    for (const event of progress) {
      const numbers = [
        ...(event.output ?? '').matchAll(/^line (\d{5}) of the printing fixture$/gm),
      ].map((match) => Number(match[1]));
      if (numbers.length === 0) continue;
      expect(numbers[0]).toBeGreaterThan(last);
      numbers.forEach((n, i) => i > 0 && expect(n).toBe(numbers[i - 1] + 1));
      last = numbers.at(-1)!;
    }
    expect(last).toBe(LINES);

    expect(truncated).toBe(false);
    const logged = [...log.matchAll(/^line (\d{5}) of the printing fixture$/gm)].map((m) =>
      Number(m[1]),
    );
    expect(logged).toEqual(Array.from({ length: LINES }, (_, i) => i + 1));
  });

  it('keeps a NUL byte in the output from breaking the job', async () => {
    const project = await harness.project();
    const { job, log, events } = await harness.run(project, {
      testCommand: 'node --test nul.test.js',
    });
    expect(job).toMatchObject({ status: 'done', attempts: 1, error: null });
    expect(result(job)).toMatchObject({ exitCode: 0, passed: 1, failed: 0 });
    expect(log).toMatch(/before.after/);
    expect(events.map((event) => event.output ?? '').join('')).toBe(log);
  });

  it("keeps the server's environment, processes, files and network out of reach", async () => {
    const project = await harness.project();
    const { job, log } = await harness.run(project, { testCommand: 'node --test probe.test.js' });
    expect(job).toMatchObject({ status: 'done' });
    expect(result(job)).toMatchObject({ exitCode: 0, passed: 1, failed: 0 });
    const probe = probeOf(log);

    expectCleanEnvironment(probe, harness.stack);
    expect(jobsEnvKeys(probe)).toEqual([]);
    // Not one secret anywhere the run could read: its env, any /proc/*/environ (its parent's).
    expect(probe.secretsFound).toEqual([]);
    expect(probe.readableEnvirons).toBeGreaterThan(0);
    for (const secret of secretValues(harness.stack)) expect(log).not.toContain(secret);
    // Its own pid namespace: the server's process does not exist in there, nor much else.
    expect(probe.serverProcess).toMatch(/^error /);
    expect(probe.procPids).toBeLessThan(10);
    // The server's directories are hidden, other projects' workspaces too.
    expect(probe.serverCwd).toEqual([]);
    expect(probe.siblings).toEqual([project]);
    // Only the workspace and its temp dirs are writable.
    expect(probe.writeOutside).toBe('error EROFS');
    expect(existsSync(OUTSIDE_FILE)).toBe(false);
    // No network: not Redis over TCP, not PostgreSQL's Unix socket.
    expect(probe.redis).toMatch(/^error (ECONNREFUSED|ENETUNREACH)$/);
    expect(probe.postgresSocket).toMatch(/^error /);
  });

  it('refuses bad params at submit with 400 naming the problem', async () => {
    const project = await harness.project();
    const cases: [object, string | RegExp][] = [
      [
        { testCommand: 'bash -c "echo hi"' },
        /^params\.testCommand: "bash" is not an allowed executable/,
      ],
      [{ testCommand: '/usr/bin/node --test' }, /"\/usr\/bin\/node" is not an allowed executable/],
      [{ testCommand: 'node --test; id' }, 'params.testCommand must not contain ";"'],
      [{ testCommand: 'node --test $HOME' }, 'params.testCommand must not contain "$"'],
      [{ testCommand: 'node --test\nid' }, 'params.testCommand must not contain a newline'],
      [{ testCommand: 'node "open' }, 'params.testCommand has an unclosed " quote'],
      [{ testCommand: '' }, /testCommand/],
      [
        { testCommand: 'node --test', files: ['../x'] },
        'params.files.0 must stay inside the workspace',
      ],
      [
        { testCommand: 'node --test', files: ['/etc/passwd'] },
        'params.files.0 must stay inside the workspace',
      ],
      [
        { testCommand: 'node --test', files: ['--require=x'] },
        'params.files.0 must be a path, not an option',
      ],
      [
        { testCommand: 'node --test', timeoutMs: 110_001 },
        'params.timeoutMs must not exceed 110000',
      ],
      [{ testCommand: 'node --test', timeoutMs: 999 }, /timeoutMs/],
      [{ testCommand: 'node --test', shell: true }, /shell/],
      [
        { testCommand: 'node --test', junitReport: '/tmp/junit.xml' },
        'params.junitReport must be relative to the workspace',
      ],
      [
        { testCommand: 'node --test', junitReport: '../junit.xml' },
        'params.junitReport escapes the workspace',
      ],
      [
        { testCommand: 'node --test', junitReport: '.git/junit.xml' },
        'params.junitReport is inside .git/',
      ],
      [{ testCommand: 'node --test', junitReport: '' }, /params\.junitReport/],
      [{ testCommand: 'node --test', junitReport: 7 }, /params\.junitReport must be a string/],
    ];
    for (const [params, message] of cases) {
      expectError(await harness.api.submit(KIND, { projectId: project, params }), 400, message);
    }
    expect(await harness.api.listAll({ kind: KIND })).toEqual(
      expect.not.arrayContaining([expect.objectContaining({ projectId: project })]),
    );
  });

  it('fails an allowed executable that does not exist: error "failed to start", not retried', async () => {
    const project = await harness.project();
    const { job } = await harness.run(project, { testCommand: `${MISSING_RUNNER} --run` });
    expect(job).toMatchObject({ status: 'error', attempts: 1, result: null });
    expect(job.error).toMatch(new RegExp(`^failed to start ${MISSING_RUNNER}: `));
  });

  it('never runs two jobs of one project at the same time', async () => {
    const project = await harness.project();
    const first = await harness.submit(project, { testCommand: 'node --test overlap.test.js' });
    const second = await harness.submit(project, { testCommand: 'node --test overlap.test.js' });
    const [a, b] = [await harness.finish(first), await harness.finish(second)];
    for (const { job } of [a, b]) {
      expect(job).toMatchObject({ status: 'done', attempts: 1 });
      expect(result(job)).toMatchObject({ exitCode: 0, passed: 1, failed: 0 });
    }
    // The journal shows one run after the other.
    const journal = readFileSync(join(harness.workspaceOf(project), 'journal.txt'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => line.split(' '));
    expect(journal.map(([what]) => what)).toEqual(['start', 'end', 'start', 'end']);
    const times = journal.map(([, at]) => Number(at));
    expect([...times].sort((x, y) => x - y)).toEqual(times);
    // And the events agree: the later job started processing after the earlier one finished.
    const processingOf = (events: EventBody[]) =>
      BigInt(events.find((event) => event.status === 'processing')!.eventId);
    const doneOf = (events: EventBody[]) => BigInt(events.at(-1)!.eventId);
    const [earlier, later] = processingOf(a.events) < processingOf(b.events) ? [a, b] : [b, a];
    expect(processingOf(later.events) > doneOf(earlier.events)).toBe(true);
  });
});

describe('test-execution with TEST_SANDBOX=none', () => {
  const harness = new Harness('testexec-none', {
    TEST_SANDBOX: 'none',
    JOB_LOG_MAX_BYTES: '16384',
  });
  const daemonTags: string[] = [];

  beforeAll(() => harness.start());
  afterAll(async () => {
    daemonTags.forEach((tag) => killAll(processesWithArg(tag)));
    await harness.stop();
    rmSync(OUTSIDE_FILE, { force: true });
  });

  it('runs passing and failing tests', async () => {
    const project = await harness.project();
    const passing = await harness.run(project, { testCommand: 'node --test test/pass.test.js' });
    expect(passing.job).toMatchObject({ status: 'done' });
    expect(result(passing.job)).toMatchObject({ exitCode: 0, passed: 3, failed: 0, skipped: 1 });
    const failing = await harness.run(project, { testCommand: 'node --test test/fail.test.js' });
    expect(failing.job).toMatchObject({ status: 'done' });
    expect(result(failing.job)).toMatchObject({ exitCode: 1, passed: 2, failed: 1, skipped: 1 });
  });

  it.each(['timeout', 'cancel'] as const)(
    'leaves no grandchild behind after a %s',
    async (ending) => {
      const project = await harness.project();
      const submitted = await harness.submit(project, {
        testCommand: 'node --test grandchild.test.js',
        timeoutMs: ending === 'timeout' ? 5000 : 100_000,
      });
      const { recorded, found } = await harness.grandchildren(project);
      // Without a pid namespace the recorded pids are the host's.
      expect(found.map((info) => info.pid).sort()).toEqual([...recorded.pids].sort());
      if (ending === 'cancel') {
        expect((await harness.api.post(`/jobs/${submitted.id}/cancel`)).status).toBe(200);
      }
      const { job } = await harness.finish(submitted);
      expect(job.status).toBe(ending === 'timeout' ? 'error' : 'cancelled');
      expect(job.attempts).toBe(1);
      await expectGrandchildrenGone(recorded, found);
    },
  );

  it('ends the job when a daemon it left behind holds the output open', async () => {
    const project = await harness.project();
    const tag = `${MARKER}-${project}-daemon`;
    daemonTags.push(tag);
    const submitted = await harness.submit(project, {
      testCommand: 'node daemon.js',
      timeoutMs: 100_000,
    });
    // Bounded well below the run's timeout: the job ends when the command does.
    const { job, log } = await harness.finish(submitted, {
      timeoutMs: 30_000,
      // Without a pid namespace a daemon re-parented to init is out of the runner's reach (a
      // documented limit of TEST_SANDBOX=none): end it here.
      beforeProcessCheck: () => killAll(processesWithArg(tag)),
    });
    expect(job).toMatchObject({ status: 'done' });
    expect(log).toContain('daemon started');
  });

  it('keeps the tail of a long output and says so in X-Log-Truncated', async () => {
    const project = await harness.project();
    const { job, log, truncated, events } = await harness.run(project, {
      testCommand: 'node print.test.js',
    });
    expect(job).toMatchObject({ status: 'done' });
    expect(truncated).toBe(true);
    expect(Buffer.byteLength(log)).toBeLessThanOrEqual(16384);
    expect(log).not.toContain('line 00001 ');
    expect(log).toContain(`line ${String(LINES).padStart(5, '0')} of the printing fixture`);
    // The summary printed last is there; the parsed counts came from the whole stream.
    expect(log).toMatch(/# pass 1\n/);
    expect(result(job)).toMatchObject({ passed: 1, failed: 0 });
    const logged = [...log.matchAll(/^line (\d{5}) of the printing fixture$/gm)].map((m) =>
      Number(m[1]),
    );
    expect(logged.at(-1)).toBe(LINES);
    logged.forEach((n, i) => i > 0 && expect(n).toBe(logged[i - 1] + 1));
    expect(events.filter((event) => event.status === 'progress').length).toBeLessThan(LINES / 20);
    // The events streamed the first JOB_LOG_MAX_BYTES of the output, exactly; the log has the tail.
    const streamed = events.map((event) => event.output ?? '').join('');
    expect(Buffer.byteLength(streamed)).toBeGreaterThan(16384 - 100);
    expect(Buffer.byteLength(streamed)).toBeLessThanOrEqual(16384);
    expect(streamed).toContain('line 00001 of the printing fixture\n');
    expect(streamed).not.toContain(`line ${String(LINES).padStart(5, '0')} `);
  });

  it('gives the run a clean environment even without the sandbox', async () => {
    const project = await harness.project();
    const { job, log } = await harness.run(project, { testCommand: 'node --test probe.test.js' });
    expect(job).toMatchObject({ status: 'done' });
    const probe = probeOf(log);
    expectCleanEnvironment(probe, harness.stack);
    expect(jobsEnvKeys(probe)).toEqual([]);
    // Its own environment is clean (the server's /proc stays readable without the sandbox).
    expect(probe.secretsFound.filter((where) => where.startsWith('env:'))).toEqual([]);
    for (const secret of secretValues(harness.stack)) {
      expect(JSON.stringify(probe.env)).not.toContain(secret);
    }
    // The control for the sandboxed probe: without bubblewrap the network is reachable.
    expect(probe.redis).toBe('connected');
  });

  it('fails an allowed executable that does not exist: error "failed to start"', async () => {
    const project = await harness.project();
    const { job } = await harness.run(project, { testCommand: MISSING_RUNNER });
    expect(job).toMatchObject({ status: 'error', attempts: 1 });
    expect(job.error).toMatch(new RegExp(`^failed to start ${MISSING_RUNNER}: `));
  });
});
