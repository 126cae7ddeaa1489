import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Server as IoServer } from 'socket.io';
import { testExecutionKind } from '../../src/kinds/test-execution/test-execution.kind';
import { JobEventsGateway } from '../../src/realtime/job-events.gateway';
import { startStack, tokenFor, type TestStack } from '../support/app';
import { dropUserEvents } from '../support/database';
import { Api, expectError, uniqueUser } from '../support/api';
import { baseUrl } from '../support/socket';
import { countedKind, stepsKind, workspaceStepsKind } from '../support/child-kinds';
import { echoKind } from '../support/test-kinds';
import { waitFor } from '../support/wait';

const ROOT = resolve(__dirname, '../..');
const CHROMIUM = '/usr/bin/chromium';
/** Where the run leaves its screenshot (docs/dashboard.png, in the README, is a copy of one). */
const SCREENSHOT = join(ROOT, 'test-output', 'dashboard.png');
const UI_MS = 30_000;
/** Echo jobs that report LLM tokens as a generation does (docs/usage.md). */
const tokensKind = {
  ...echoKind,
  name: 'echo-tokens',
  usage: () => ({
    provider: 'anthropic',
    model: 'claude-e2e',
    inputTokens: 1200,
    outputTokens: 34,
  }),
};

/** The dashboard at / in Debian's Chromium (headless, driven by playwright-core) against the real service. */
describe('dashboard in a real browser', () => {
  let stack: TestStack;
  let browser: Browser;
  let url: string;

  beforeAll(async () => {
    // The page's scripts are what `npm run build` compiles web/ and client/ into.
    await promisify(execFile)(
      process.execPath,
      [require.resolve('typescript/bin/tsc'), '-p', join(ROOT, 'web', 'tsconfig.json')],
      { timeout: 120_000 },
    );
    stack = await startStack(
      'dashboard',
      [testExecutionKind, echoKind, countedKind, stepsKind, workspaceStepsKind, tokensKind],
      {
        TEST_COMMAND_ALLOWLIST: 'node',
      },
    );
    url = baseUrl(stack.app.getHttpServer());
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-background-networking'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  async function signedIn(user: string, roles: string[] = []): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 820 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(`${url}/`);
    await page.fill('#token', tokenFor(user, roles));
    await page.click('#signin-form button[type=submit]');
    await page.waitForSelector('#app:not([hidden])', { timeout: UI_MS });
    await page.waitForSelector('#transport:text("live")', { timeout: UI_MS });
    expect(page.url()).toBe(`${url}/`);
    expect(problems).toEqual([]);
    return page;
  }

  function row(page: Page, jobId: string, status: string) {
    return page.waitForSelector(`tr[data-job="${jobId}"][data-status="${status}"]`, {
      timeout: UI_MS,
    });
  }

  /** Submits the form; the page then shows the new job's detail: its id. */
  async function submitted(page: Page): Promise<string> {
    await page.click('#submit-form button[type=submit]');
    await page.waitForSelector('#detail-id:not(:empty)', { timeout: UI_MS });
    return (await page.textContent('#detail-id')) ?? '';
  }

  /** Picks a project in the form's select, once the user's projects are listed in it. */
  async function pickProject(page: Page, projectId: string): Promise<void> {
    await page.waitForSelector(`#project option[value="${projectId}"]`, {
      state: 'attached',
      timeout: UI_MS,
    });
    await page.selectOption('#project', projectId);
  }

  /** The jobs table's rows, top to bottom: each job's id and, for a step, its parent's. */
  function tableRows(page: Page): Promise<{ job: string; parent: string | null }[]> {
    return page.$$eval('#jobs tbody tr', (rows) =>
      rows.map((tr) => ({
        job: tr.getAttribute('data-job') ?? '',
        parent: tr.getAttribute('data-parent'),
      })),
    );
  }

  it('serves the page, its scripts and socket.io-client from the api; 404 for an unknown asset', async () => {
    const page = await stack.http().get('/').expect(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).not.toMatch(/https?:\/\//);
    await stack.http().get('/assets/web/src/main.js').expect(200);
    await stack.http().get('/assets/client/src/index.js').expect(200);
    await stack.http().get('/socket.io/socket.io.esm.min.js').expect(200);
    expectError(await stack.http().get('/assets/nope.js'), 404, /nope\.js/);
  });

  it('refuses a bad token and stays on the sign-in form', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${url}/`);
      await page.fill('#token', 'not-a-token');
      await page.click('#signin-form button[type=submit]');
      await page.waitForSelector('#signin-error:text("token is invalid")', { timeout: UI_MS });
      expect(await page.isHidden('#app')).toBe(true);
    } finally {
      await page.close();
    }
  });

  it('submits a test-execution job from the schema form and sees it go live to done with its output', async () => {
    const user = uniqueUser('browser');
    const api = new Api(stack, user);
    const project = (await api.post('/projects', { name: 'dashboard demo' }).expect(201)).body as {
      id: string;
    };
    await writeFile(
      join(stack.config.workspacesDir, project.id, 'math.test.js'),
      "require('node:test')('adds', () => require('node:assert').equal(1 + 1, 2));\n",
    );
    const page = await signedIn(user);
    try {
      await page.selectOption('#kind', 'test-execution');
      // Fields generated from the kind's params schema.
      await page.waitForSelector('#param-testCommand[required]');
      await page.waitForSelector('#param-files[data-type="lines"]');
      await page.waitForSelector('#param-timeoutMs[type="number"]');
      await pickProject(page, project.id);
      await page.fill('#param-testCommand', 'node --test');
      const id = await submitted(page);
      await row(page, id, 'done');
      await page.waitForSelector('#detail-status:text("done")', { timeout: UI_MS });
      // The test run's output, as node --test printed it.
      await page.waitForSelector('#output:has-text("# pass 1")', { timeout: UI_MS });
      expect(await page.textContent('#detail-result')).toMatch(/"passed": 1/);
      expect((await api.job(id)).status).toBe('done');
    } finally {
      await page.close();
    }
  });

  it('picks the project from the user’s projects by name; with none, a hint, and a kind without a workspace still submits', async () => {
    const user = uniqueUser('browser');
    const api = new Api(stack, user);
    const empty = await signedIn(user);
    try {
      await empty.selectOption('#kind', 'test-execution');
      await empty.waitForSelector('#project-hint:text("none yet")', { timeout: UI_MS });
      expect(await empty.$$eval('#project option', (options) => options.length)).toBe(0);
      await empty.selectOption('#kind', 'echo');
      await empty.waitForSelector('#project option[value="none"]', { state: 'attached' });
      await empty.fill('#param-text', 'no project needed');
      const echo = await submitted(empty);
      await row(empty, echo, 'done');
      expect((await api.job(echo)).projectId).toBe('none');
    } finally {
      await empty.close();
    }

    const create = async (name: string) =>
      ((await api.post('/projects', { name }).expect(201)).body as { id: string }).id;
    const alpha = await create('alpha project');
    const beta = await create('beta project');
    await writeFile(
      join(stack.config.workspacesDir, beta, 'beta.test.js'),
      "require('node:test')('beta', () => {});\n",
    );
    const page = await signedIn(user);
    try {
      await page.selectOption('#kind', 'test-execution');
      await page.waitForSelector(`#project option[value="${alpha}"]`, { state: 'attached' });
      const options = await page.$$eval('#project option', (all) =>
        all.map((option) => ({ value: option.getAttribute('value'), label: option.textContent })),
      );
      expect(options).toEqual([
        { value: beta, label: 'beta project (ready)' },
        { value: alpha, label: 'alpha project (ready)' },
      ]);
      expect(await page.textContent('#project-hint')).toBe('');
      await pickProject(page, beta);
      await page.fill('#param-testCommand', 'node --test');
      const id = await submitted(page);
      await row(page, id, 'done');
      await page.waitForSelector('#output:has-text("# pass 1")', { timeout: UI_MS });
      expect((await api.job(id)).projectId).toBe(beta);
    } finally {
      await page.close();
    }
  });

  it('nests a parent’s steps beneath it live, each to done; the parent lists its steps and a step shows its own output', async () => {
    const user = uniqueUser('browser');
    const api = new Api(stack, user);
    const project = (await api.post('/projects', { name: 'steps demo' }).expect(201)).body as {
      id: string;
    };
    const workspace = join(stack.config.workspacesDir, project.id);
    // The first step runs until the test releases it (bounded, so it never hangs).
    await writeFile(
      join(workspace, 'wait.js'),
      `const { existsSync } = require('node:fs');
      console.log('waiting for release');
      let polls = 0;
      const timer = setInterval(() => {
        if (existsSync('release') || (polls += 1) === 600) {
          clearInterval(timer);
          console.log('released');
        }
      }, 100);
      `,
    );
    const page = await signedIn(user);
    try {
      // Submitted elsewhere: the parent and each step appear without a reload.
      const parent = await api.submitOk(
        'workspace-steps',
        {
          steps: [
            { key: 'test-1', kind: 'test-execution', params: { testCommand: 'node wait.js' } },
            { key: 'count-1', kind: 'counted', params: { text: 'after the test' } },
          ],
        },
        { projectId: project.id },
      );
      await page.waitForSelector(`tr[data-job="${parent.id}"]:not([data-parent])`, {
        timeout: UI_MS,
      });
      const running = await page.waitForSelector(
        `tr.step[data-parent="${parent.id}"][data-status="processing"]:has(.step-key:text-is("test-1"))`,
        { timeout: UI_MS },
      );
      const testStep = (await running.getAttribute('data-job')) ?? '';
      await row(page, parent.id, 'processing');

      // The parent's detail lists its steps; a step's detail is its own, with its output.
      await page.click(`tr[data-job="${parent.id}"] td.kind`);
      await page.waitForSelector(`#steps tr[data-step="${testStep}"]:has-text("test-1")`, {
        timeout: UI_MS,
      });
      await page.click(`#steps tr[data-step="${testStep}"]`);
      await page.waitForSelector(`#detail-id:text-is("${testStep}")`, { timeout: UI_MS });
      await page.waitForSelector('#detail-parent:not([hidden]) #detail-key:text-is("test-1")', {
        timeout: UI_MS,
      });
      await page.waitForSelector('#output:has-text("waiting for release")', { timeout: UI_MS });

      await writeFile(join(workspace, 'release'), '');
      await row(page, testStep, 'done');
      await page.waitForSelector('#output:has-text("released")', { timeout: UI_MS });
      const counted = await page.waitForSelector(
        `tr.step[data-parent="${parent.id}"][data-status="done"]:has(.step-key:text-is("count-1"))`,
        { timeout: UI_MS },
      );
      const countStep = (await counted.getAttribute('data-job')) ?? '';
      await row(page, parent.id, 'done');

      // Steps are rows beneath their parent, oldest first, never top-level ones.
      const rows = await tableRows(page);
      const at = rows.findIndex((r) => r.job === parent.id);
      expect(rows.slice(at, at + 3)).toEqual([
        { job: parent.id, parent: null },
        { job: testStep, parent: parent.id },
        { job: countStep, parent: parent.id },
      ]);
      expect(rows.filter((r) => r.parent === null).map((r) => r.job)).toEqual([parent.id]);
      const view = (await api.job(parent.id)) as unknown as {
        children: { id: string; key: string; status: string }[];
      };
      expect(view.children.map(({ id, key, status }) => ({ id, key, status }))).toEqual([
        { id: testStep, key: 'test-1', status: 'done' },
        { id: countStep, key: 'count-1', status: 'done' },
      ]);

      await page.click('#detail-parent-link');
      await page.waitForSelector(`#detail-id:text-is("${parent.id}")`, { timeout: UI_MS });
      await page.waitForSelector(`#steps tr[data-step="${countStep}"][data-status="done"]`, {
        timeout: UI_MS,
      });
      expect(await page.isHidden('#detail-parent')).toBe(true);
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
    } finally {
      await page.close();
    }
  });

  /**
   * Signs in, and submits from the form a test-execution job whose command prints a line every
   * 200 ms until `release()` (bounded at 300 lines, so it never hangs); the page shows it.
   */
  async function streamingJob() {
    const user = uniqueUser('browser');
    const api = new Api(stack, user);
    const project = (await api.post('/projects', { name: 'streaming demo' }).expect(201)).body as {
      id: string;
    };
    const workspace = join(stack.config.workspacesDir, project.id);
    await writeFile(
      join(workspace, 'print.js'),
      `const { existsSync } = require('node:fs');
      let line = 0;
      const timer = setInterval(() => {
        if (existsSync('release') || line === 300) {
          clearInterval(timer);
          console.log('released after ' + line + ' lines');
          return;
        }
        console.log('line ' + line++);
      }, 200);
      `,
    );
    const page = await signedIn(user);
    await page.selectOption('#kind', 'test-execution');
    await page.waitForSelector('#param-testCommand[required]');
    await pickProject(page, project.id);
    await page.fill('#param-testCommand', 'node print.js');
    const id = await submitted(page);
    return {
      api,
      user,
      page,
      id,
      /** Waits until the page's output satisfies `test` while the job is still processing. */
      whileProcessing: (has: string, hasNot = '\u0000') =>
        page.waitForFunction(
          ([wanted, unwanted]) => {
            // Runs in the page; the test's own lib has no DOM types.
            const { document } = globalThis as unknown as {
              document: { querySelector(selector: string): { textContent: string | null } | null };
            };
            const output = document.querySelector('#output')?.textContent ?? '';
            return (
              document.querySelector('#detail-status')?.textContent === 'processing' &&
              output.includes(wanted) &&
              !output.includes(unwanted)
            );
          },
          [has, hasNot] as const,
          { timeout: UI_MS },
        ),
      release: () => writeFile(join(workspace, 'release'), ''),
      log: async () => {
        const log = await api.get(`/jobs/${id}/log`).set('accept', 'text/plain').expect(200);
        expect(log.headers['x-log-truncated']).not.toBe('true');
        expect(log.text).toMatch(/^line 0\nline 1\n(line \d+\n)*released after \d+ lines\n$/);
        return log.text;
      },
    };
  }

  /** Cuts every socket of the service; returns the ids of those it cut. */
  function cutSockets(): string[] {
    const io = stack.app.get(JobEventsGateway).server as unknown as IoServer;
    const ids = [...io.sockets.sockets.keys()];
    for (const socket of io.sockets.sockets.values()) socket.conn.close();
    return ids;
  }

  /** Waits until the page has a socket again, a new one. */
  async function reconnected(old: string[]): Promise<void> {
    const io = stack.app.get(JobEventsGateway).server as unknown as IoServer;
    await waitFor('the page reconnected', () =>
      Promise.resolve([...io.sockets.sockets.keys()].some((id) => !old.includes(id))),
    );
  }

  it('shows a running job’s output line by line as it streams, across a socket reconnect, equal to the log at the end', async () => {
    const job = await streamingJob();
    try {
      await job.whileProcessing('line 2\n');
      // The page reconnects with its last event id and is replayed what it missed.
      const old = cutSockets();
      await reconnected(old);
      await job.whileProcessing('line 8\n');
      expect((await job.api.job(job.id)).status).toBe('processing');
      await job.release();
      await row(job.page, job.id, 'done');
      await job.page.waitForSelector('#output:has-text("released after")', { timeout: UI_MS });
      // What the page assembled from the events' output is exactly the log: no gap, no repeat.
      expect(await job.page.textContent('#output')).toBe(await job.log());
      expect(await job.page.getAttribute('#output', 'data-source')).toBe('stream');
    } finally {
      await job.page.close();
    }
  });

  it('after a resync (its last event pruned by the retention) the page rebuilds the output from what is retained, and shows the log at the end', async () => {
    const job = await streamingJob();
    try {
      await job.whileProcessing('line 2\n');
      // The page's last event and all before it gone, as once EVENT_RETENTION_SEC has passed and
      // newer events exist; then a reconnect whose lastEventId is gone: the server answers resync.
      await dropUserEvents(stack.db.url, job.user);
      cutSockets();
      // Rebuilt from the retained events (line 0 was pruned), then live again.
      await job.whileProcessing('line 8\n', 'line 0\n');
      await job.release();
      await row(job.page, job.id, 'done');
      await job.page.waitForSelector('#output[data-source="log"]', { timeout: UI_MS });
      expect(await job.page.textContent('#output')).toBe(await job.log());
    } finally {
      await job.page.close();
    }
  });

  it('shows form errors from the service, then cancels a running job and retries a failed one', async () => {
    const user = uniqueUser('browser');
    const api = new Api(stack, user);
    const page = await signedIn(user);
    try {
      await page.selectOption('#kind', 'echo');
      await page.fill('#param-text', 'x'.repeat(1001));
      await page.click('#submit-form button[type=submit]');
      await page.waitForSelector('#submit-error:text("params.text")', { timeout: UI_MS });

      // A job submitted elsewhere appears and goes live without a reload.
      const running = await api.submitOk('echo', { text: 'long', steps: 1000, stepMs: 100 });
      await row(page, running.id, 'processing');
      await page.click(`tr[data-job="${running.id}"] button[data-action="cancel"]`);
      await row(page, running.id, 'cancelled');
      expect((await api.job(running.id)).status).toBe('cancelled');

      const failed = await api.submitOk('echo', { text: 'bad', fail: 'fatal' });
      await row(page, failed.id, 'error');
      await page.click(`tr[data-job="${failed.id}"] button[data-action="retry"]`);
      // The retried run fails again at once: its created…error events can arrive in one batch and
      // be drawn in one frame, so the row's passing states are not waited for, the history is.
      const events = await waitFor('the retried run to fail again', async () => {
        const history = (await api.get(`/jobs/${failed.id}/events`)).body as {
          items: { status: string }[];
        };
        return history.items.filter((e) => e.status === 'error').length === 2
          ? history.items
          : null;
      });
      expect(events.map((e) => e.status)).toEqual([
        'created',
        'processing',
        'error',
        'created',
        'processing',
        'error',
      ]);
      await row(page, failed.id, 'error');
    } finally {
      await page.close();
    }
  });

  it('an admin sees queue stats and pauses and resumes a kind; others do not see them', async () => {
    const plain = await signedIn(uniqueUser('browser'));
    expect(await plain.isHidden('#queues-section')).toBe(true);
    await plain.close();
    const page = await signedIn('root', ['admin']);
    try {
      await page.waitForSelector('#queues tr[data-kind="echo"][data-paused="false"]', {
        timeout: UI_MS,
      });
      await page.click('#queues button[data-queue="echo"]');
      await page.waitForSelector('#queues tr[data-kind="echo"][data-paused="true"]', {
        timeout: UI_MS,
      });
      await page.click('#queues button[data-queue="echo"]');
      await page.waitForSelector('#queues tr[data-kind="echo"][data-paused="false"]', {
        timeout: UI_MS,
      });
    } finally {
      await page.close();
    }
  });

  it("shows the caller's LLM tokens per provider and model, today and over 30 days", async () => {
    const user = uniqueUser('tokens');
    const api = new Api(stack, user);
    for (const text of ['one', 'two']) {
      const job = await api.submitOk('echo-tokens', { text });
      expect((await api.waitForStatus(job.id)).status).toBe('done');
    }
    const page = await signedIn(user);
    try {
      const row = await page.waitForSelector('#usage tr[data-model="anthropic/claude-e2e"]', {
        timeout: UI_MS,
      });
      expect(await row.evaluate((tr) => [tr.dataset.today, tr.dataset.total])).toEqual([
        '2468',
        '2468',
      ]);
      expect(await row.innerText()).toBe('anthropic/claude-e2e\t2,468\t2,468');
      expect(await page.isHidden('#usage-empty')).toBe(true);
    } finally {
      await page.close();
    }
  });

  it('the queue board: an admin signs in once, then the board lists every kind; no token in URLs or scripts', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await page.goto(`${url}/admin/queues/ui/`);
      await page.fill('#token', tokenFor('root', ['admin']));
      await page.click('#signin button[type=submit]');
      await page.waitForSelector('text=test-execution', { timeout: UI_MS });
      await page.waitForSelector('text=echo', { timeout: UI_MS });
      expect(page.url()).toBe(`${url}/admin/queues/ui/`);
      const [cookie] = await context.cookies();
      expect(cookie).toMatchObject({ name: 'conveyor_board', httpOnly: true, sameSite: 'Strict' });
      expect(await page.evaluate('document.cookie')).toBe('');

      const other = await browser.newContext();
      const refused = await other.newPage();
      await refused.goto(`${url}/admin/queues/ui/`);
      await refused.fill('#token', tokenFor(uniqueUser('browser')));
      await refused.click('#signin button[type=submit]');
      await refused.waitForSelector('#error:text("admin role")', { timeout: UI_MS });
      expect(await other.cookies()).toEqual([]);
      await other.close();
    } finally {
      await context.close();
    }
  });
});
