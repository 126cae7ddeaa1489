import { loadConfig } from '../config/app-config';
import { JobRegistry } from '../core/job-registry';
import type { JobKind, JobProcessor } from '../core/job.types';
import { JOB_KINDS } from '../job-kinds';
import { buildTools } from './mcp-tools';

class Params {}
class Processor implements JobProcessor<Params, null> {
  process(): Promise<null> {
    return Promise.resolve(null);
  }
}

const config = loadConfig({ NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(16) });

describe('buildTools', () => {
  it('offers every registered kind, get_job, cancel_job and search_code', () => {
    const { tools, kinds } = buildTools(new JobRegistry(JOB_KINDS, config));
    expect(tools.map((tool) => tool.name)).toEqual([
      'test_execution',
      'code_generation',
      'pr_creation',
      'indexing',
      'change',
      'get_job',
      'cancel_job',
      'search_code',
    ]);
    expect([...kinds]).toEqual([
      ['test_execution', 'test-execution'],
      ['code_generation', 'code-generation'],
      ['pr_creation', 'pr-creation'],
      ['indexing', 'indexing'],
      ['change', 'change'],
    ]);
    for (const tool of tools.slice(0, 5)) {
      expect(tool.execution).toEqual({ taskSupport: 'optional' });
      expect(tool.inputSchema.required?.[0]).toBe('projectId');
    }
  });

  it.each(['search-code', 'get-job', 'cancel-job'])(
    'refuses a kind named %s: its tool name is taken',
    (name) => {
      const kind: JobKind = { name, params: Params, processor: Processor };
      expect(() => buildTools(new JobRegistry([kind], config))).toThrow(
        `Job kind "${name}": its MCP tool name ${name.replace('-', '_')} is taken`,
      );
    },
  );
});
