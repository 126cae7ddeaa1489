import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import calculateSlot from 'cluster-key-slot';
import Redis from 'ioredis';
import { freePort } from './ports';
import { redisServerReady, spawnRedisServer } from './redis-server';
import { waitFor } from './wait';

export interface RedisClusterOptions {
  masters?: number;
  replicasPerMaster?: number;
  /** cluster-node-timeout: how long a silent node takes to be flagged failed (failover speed). */
  nodeTimeoutMs?: number;
}

/** The slot Redis Cluster (and ioredis) routes this key to. */
export function clusterSlotOf(key: string): number {
  return calculateSlot(key);
}

const SLOTS = 16384;
// The cluster bus listens at port + 10000, and both must be valid TCP ports.
const BUS_OFFSET = 10_000;
const MAX_PORT = 65_535 - BUS_OFFSET;

interface SlotRange {
  from: number;
  to: number;
  masterPort: number;
  masterId: string;
  replicaPorts: number[];
}

interface ClusterNode {
  port: number;
  pid: number;
  child: ChildProcess;
  exited: Promise<void>;
}

interface KilledMaster {
  killedAt: number;
  slot: number;
  replicaPorts: number[];
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A port whose cluster bus port is free too, not among those already taken. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = await freePort();
    if (port >= MAX_PORT || taken.has(port) || taken.has(port + BUS_OFFSET)) continue;
    if (taken.has(port - BUS_OFFSET)) continue;
    if (await portIsFree(port + BUS_OFFSET)) return port;
  }
  throw new Error(`no free port below ${MAX_PORT} with a free bus port`);
}

/** One command on one node over a connection that never retries, so a dead node fails fast. */
async function nodeCommand(port: number, command: string, ...args: string[]): Promise<unknown> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    connectTimeout: 1_000,
    commandTimeout: 1_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await client.call(command, ...args);
  } finally {
    client.disconnect();
  }
}

