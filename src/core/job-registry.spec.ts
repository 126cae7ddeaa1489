import { loadConfig } from '../config/app-config';
import { JobRegistry, UnknownJobKindError } from './job-registry';
import type { JobKind, JobProcessor } from './job.types';

class Params {}
class Processor implements JobProcessor<Params, null> {
  process(): Promise<null> {
    return Promise.resolve(null);
  }
}

const config = loadConfig({ NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(16) });
const kind = (overrides: Partial<JobKind> = {}): JobKind => ({
  name: 'demo',
  params: Params,
  processor: Processor,
  ...overrides,
});

describe('JobRegistry', () => {
  it('resolves policies from the defaults and the kind', () => {
    const registry = new JobRegistry([kind({ policies: { timeoutMs: 1000 } })], config);
    expect(registry.get('demo').policies).toMatchObject({ attempts: 3, timeoutMs: 1000 });
    expect(registry.names()).toEqual(['demo']);
  });

  it('refuses a kind without a processor, naming it', () => {
    expect(() => new JobRegistry([kind({ processor: undefined })], config)).toThrow(
      'Job kind "demo" has no processor',
    );
  });

  it.each([
    [[kind(), kind()], 'Job kind "demo" is registered twice'],
    [[kind({ name: 'Bad Name' })], 'name must be lower-case kebab-case'],
    [[kind({ params: undefined })], 'Job kind "demo" has no params class'],
    [[kind({ policies: { attempts: 0 } })], 'policy attempts must be a positive integer'],
  ])('refuses a bad table (%#)', (kinds, message) => {
    expect(() => new JobRegistry(kinds, config)).toThrow(message);
  });

  it('takes an external kind without a processor, and lists it apart', () => {
    const external = { list: 'jobs', item: 'id' as const, statusChannel: null };
    const registry = new JobRegistry(
      [kind(), kind({ name: 'outside', processor: undefined, external })],
      config,
    );
    expect(registry.internal().map((r) => r.kind.name)).toEqual(['demo']);
    expect(registry.external().map((r) => r.kind.name)).toEqual(['outside']);
    expect(() => new JobRegistry([kind({ external })], config)).toThrow(
      'Job kind "demo" is external and cannot have a processor',
    );
  });

  it('throws a typed error for an unknown kind', () => {
    expect(() => new JobRegistry([], config).get('nope')).toThrow(UnknownJobKindError);
  });
});
