import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const IDLE = new Set(['(idle)']);

/** Where a function lives: an npm package, a Conveyor folder, node's own code or the VM. */
function area(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node (core modules)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1] ?? url;
  const own = /dist-bench\/(src\/[^/]+|bench)\//.exec(url);
  if (own) return `conveyor ${own[1]}`;
  return url.replace(/^file:\/\//, '');
}

export interface ProfileSummary {
  busyMs: number;
  areas: { area: string; ms: number; pct: number }[];
  functions: { fn: string; ms: number; pct: number }[];
}

/** Self time per area and per function, over the non-idle samples of a .cpuprofile. */
export function summariseProfile(file: string, top = 12): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const micros = profile.timeDeltas[i] ?? 0;
    if (!node || IDLE.has(node.callFrame.functionName)) return;
    busy += micros;
    const where = area(node.callFrame);
    areas.set(where, (areas.get(where) ?? 0) + micros);
    const file = node.callFrame.url.split('/').slice(-1)[0] ?? '';
    const fn = `${node.callFrame.functionName || '(anonymous)'} ${where}${file ? ` ${file}:${node.callFrame.lineNumber + 1}` : ''}`;
    functions.set(fn, (functions.get(fn) ?? 0) + micros);
  });
  const rank = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, micros]) => ({
        name,
        ms: Math.round(micros / 1000),
        pct: busy > 0 ? Math.round((micros / busy) * 1000) / 10 : 0,
      }));
  return {
    busyMs: Math.round(busy / 1000),
    areas: rank(areas).map(({ name, ms, pct }) => ({ area: name, ms, pct })),
    functions: rank(functions).map(({ name, ms, pct }) => ({ fn: name, ms, pct })),
  };
}
