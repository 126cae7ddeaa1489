import { QueueKeys } from 'bullmq';
import calculateSlot from 'cluster-key-slot';
import { parseExternalKinds } from '../config/external-kinds.config';
import { externalKindKeys } from '../core/external-queue.service';
import { metricsKeys } from '../core/job-metrics.service';
import { workspaceLeaseKeys } from '../core/workspace-lock.service';
import { queuePrefix } from '../redis/redis-keys';
import { circuitKeys } from './llm-circuit-breaker.service';

// Here rather than in src/redis: the key builders live beside their services, above that layer.

const PREFIXES = ['conveyor', 'cv', 'a.b-c_9'];
/** Forty ids: untagged, their keys would fall on many slots. */
const IDS = Array.from({ length: 40 }, (_, i) => `0000${i.toString(16)}-7c1e-4a8e-9d2f-${i}`);
const KINDS = ['echo', 'code-generation', 'spin-up'];
const PROVIDERS = ['anthropic', 'openai', 'ollama'];
const LISTS = [
  'cv:external:spin-up',
  'agent:rebalance:jobs',
  '{jobs}:rebalance',
  'agent:{rebalance}:jobs',
  'open{brace',
  'two{tags}{here}',
  'a}{b}',
];
/** Redis hashes all of these, `}` included, which no tag can hold: start-up refuses them. */
const UNTAGGABLE = ['a{}b{c}', '{}{x}', 'x}y', 'x}y{}'];

function slotsOf(keys: readonly string[]): number[] {
  return [...new Set(keys.map((key) => calculateSlot(key)))];
}

function expectOneSlot(group: string, keys: readonly string[]): void {
  expect({ group, keys, slots: slotsOf(keys).length }).toEqual({ group, keys, slots: 1 });
}

describe('Redis Cluster key groups: each on one slot', () => {
  it('the ids spread over many slots, so a group on one slot is the tag at work', () => {
    for (const prefix of PREFIXES) {
      expect(slotsOf(IDS.map((id) => `${prefix}:workspace-lock:${id}`)).length).toBeGreaterThan(30);
    }
  });

  it.each(PREFIXES)('a project workspace lease, its waiters and their counter (%s)', (prefix) => {
    const slots = new Set<number>();
    for (const id of IDS) {
      const keys = workspaceLeaseKeys(prefix, id);
      expectOneSlot(`workspace ${id}`, [keys.lease, keys.waiters, keys.waitersSeq]);
      slots.add(calculateSlot(keys.lease));
    }
    // Projects still spread over the cluster.
    expect(slots.size).toBeGreaterThan(30);
  });

  it.each(PREFIXES)("an external kind's keys, in its list's slot (%s)", (prefix) => {
    for (const list of [...LISTS, `${prefix}:external:spin-up`]) {
      for (const kind of KINDS) {
        const keys = externalKindKeys(prefix, list, kind);
        expect(keys[0]).toBe(list);
        expectOneSlot(`external ${kind} on ${list}`, keys);
      }
    }
  });

  it.each(UNTAGGABLE)('a list name no tag can share a slot with is refused (%s)', (list) => {
    expect(() =>
      parseExternalKinds({ EXTERNAL_KINDS: 'a', EXTERNAL_A_LIST: list }, 'cv', 1000),
    ).toThrow('EXTERNAL_A_LIST has a "}" outside a hash tag');
    expect(slotsOf(externalKindKeys('cv', list, 'a')).length).toBeGreaterThan(1);
  });

  it('two kinds whose lists share a tag keep their keys apart', () => {
    const a = externalKindKeys('cv', '{jobs}:a', 'a');
    const b = externalKindKeys('cv', '{jobs}:b', 'b');
    expect(a.filter((key) => b.includes(key))).toEqual([]);
  });

  it.each(PREFIXES)("an LLM provider's circuit (%s)", (prefix) => {
    for (const provider of PROVIDERS) {
      const keys = circuitKeys(prefix, provider);
      expectOneSlot(`circuit ${provider}`, [keys.failures, keys.open]);
    }
  });

  it.each(PREFIXES)('the job metrics hashes (%s)', (prefix) => {
    expectOneSlot('metrics', Object.values(metricsKeys(prefix)));
  });

  it.each(PREFIXES)("a kind's BullMQ queue keys and its jobs' keys (%s)", (prefix) => {
    for (const kind of KINDS) {
      const bull = new QueueKeys(queuePrefix(prefix, kind));
      const queueKeys = Object.values(bull.getKeys(kind)).filter((key) => key !== '');
      const jobKeys = IDS.flatMap((id) =>
        ['', ':lock', ':logs', ':dependencies', ':processed'].map((part) =>
          bull.toKey(kind, `${id}${part}`),
        ),
      );
      const named = ['wait', 'active', 'meta', 'id', 'events'].map((part) =>
        bull.toKey(kind, part),
      );
      expect(named.every((key) => queueKeys.includes(key))).toBe(true);
      expectOneSlot(`queue ${kind}`, [...queueKeys, ...jobKeys]);
    }
  });
});
