import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  killAll,
  processesIn,
  processesWithArg,
  waitNoProcesses,
} from '../../test/support/processes';
import { waitFor } from '../../test/support/wait';
import {
  bubblewrapAvailable,
  runSandboxed,
  type SandboxedOutcome,
  type SandboxedRun,
} from './sandboxed-process';

jest.setTimeout(60_000);

const PATH = process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin';
const node = process.execPath;

/** A child that spawns two grandchildren (one in a session of its own) and then waits forever. */
function grandchildScript(marker: string): string {
  return [
    "const { spawn } = require('node:child_process');",
    `const keep = ['-e', 'setInterval(() => {}, 1 << 30)'];`,
    `spawn(process.execPath, [...keep, '${marker}-plain'], { stdio: 'ignore' });`,
    `spawn(process.execPath, [...keep, '${marker}-setsid'], { stdio: 'ignore', detached: true });`,
    "console.log('ready');",
    'setInterval(() => {}, 1 << 30);',
    '',
  ].join('\n');
}

/** A child that leaves a daemon behind, holding the output pipe, and exits at once. */
function daemonScript(marker: string): string {
  return [
    "const { spawn } = require('node:child_process');",
    `const d = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)', '${marker}'], { detached: true, stdio: 'inherit' });`,
    'd.unref();',
    "console.log('daemon started');",
    '',
  ].join('\n');
}

/** Tries every connection and prints what happened, as JSON. */
function probeScript(targets: { tcp: number[]; unix: string[] }): string {
  return [
    "const net = require('node:net');",
    `const targets = ${JSON.stringify(targets)};`,
    'const attempt = (options) => new Promise((resolve) => {',
    '  const socket = net.connect(options);',
    "  socket.setTimeout(3000, () => { socket.destroy(); resolve('timeout'); });",
    "  socket.on('connect', () => { socket.destroy(); resolve('connected'); });",
    "  socket.on('error', (error) => resolve(error.code || error.message));",
    '});',
    '(async () => {',
    '  const out = {};',
    "  for (const port of targets.tcp) out['tcp:' + port] = await attempt({ host: '127.0.0.1', port });",
    "  for (const path of targets.unix) out['unix:' + path] = await attempt({ path });",
    "  console.log('PROBE ' + JSON.stringify(out));",
    '})();',
    '',
  ].join('\n');
}

