import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** Read-only accounting from /proc (Linux): CPU ticks per process, RSS, whole-machine busy time. */

const TICKS_PER_SEC = 100; // USER_HZ

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function ticks(pid: number): number {
  const stat = read(`/proc/${pid}/stat`);
  if (stat === undefined) return 0;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

export function pidsByComm(pattern: RegExp): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => pattern.test((read(`/proc/${pid}/comm`) ?? '').trim()));
}

/** VmRSS and VmHWM (peak) of a process, in MiB; undefined when it is gone. */
export function memoryOf(pid: number): { rssMiB: number; peakMiB: number } | undefined {
  const status = read(`/proc/${pid}/status`);
  if (status === undefined) return undefined;
  const kb = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
  return { rssMiB: round(kb('VmRSS') / 1024, 1), peakMiB: round(kb('VmHWM') / 1024, 1) };
}

export type PidGroups = Record<string, () => number[]>;

interface Snapshot {
  at: number;
  busy: number;
  total: number;
  /** CPU ticks of each process of each group. */
  groups: Record<string, Map<number, number>>;
}

function machine(): { busy: number; total: number } {
  const line = (read('/proc/stat') ?? 'cpu 0 0 0 0').split('\n')[0] ?? '';
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((a, b) => a + b, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: total - idle, total };
}

export function snapshot(groups: PidGroups): Snapshot {
  const out: Snapshot = { at: performance.now(), ...machine(), groups: {} };
  for (const [name, pids] of Object.entries(groups)) {
    out.groups[name] = new Map(pids().map((pid) => [pid, ticks(pid)]));
  }
  return out;
}

/** CPU use between two snapshots, in % of one core (200 = both cores of a 2-core machine). */
export function cpuBetween(a: Snapshot, b: Snapshot): Record<string, number> {
  const secs = (b.at - a.at) / 1000;
  const result: Record<string, number> = {};
  for (const name of Object.keys(a.groups)) {
    // Per process: one that exited in between takes its ticks along (the sum would go down,
    // even below zero); one that started in between counts from zero.
    let used = 0;
    for (const [pid, after] of b.groups[name] ?? [])
      used += after - (a.groups[name]?.get(pid) ?? 0);
    result[name] = Math.round((used / TICKS_PER_SEC / secs) * 100);
  }
  const cores = Math.max(1, cpus().length);
  const dt = b.total - a.total;
  result.machineBusy = dt > 0 ? Math.round(((b.busy - a.busy) / dt) * 100 * cores) : 0;
  return result;
}

export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((x, y) => x - y);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return round(sorted[index] ?? 0, 1);
}

export function round(value: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
