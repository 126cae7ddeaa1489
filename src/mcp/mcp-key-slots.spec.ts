import { randomUUID } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import { taskStoreKeys } from './job-task-store';
import { mcpEventKeys } from './redis-event-store';

/** Redis Cluster refuses a script or MULTI whose keys span slots (docs/redis-cluster.md). */
function slotsOf(keys: string[]): Set<number> {
  return new Set(keys.map((key) => calculateSlot(key)));
}

const b64 = (streamId: string) => Buffer.from(streamId).toString('base64url');

describe('MCP key groups on Redis Cluster', () => {
  const prefix = 'conveyor:mcp';

  it("keeps every key of one session's events in one slot", () => {
    const sessionId = randomUUID();
    const keys = mcpEventKeys(prefix, sessionId);
    const group = [
      keys.seq,
      keys.streams,
      keys.events(b64('_GET_stream')),
      keys.events(b64(randomUUID())),
      keys.events(b64('{other}')),
    ];
    expect(slotsOf(group).size).toBe(1);
    for (const key of group) expect(key.startsWith(`${prefix}:`)).toBe(true);
  });

  it("keeps a user's task keys and task index in one slot", () => {
    const keys = taskStoreKeys(prefix, randomUUID());
    const group = [keys.index, keys.task(randomUUID()), keys.task(randomUUID())];
    expect(slotsOf(group).size).toBe(1);
    for (const key of group) expect(key.startsWith(`${prefix}:`)).toBe(true);
  });

  it('spreads sessions and users over slots rather than one', () => {
    const sessions = Array.from({ length: 20 }, () => mcpEventKeys(prefix, randomUUID()).seq);
    const users = Array.from({ length: 20 }, () => taskStoreKeys(prefix, randomUUID()).index);
    expect(slotsOf(sessions).size).toBeGreaterThan(1);
    expect(slotsOf(users).size).toBeGreaterThan(1);
  });
});
