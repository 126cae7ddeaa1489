import { existsSync } from 'node:fs';
import { Child } from './child';

export interface BareStep {
  offered: number;
  completedPerSec: number;
  p50: number;
  p99: number;
  errors: number;
  done: number;
  sent: number;
  /** % of one core per process group during the send window, from its CPU table. */
  cpu?: Record<string, number>;
}

export interface BareResult {
  clients: number;
  workerConcurrency: number;
  stepSeconds: number;
  rates: BareStep[];
}

export interface BareOptions {
  script: string;
  rates: readonly number[];
  seconds: number;
  clients: number;
  concurrency: number;
  onLine: (line: string) => void;
}

/** Runs the bare reference (`run.sh rates seconds clients concurrency`) and reads its RESULT line. */
export async function runBare(options: BareOptions): Promise<BareResult> {
  if (!existsSync(options.script)) throw new Error(`${options.script} not found`);
  const { rates, seconds } = options;
  // npm ci on first use, 5 s warm-up, each step plus its drain (≤ 30 s) and the sockets' connects.
  const timeoutMs =
    (300 + 10 + rates.length * (seconds + 40) + Math.ceil(options.clients / 200) * 10) * 1000;
  let result: BareResult | undefined;
  const cpu = new Map<number, Record<string, number>>();
  let inCpuTable = false;
  const child = new Child(
    'bare pipeline',
    'bash',
    [
      options.script,
      rates.join(','),
      String(seconds),
      String(options.clients),
      String(options.concurrency),
    ],
    {
      group: true,
      onLine: (line) => {
        if (line.startsWith('CPU % of one core')) inCpuTable = true;
        else if (inCpuTable && /^\d+\s/.test(line)) cpu.set(...cpuRow(line));
        else inCpuTable = false;
        if (line.startsWith('RESULT ')) result = JSON.parse(line.slice(7)) as BareResult;
        options.onLine(line);
      },
    },
  );
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([
    child.exited,
    new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs))),
  ]);
  clearTimeout(timer);
  if (exit === 'timeout') {
    await child.stop(10_000);
    throw new Error(`bare pipeline still running after ${timeoutMs / 1000} s\n${child.describe()}`);
  }
  if (!result) {
    throw new Error(
      `bare pipeline printed no RESULT line (exit ${exit.code})\n${child.describe()}`,
    );
  }
  for (const step of result.rates) step.cpu = cpu.get(step.offered);
  return result;
}

/** `500    api 12  worker 5  redis 9 …` → [500, { api: 12, worker: 5, redis: 9, … }]. */
function cpuRow(line: string): [number, Record<string, number>] {
  const [rate = '0', ...pairs] = line.trim().split(/\s+/);
  const row: Record<string, number> = {};
  for (let i = 0; i + 1 < pairs.length; i += 2) row[pairs[i] ?? ''] = Number(pairs[i + 1]);
  return [Number(rate), row];
}
