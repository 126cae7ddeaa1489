import { loadConfig } from './app-config';

const base = { NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(16), QUEUE_PREFIX: 'cv' };

describe('EXTERNAL_KINDS', () => {
  it('is empty by default', () => {
    expect(loadConfig(base).externalKinds).toEqual([]);
  });

  it('reads each kind with its defaults and overrides', () => {
    const config = loadConfig({
      ...base,
      JOB_TIMEOUT_MS: '60000',
      EXTERNAL_KINDS: ' spin-up , rebalance ',
      EXTERNAL_REBALANCE_ITEM: 'id',
      EXTERNAL_REBALANCE_LIST: 'agent:rebalance:jobs',
      EXTERNAL_REBALANCE_STATUS_CHANNEL: 'agent:rebalance:status',
      EXTERNAL_REBALANCE_TIMEOUT_MS: '5000',
    });
    expect(config.externalKinds).toEqual([
      {
        name: 'spin-up',
        list: 'cv:external:spin-up',
        item: 'json',
        statusChannel: null,
        timeoutMs: 60000,
      },
      {
        name: 'rebalance',
        list: 'agent:rebalance:jobs',
        item: 'id',
        statusChannel: 'agent:rebalance:status',
        timeoutMs: 5000,
      },
    ]);
  });

  it.each([
    [{ EXTERNAL_KINDS: 'Bad_Kind' }, 'EXTERNAL_KINDS has "Bad_Kind", which is not a kind name'],
    [{ EXTERNAL_KINDS: 'a,a' }, 'EXTERNAL_KINDS names "a" twice'],
    [
      { EXTERNAL_KINDS: 'spin-up', EXTERNAL_SPIN_UP_ITEM: 'xml' },
      'EXTERNAL_SPIN_UP_ITEM must be one of json, id (got "xml")',
    ],
    [
      { EXTERNAL_KINDS: 'a', EXTERNAL_A_TIMEOUT_MS: 'soon' },
      'EXTERNAL_A_TIMEOUT_MS must be an integer',
    ],
    [{ EXTERNAL_KINDS: 'a', EXTERNAL_A_TIMEOUT_MS: '5' }, 'EXTERNAL_A_TIMEOUT_MS must be between'],
    [{ EXTERNAL_KINDS: 'a', EXTERNAL_A_LIST: 'has space' }, 'EXTERNAL_A_LIST must be 1-256'],
    [{ EXTERNAL_KINDS: 'a', EXTERNAL_A_LIST: 'jobs{}:a}' }, 'EXTERNAL_A_LIST has a "}" outside'],
    [
      { EXTERNAL_KINDS: 'a,b', EXTERNAL_B_LIST: 'cv:external:a' },
      'EXTERNAL_B_LIST is the list of kind "a" too',
    ],
  ])('refuses a bad value (%#)', (env, message) => {
    expect(() => loadConfig({ ...base, ...env })).toThrow(`Invalid configuration: ${message}`);
  });
});
