import { BadRequestException } from '@nestjs/common';
import { ConfigError } from '../config/app-config';
import { EXTERNAL_PARAMS_MAX_BYTES, externalJobKinds, externalParams } from './external-kinds';
import type { JobKind } from './job.types';

const config = {
  name: 'spin-up',
  list: 'jobs',
  item: 'id' as const,
  statusChannel: 'agent:status',
  timeoutMs: 5000,
};

describe('external kinds', () => {
  it('become kinds without a processor, with their runner and timeout', () => {
    const [kind] = externalJobKinds([config], []);
    expect(kind).toMatchObject({
      name: 'spin-up',
      external: { list: 'jobs', item: 'id', statusChannel: 'agent:status' },
      policies: { timeoutMs: 5000 },
    });
    expect(kind?.processor).toBeUndefined();
  });

  it('refuses a name Conveyor runs itself', () => {
    const own = { name: 'spin-up' } as JobKind;
    expect(() => externalJobKinds([config], [own])).toThrow(ConfigError);
    expect(() => externalJobKinds([config], [own])).toThrow(
      'EXTERNAL_KINDS names "spin-up", a kind Conveyor runs itself',
    );
  });

  it('take any JSON object as params, up to 64 KiB', () => {
    expect(externalParams({ a: [1, { b: null }] })).toEqual({ a: [1, { b: null }] });
    for (const bad of [null, [], 'text', 3]) {
      expect(() => externalParams(bad)).toThrow('params must be a JSON object');
    }
    const big = { blob: 'x'.repeat(EXTERNAL_PARAMS_MAX_BYTES) };
    expect(() => externalParams(big)).toThrow(BadRequestException);
    expect(() => externalParams(big)).toThrow(/at most 65536 bytes of JSON \(got 65547\)/);
  });
});
