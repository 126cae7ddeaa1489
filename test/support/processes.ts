import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { waitFor } from './wait';

export interface ProcessInfo {
  pid: number;
  argv: string[];
  /** The working directory as this (host) process sees it; null when unreadable or gone. */
  cwd: string | null;
  /** Pids from the host's pid namespace inwards (NSpid); one entry outside any namespace. */
  nsPids: number[];
}

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function state(pid: number): string | null {
  const stat = read(`/proc/${pid}/stat`);
  return stat === null ? null : (stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? null);
}

/** Every live process visible in /proc (zombies excluded: they run nothing). */
export function processes(): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const cmdline = read(`/proc/${pid}/cmdline`);
    const st = state(pid);
    if (cmdline === null || st === null || st === 'Z' || st === 'X') continue;
    let cwd: string | null = null;
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      // another user's process, or it just ended
    }
    const nsLine = /^NSpid:\s+(.+)$/m.exec(read(`/proc/${pid}/status`) ?? '');
    const nsPids = nsLine ? nsLine[1].trim().split(/\s+/).map(Number) : [pid];
    found.push({ pid, argv: cmdline.split('\0').filter((arg) => arg !== ''), cwd, nsPids });
  }
  return found;
}

/** Processes one of whose arguments contains the marker. */
export function processesWithArg(marker: string): ProcessInfo[] {
  return processes().filter((info) => info.argv.some((arg) => arg.includes(marker)));
}

/** Processes working in the directory or below it. */
export function processesIn(dir: string): ProcessInfo[] {
  return processes().filter(
    (info) => info.cwd !== null && (info.cwd === dir || info.cwd.startsWith(`${dir}/`)),
  );
}

/** Whether the pid names a live (non-zombie) process. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const st = state(pid);
  return st !== null && st !== 'Z' && st !== 'X';
}

function describe(infos: ProcessInfo[]): string {
  return infos.map((info) => `${info.pid} ${info.argv.join(' ')}`).join('; ');
}

/** Waits (bounded) until the finder finds no process; fails naming the survivors. */
export async function waitNoProcesses(
  what: string,
  find: () => ProcessInfo[],
  timeoutMs = 10_000,
): Promise<void> {
  let last: ProcessInfo[] = [];
  try {
    await waitFor(
      `no ${what} to remain`,
      async () => {
        last = find();
        return last.length === 0;
      },
      timeoutMs,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; still running: ${describe(last)}`);
  }
}

/** Test cleanup: SIGKILLs whatever the finder finds (never processes the tests did not start). */
export function killAll(infos: ProcessInfo[]): void {
  for (const { pid } of infos) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
