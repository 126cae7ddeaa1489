import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

interface Probe {
  filePath: string;
  code: string;
}

const PROBES = {
  upward: {
    filePath: 'src/core/layer-probe.ts',
    code: "import { ProjectRepository } from '../projects/project.repository';",
  },
  typeOnly: {
    filePath: 'src/core/dto/layer-probe.ts',
    code: "import type { JobView } from '../../http/dto/job.view';",
  },
  srcRooted: {
    filePath: 'src/core/layer-probe.ts',
    code: "import { createValidationPipe } from 'src/http/validation';",
  },
  rootFile: {
    filePath: 'src/kinds/indexing/layer-probe.ts',
    code: "import { JOB_KINDS } from '../../job-kinds';",
  },
  downward: {
    filePath: 'src/core/layer-probe.ts',
    code: [
      "import { guardDependency } from '../common/dependency.errors';",
      "import { APP_CONFIG } from '../config/app-config';",
      "import { RedisService } from '../redis/redis.service';",
      "import { JobRepository } from './job.repository';",
    ].join('\n'),
  },
  intoCore: {
    filePath: 'src/projects/layer-probe.ts',
    code: "import { JobProjects } from '../core/job-projects';",
  },
  topLevel: {
    filePath: 'src/mcp/layer-probe.ts',
    code: "import { UserEventFeed } from '../realtime/user-event-feed';",
  },
} satisfies Record<string, Probe>;

// ESLint loads its flat config with a dynamic import, which Jest's module VM refuses: a real
// node process runs it. Type-aware rules are off so the probe files need not exist.
const LINT = `
const { ESLint } = require('eslint');
const tseslint = require('typescript-eslint');
const eslint = new ESLint({
  overrideConfigFile: 'eslint.config.mjs',
  overrideConfig: tseslint.configs.disableTypeChecked,
  ruleFilter: ({ ruleId }) => ruleId === 'no-restricted-imports',
});
const probes = Object.entries(JSON.parse(process.env.PROBES));
Promise.all(
  probes.map(async ([name, { filePath, code }]) => {
    const [result] = await eslint.lintText(code + '\\n', { filePath });
    return [name, result.messages.map((m) => m.ruleId + ': ' + m.message)];
  }),
).then((found) => process.stdout.write(JSON.stringify(Object.fromEntries(found))));
`;

describe('the layer rule (eslint.config.mjs)', () => {
  let problems: Record<keyof typeof PROBES, string[]>;

  beforeAll(async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', LINT], {
      cwd: `${__dirname}/../..`,
      env: { ...process.env, PROBES: JSON.stringify(PROBES) },
    });
    problems = JSON.parse(stdout) as typeof problems;
  });

  it('reports an upward import from the core, saying which way layers run', () => {
    expect(problems.upward).toEqual([
      expect.stringMatching(
        /^no-restricted-imports: '..\/projects\/project.repository' .*layers import downwards only: src\/core may not import .*projects/,
      ),
    ]);
  });

  it('reports a type-only, a src/-rooted and a root-file import from below', () => {
    expect(problems.typeOnly).toHaveLength(1);
    expect(problems.srcRooted).toHaveLength(1);
    expect(problems.rootFile).toHaveLength(1);
  });

  it('lets the core import its own layer and those below it', () => {
    expect(problems.downward).toEqual([]);
  });

  it('lets a layer above import the core, and the top level import itself', () => {
    expect(problems.intoCore).toEqual([]);
    expect(problems.topLevel).toEqual([]);
  });
});