function infoField(info: string, field: string): string | undefined {
  return new RegExp(`^${field}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

function parseSlots(reply: unknown): SlotRange[] {
  if (!Array.isArray(reply)) throw new Error(`unexpected CLUSTER SLOTS reply: ${String(reply)}`);
  return reply
    .map((entry: unknown[]) => {
      const [from, to, master, ...replicas] = entry as [number, number, unknown[], ...unknown[][]];
      return {
        from,
        to,
        masterPort: Number(master[1]),
        masterId: String(master[2]),
        replicaPorts: replicas.map((replica) => Number(replica[1])).sort((a, b) => a - b),
      };
    })
    .sort((a, b) => a.from - b.from);
}

/**
 * A private Redis Cluster of local redis-server children (masters with their replicas), for
 * specs that need real slot routing, MOVED redirections and failover.
 */
export class RedisCluster {
  readonly nodes: { port: number; pid: number }[];
  private readonly killed = new Map<number, KilledMaster | undefined>();
  private stopping: Promise<void> | undefined;
  private readonly killOnExit = () => {
    for (const node of this.children) node.child.kill('SIGKILL');
  };

  private constructor(
    private readonly dir: string,
    private readonly children: ClusterNode[],
  ) {
    this.nodes = children.map(({ port, pid }) => ({ port, pid }));
    process.once('exit', this.killOnExit);
  }

  static async start(opts: RedisClusterOptions = {}): Promise<RedisCluster> {
    const { masters = 3, replicasPerMaster = 1, nodeTimeoutMs = 1_500 } = opts;
    if (masters < 3) throw new Error('Redis Cluster needs at least 3 masters');
    const dir = mkdtempSync(join(tmpdir(), 'conveyor-redis-cluster-'));
    const children: ClusterNode[] = [];
    const cluster = new RedisCluster(dir, children);
    try {
      const taken = new Set<number>();
      for (let i = 0; i < masters * (1 + replicasPerMaster); i++) {
        const node = await startNode(dir, nodeTimeoutMs, taken);
        children.push(node);
        cluster.nodes.push({ port: node.port, pid: node.pid });
      }
      await createCluster(
        children.map((node) => node.port),
        replicasPerMaster,
      );
      await cluster.waitUntilConsistent(
        children.map((node) => node.port),
        masters,
        replicasPerMaster,
      );
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  /** The REDIS_CLUSTER_NODES value: every node, `127.0.0.1:port` joined by commas. */
  get nodeList(): string {
    return this.nodes.map((node) => `127.0.0.1:${node.port}`).join(',');
  }

  /** Ports of the nodes that serve slots now, as a live node sees it. */
  async masterPorts(): Promise<number[]> {
    const ranges = await this.slotRanges();
    return [...new Set(ranges.map((range) => range.masterPort))].sort((a, b) => a - b);
  }

  /** Port of the master serving this slot now, as a live node sees it. */
  async masterOfSlot(slot: number): Promise<number> {
    const range = (await this.slotRanges()).find((r) => r.from <= slot && slot <= r.to);
    if (!range) throw new Error(`slot ${slot} is not served`);
    return range.masterPort;
  }

  /** Kills one node; when it was a master, remembers its replicas for waitForFailover. */
  async killNode(port: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const node = this.children.find((n) => n.port === port);
    if (!node) throw new Error(`no node on port ${port}`);
    const range = (await this.slotRanges()).find((r) => r.masterPort === port);
    node.child.kill(signal);
    await node.exited;
    this.killed.set(
      port,
      range && { killedAt: Date.now(), slot: range.from, replicaPorts: range.replicaPorts },
    );
  }

  /**
   * Waits until a replica of the killed master serves its slots and every surviving node reports
   * cluster_state:ok with the same slot map; recoveredInMs counts from the kill.
   */
  async waitForFailover(
    deadPort: number,
    timeoutMs: number,
  ): Promise<{ newMasterPort: number; recoveredInMs: number }> {
    if (!this.killed.has(deadPort)) throw new Error(`node ${deadPort} was not killed`);
    const dead = this.killed.get(deadPort);
    if (!dead)
      throw new Error(`node ${deadPort} served no slots: there is no failover to wait for`);
    const survivors = this.livePorts();
    const newMasterPort = await waitFor(
      `a replica of ${deadPort} promoted and cluster_state:ok on ${survivors.join(',')}`,
      async () => {
        const views = await Promise.all(survivors.map((port) => this.nodeView(port)));
        if (!views.every((view) => view.ok)) return undefined;
        const maps = views.map((view) => JSON.stringify(masterMap(view.ranges)));
        if (maps.some((map) => map !== maps[0])) return undefined;
        const owner = views[0].ranges.find((r) => r.from <= dead.slot && dead.slot <= r.to);
        return owner && dead.replicaPorts.includes(owner.masterPort) ? owner.masterPort : undefined;
      },
      timeoutMs,
    );
    return { newMasterPort, recoveredInMs: Date.now() - dead.killedAt };
  }

  /** Kills every node and removes their directory; a second call waits for the first. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      process.off('exit', this.killOnExit);
      for (const node of this.children) node.child.kill('SIGKILL');
      await Promise.all(this.children.map((node) => node.exited));
      rmSync(this.dir, { recursive: true, force: true });
    })();
    return this.stopping;
  }

  private livePorts(): number[] {
    return this.children.map((node) => node.port).filter((port) => !this.killed.has(port));
  }

  private async slotRanges(): Promise<SlotRange[]> {
    let lastError: unknown;
    for (const port of this.livePorts()) {
      try {
        return parseSlots(await nodeCommand(port, 'CLUSTER', 'SLOTS'));
      } catch (error) {
        lastError = error;
      }
    }
    throw new Error(`no live node answered CLUSTER SLOTS: ${String(lastError)}`);
  }

  private async nodeView(port: number): Promise<{ ok: boolean; ranges: SlotRange[] }> {
    const info = String(await nodeCommand(port, 'CLUSTER', 'INFO'));
    const ok =
      infoField(info, 'cluster_state') === 'ok' &&
      infoField(info, 'cluster_slots_ok') === String(SLOTS);
    return { ok, ranges: ok ? parseSlots(await nodeCommand(port, 'CLUSTER', 'SLOTS')) : [] };
  }

  /** Every node: state ok, the same masters and replicas per slot range, replication links up. */
  private async waitUntilConsistent(
    ports: number[],
    masters: number,
    replicasPerMaster: number,
  ): Promise<void> {
    await waitFor(
      `cluster_state:ok and one slot map on ${ports.join(',')}`,
      async () => {
        const views = await Promise.all(ports.map((port) => this.nodeView(port)));
        if (!views.every((view) => view.ok)) return false;
        const maps = views.map((view) => JSON.stringify(view.ranges));
        if (maps.some((map) => map !== maps[0])) return false;
        const ranges = views[0].ranges;
        if (new Set(ranges.map((r) => r.masterPort)).size !== masters) return false;
        if (ranges.some((r) => r.replicaPorts.length !== replicasPerMaster)) return false;
        const replicas = [...new Set(ranges.flatMap((r) => r.replicaPorts))];
        // A replica that never synced refuses to fail over (its data counts as too old).
        const links = await Promise.all(
          replicas.map(async (port) =>
            infoField(String(await nodeCommand(port, 'INFO', 'replication')), 'master_link_status'),
          ),
        );
        return links.every((status) => status === 'up');
      },
      30_000,
    );
  }
}

function masterMap(ranges: SlotRange[]): [number, number, number][] {
  return ranges.map((r) => [r.from, r.to, r.masterPort]);
}

async function startNode(
  dir: string,
  nodeTimeoutMs: number,
  taken: Set<number>,
): Promise<ClusterNode> {
  let lastError: unknown;
  // Another process may take a port between the check and redis-server's bind: pick again.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await clusterPort(taken);
    try {
      const node = await spawnNode(dir, port, nodeTimeoutMs);
      taken.add(port);
      taken.add(port + BUS_OFFSET);
      return node;
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

async function spawnNode(dir: string, port: number, nodeTimeoutMs: number): Promise<ClusterNode> {
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    join(dir, `nodes-${port}.conf`),
    '--cluster-node-timeout',
    String(nodeTimeoutMs),
    '--appendonly',
    'no',
    // Defaults tuned for slow start: a replica's first sync waits 5 s for company, and CLUSTER
    // SLOTS lists a replica only once its master's replication ping (every 10 s) gave it an offset.
    '--repl-diskless-sync-delay',
    '0',
    '--repl-ping-replica-period',
    '1',
    '--save',
    '',
    '--dir',
    dir,
  ];
  const server = spawnRedisServer(args);
  const { child } = server;
  const node: ClusterNode = {
    port,
    pid: child.pid ?? -1,
    child,
    exited: new Promise((resolve) => child.once('close', () => resolve())),
  };
  await redisServerReady(server, `redis-server ${port}`);
  return node;
}

function createCluster(ports: number[], replicasPerMaster: number): Promise<void> {
  const args = [
    '--cluster',
    'create',
    ...ports.map((port) => `127.0.0.1:${port}`),
    '--cluster-replicas',
    String(replicasPerMaster),
    '--cluster-yes',
  ];
  return new Promise((resolve, reject) => {
    execFile('redis-cli', args, { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`redis-cli --cluster create failed:\n${stdout}${stderr}`));
      else resolve();
    });
  });
}
