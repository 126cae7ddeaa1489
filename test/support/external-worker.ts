import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import type { Cluster } from 'ioredis';

/** The JSON job item (docs/external-workers.md#external-kinds). */
export interface JsonJobItem {
  jobId: string;
  streamId: string;
  project_id: string;
  user_id: string;
  request_id: string | null;
  toolName: string;
  params: Record<string, unknown>;
}

/** An agent's list and status channel, outside the stack's prefix as a deployment may name them. */
export function rebalanceAgentNames(): { list: string; channel: string } {
  const agent = `t-agent-${randomBytes(4).toString('hex')}`;
  return { list: `${agent}:rebalance:jobs`, channel: `${agent}:rebalance:status` };
}

/** BRPOP as an external worker does; bounded so a missing push fails the test. */
export async function popJobItem(popper: Redis | Cluster, list: string): Promise<string> {
  const popped = await popper.brpop(list, 10);
  if (!popped) throw new Error(`nothing pushed to ${list} within 10 s`);
  return popped[1];
}

/**
 * What a JSON-item worker publishes on the item's streamId: two progress reports, then the final
 * message. How many subscribers got the first.
 */
export async function sendStreamReports(
  publisher: Redis,
  streamId: string,
  isError: boolean,
): Promise<number> {
  const send = (message: object) => publisher.publish(streamId, JSON.stringify(message));
  const received = await send({ message: 'Starting job...', progress: 0 });
  await send({ message: 'Half way done...', progress: 50 });
  await send({
    complete: true,
    content: isError ? 'Failed to create project: disk full' : 'Project created successfully!',
    isError,
  });
  return received;
}

/**
 * What an agent publishes on its status channel: processing, then done (or error with `fail`).
 * How many subscribers got the first.
 */
export async function sendAgentReports(
  publisher: Redis,
  channel: string,
  report: { jobId: string; userId: string; fail?: string },
): Promise<number> {
  const { jobId, userId, fail } = report;
  const send = (status: string, extra: object = {}) =>
    publisher.publish(channel, JSON.stringify({ jobId, status, userId, ...extra }));
  const received = await send('processing');
  if (fail === undefined) await send('done');
  else await send('error', { error: fail });
  return received;
}