describe('runSandboxed', () => {
  let root: string;
  let workspace: string;
  const markers: string[] = [];

  beforeAll(() => {
    root = realpathSync(mkdtempSync(join(tmpdir(), 'conveyor-sandbox-')));
    workspace = join(root, 'workspace');
    mkdirSync(workspace);
  });
  afterAll(() => {
    for (const marker of markers) killAll(processesWithArg(marker));
    killAll(processesIn(root));
    rmSync(root, { recursive: true, force: true });
  });

  function marker(): string {
    const value = `conveyor-sandbox-spec-${randomBytes(6).toString('hex')}`;
    markers.push(value);
    return value;
  }

  function script(name: string, text: string): string {
    writeFileSync(join(workspace, name), text);
    return name;
  }

  it('finds bubblewrap usable here (the sandbox tests need it)', () => {
    expect(bubblewrapAvailable()).toBe(true);
  });

  describe.each(['none', 'bwrap'] as const)('with sandbox %s', (sandbox) => {
    function run(
      argv: string[],
      extra: Partial<SandboxedRun> = {},
    ): { outcome: Promise<SandboxedOutcome>; output: () => string; abort: () => void } {
      let output = '';
      const controller = new AbortController();
      const outcome = runSandboxed({
        argv,
        cwd: workspace,
        env: { PATH, HOME: workspace, CI: 'true' },
        timeoutMs: 30_000,
        signal: controller.signal,
        sandbox,
        writable: [workspace],
        hidden: [],
        onOutput: (text) => {
          output += text;
        },
        ...extra,
      });
      return { outcome, output: () => output, abort: () => controller.abort() };
    }

    it('runs the command in the directory with exactly the environment given', async () => {
      const file = script('env.js', 'console.log(JSON.stringify([process.cwd(), process.env]));');
      const env = { PATH, HOME: join(workspace, 'home'), CI: 'true', LANG: 'C.UTF-8' };
      const { outcome, output } = run([node, file], { env });
      expect(await outcome).toMatchObject({ exitCode: 0, signal: null, timedOut: false });
      // bubblewrap adds PWD, which tells nothing of the server's.
      const [cwd, seen] = JSON.parse(output()) as [string, Record<string, string>];
      expect(cwd).toBe(workspace);
      expect(seen).toEqual(sandbox === 'bwrap' ? { ...env, PWD: workspace } : env);
    });

    it('reports the exit code and collects stdout and stderr', async () => {
      const file = script('exit.js', "console.log('out'); console.error('err'); process.exit(3);");
      const { outcome, output } = run([node, file]);
      expect(await outcome).toMatchObject({ exitCode: 3, timedOut: false, spawnError: null });
      expect(output()).toContain('out\n');
      expect(output()).toContain('err\n');
    });

    it('reports an executable that does not exist as a spawn error', async () => {
      const { outcome } = run(['conveyor-no-such-runner', 'test']);
      const result = await outcome;
      expect(result.spawnError).toMatch(/ENOENT|No such file or directory/);
    });

    it('kills the whole tree, grandchildren included, on timeout', async () => {
      const tag = marker();
      const file = script('tree-timeout.js', grandchildScript(tag));
      const { outcome } = run([node, file], { timeoutMs: 5000 });
      await waitFor('both grandchildren to start', async () =>
        processesWithArg(tag).length === 2 ? true : undefined,
      );
      const result = await outcome;
      expect(result.timedOut).toBe(true);
      expect(result.aborted).toBe(false);
      await waitNoProcesses('grandchild', () => processesWithArg(tag));
      await waitNoProcesses('process in the workspace', () => processesIn(workspace));
    });

    it('kills the whole tree, grandchildren included, on abort', async () => {
      const tag = marker();
      const file = script('tree-abort.js', grandchildScript(tag));
      const { outcome, output, abort } = run([node, file]);
      await waitFor('the child to be ready', async () => output().includes('ready'));
      await waitFor('both grandchildren to start', async () =>
        processesWithArg(tag).length === 2 ? true : undefined,
      );
      abort();
      const result = await outcome;
      expect(result).toMatchObject({ aborted: true, timedOut: false });
      await waitNoProcesses('grandchild', () => processesWithArg(tag));
      await waitNoProcesses('process in the workspace', () => processesIn(workspace));
    });

    it('ends the run when a daemon left behind keeps the output pipe open', async () => {
      const tag = marker();
      const file = script('daemon.js', daemonScript(tag));
      const { outcome, output } = run([node, file], { timeoutMs: 20_000 });
      // Bounded: without this the run would wait for the daemon (forever) or the timeout.
      const result = await Promise.race([
        outcome,
        new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 10_000).unref()),
      ]);
      expect(result).toMatchObject({ exitCode: 0, timedOut: false });
      expect(output()).toContain('daemon started');
      if (sandbox === 'bwrap') {
        // The pid namespace ends with the command: nothing it started survives.
        await waitNoProcesses('daemon', () => processesWithArg(tag));
      } else {
        // Without bubblewrap a daemon re-parented to init is out of reach (documented).
        killAll(processesWithArg(tag));
      }
    });
  });

  it("recognises bubblewrap's exec failure even when it arrives in pieces", async () => {
    // bubblewrap writes "bwrap: ", the message and ": <reason>\n" separately; a busy machine
    // reads them as separate chunks. A stand-in bwrap makes that happen every time.
    const fakeBin = join(root, 'fake-bin');
    mkdirSync(fakeBin);
    writeFileSync(
      join(fakeBin, 'bwrap'),
      [
        '#!/bin/sh',
        "printf 'bwrap: ' >&2",
        'sleep 0.2',
        "printf 'execvp conveyor-no-such-runner' >&2",
        'sleep 0.2',
        "printf ': No such file or directory\\n' >&2",
        'exit 1',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    const chunks: string[] = [];
    const outcome = await runSandboxed({
      argv: ['conveyor-no-such-runner'],
      cwd: workspace,
      env: { PATH: `${fakeBin}:${PATH}` },
      timeoutMs: 30_000,
      signal: new AbortController().signal,
      sandbox: 'bwrap',
      writable: [workspace],
      hidden: [],
      onOutput: (text) => {
        if (text !== '') chunks.push(text);
      },
    });
    expect(chunks.length).toBeGreaterThan(1);
    expect(outcome).toMatchObject({ exitCode: 1, spawnError: 'No such file or directory' });
  });

  it("does not take a command's own output for an exec failure", async () => {
    const file = script(
      'says-bwrap.js',
      "console.error('ok so far'); console.error('bwrap: execvp x: No such file or directory'); process.exit(1);",
    );
    const outcome = await runSandboxed({
      argv: [node, file],
      cwd: workspace,
      env: { PATH },
      timeoutMs: 30_000,
      signal: new AbortController().signal,
      sandbox: 'bwrap',
      writable: [workspace],
      hidden: [],
      onOutput: () => {},
    });
    expect(outcome).toMatchObject({ exitCode: 1, spawnError: null });
  });

  describe('network', () => {
    let server: Server;
    let port: number;
    let unixServer: Server | undefined;
    const unixTargets: string[] = [];

    beforeAll(async () => {
      server = createServer((socket) => socket.destroy());
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as { port: number }).port;
      // Host services listen on Unix sockets under /run (PostgreSQL, MySQL, Docker...).
      const own = `/run/conveyor-sandbox-${randomBytes(4).toString('hex')}.sock`;
      const candidate = createServer((socket) => socket.destroy());
      const listening = await new Promise<boolean>((resolve) => {
        candidate.once('error', () => resolve(false));
        candidate.listen(own, () => resolve(true));
      });
      if (listening) {
        unixServer = candidate;
        unixTargets.push(own);
      }
      const postgres = '/run/postgresql/.s.PGSQL.5432';
      if (existsSync(postgres)) unixTargets.push(postgres);
    });
    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve));
      if (unixServer) await new Promise((resolve) => unixServer?.close(resolve));
    });

    async function probe(sandbox: 'none' | 'bwrap'): Promise<Record<string, string>> {
      const file = script('probe.js', probeScript({ tcp: [port], unix: unixTargets }));
      let output = '';
      const outcome = await runSandboxed({
        argv: [node, file],
        cwd: workspace,
        env: { PATH },
        timeoutMs: 30_000,
        signal: new AbortController().signal,
        sandbox,
        writable: [workspace],
        hidden: [],
        onOutput: (text) => {
          output += text;
        },
      });
      expect(outcome.exitCode).toBe(0);
      const line = /^PROBE (.+)$/m.exec(output);
      if (!line) throw new Error(`no probe result in: ${output}`);
      return JSON.parse(line[1]) as Record<string, string>;
    }

    it('needs a Unix socket under /run to test (one of its own, or PostgreSQL)', () => {
      expect(unixTargets.length).toBeGreaterThan(0);
    });

    it('without a sandbox, reaches the host over TCP and Unix sockets (the control)', async () => {
      const result = await probe('none');
      for (const value of Object.values(result)) expect(value).toBe('connected');
      expect(Object.keys(result)).toHaveLength(1 + unixTargets.length);
    });

    it('under bubblewrap, reaches neither TCP ports nor Unix sockets of the host', async () => {
      const result = await probe('bwrap');
      expect(Object.keys(result)).toHaveLength(1 + unixTargets.length);
      for (const [target, value] of Object.entries(result)) {
        expect({ target, value }).toEqual({
          target,
          value: expect.not.stringMatching(/connected/),
        });
      }
    });
  });

  describe('filesystem under bubblewrap', () => {
    const outsideDirs: string[] = [];
    afterAll(() => outsideDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

    it('lets the command write only where allowed, and hides the hidden directories', async () => {
      // Outside /tmp, which the sandbox replaces anyway.
      const outside = mkdtempSync('/var/tmp/conveyor-sandbox-');
      outsideDirs.push(outside);
      const hidden = join(outside, 'server-files');
      const readonly = join(outside, 'elsewhere');
      mkdirSync(hidden);
      mkdirSync(readonly);
      writeFileSync(join(hidden, '.env'), 'JWT_SECRET=do-not-show');
      const file = script(
        'fs.js',
        [
          "const fs = require('node:fs');",
          'const attempt = (fn) => { try { fn(); return "ok"; } catch (e) { return e.code; } };',
          'console.log(JSON.stringify({',
          `  workspace: attempt(() => fs.writeFileSync('written.txt', 'x')),`,
          `  elsewhere: attempt(() => fs.writeFileSync(${JSON.stringify(join(readonly, 'x'))}, 'x')),`,
          `  hidden: fs.readdirSync(${JSON.stringify(hidden)}),`,
          '}));',
        ].join('\n'),
      );
      let output = '';
      const outcome = await runSandboxed({
        argv: [node, file],
        cwd: workspace,
        env: { PATH },
        timeoutMs: 30_000,
        signal: new AbortController().signal,
        sandbox: 'bwrap',
        writable: [workspace],
        hidden: [hidden],
        onOutput: (text) => {
          output += text;
        },
      });
      expect(outcome.exitCode).toBe(0);
      expect(JSON.parse(output)).toEqual({ workspace: 'ok', elsewhere: 'EROFS', hidden: [] });
      expect(existsSync(join(workspace, 'written.txt'))).toBe(true);
      expect(existsSync(join(readonly, 'x'))).toBe(false);
    });
  });
});
