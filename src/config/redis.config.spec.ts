import { ConfigError } from './env-readers';
import { parseRedisConfig } from './redis.config';

describe('parseRedisConfig', () => {
  it('connects to one Redis unless REDIS_CLUSTER_NODES is set', () => {
    expect(parseRedisConfig({})).toEqual({
      redisUrl: 'redis://127.0.0.1:6379',
      redisCluster: null,
    });
  });

  it('reads the cluster seed nodes as host:port entries', () => {
    const { redisCluster } = parseRedisConfig({
      REDIS_CLUSTER_NODES: ' 10.0.0.1:7000, redis-b.internal:7001 ,[::1]:7002,',
    });
    expect(redisCluster).toEqual({
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: 'redis-b.internal', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      tls: false,
    });
  });

  it('takes credentials and TLS from a URL entry', () => {
    const { redisCluster } = parseRedisConfig({
      REDIS_CLUSTER_NODES: 'rediss://app:s%40cret@clustercfg.example:6379,node-2.example:6379',
    });
    expect(redisCluster).toEqual({
      nodes: [
        { host: 'clustercfg.example', port: 6379 },
        { host: 'node-2.example', port: 6379 },
      ],
      username: 'app',
      password: 's@cret',
      tls: true,
    });
  });

  it('takes credentials and TLS from REDIS_URL when the entries are bare', () => {
    const { redisCluster } = parseRedisConfig({
      REDIS_URL: 'rediss://default:pw@ignored.example:6380',
      REDIS_CLUSTER_NODES: 'a.example:6379',
    });
    expect(redisCluster).toMatchObject({ username: 'default', password: 'pw', tls: true });
  });

  it.each([
    ['not-a-node', 'entry 1 is "not-a-node"'],
    ['127.0.0.1:7000,127.0.0.1', 'entry 2 is "127.0.0.1"'],
    ['127.0.0.1:0', 'entry 1 is "127.0.0.1:0"'],
    ['127.0.0.1:70000', 'entry 1 is "127.0.0.1:70000"'],
    [',,', 'must list at least one host:port'],
  ])('refuses REDIS_CLUSTER_NODES=%j, naming the entry', (value, reason) => {
    expect(() => parseRedisConfig({ REDIS_CLUSTER_NODES: value })).toThrow(ConfigError);
    expect(() => parseRedisConfig({ REDIS_CLUSTER_NODES: value })).toThrow(
      expect.objectContaining({
        message: expect.stringContaining(`REDIS_CLUSTER_NODES `) as string,
      }),
    );
    expect(() => parseRedisConfig({ REDIS_CLUSTER_NODES: value })).toThrow(reason);
  });

  it('refuses a database other than 0 on a cluster, in either variable', () => {
    expect(() =>
      parseRedisConfig({ REDIS_URL: 'redis://h:6379/2', REDIS_CLUSTER_NODES: 'h:7000' }),
    ).toThrow('REDIS_URL selects database 2, but Redis Cluster has only database 0');
    expect(() => parseRedisConfig({ REDIS_CLUSTER_NODES: 'redis://h:7000/5' })).toThrow(
      'REDIS_CLUSTER_NODES selects database 5, but Redis Cluster has only database 0',
    );
    expect(parseRedisConfig({ REDIS_CLUSTER_NODES: 'redis://h:7000/0' }).redisCluster).toEqual({
      nodes: [{ host: 'h', port: 7000 }],
      tls: false,
    });
  });

  it('never echoes a password from a bad entry', () => {
    expect(() => parseRedisConfig({ REDIS_CLUSTER_NODES: 'h:7000,user:secret@h' })).toThrow(
      expect.not.objectContaining({ message: expect.stringContaining('secret') as string }),
    );
  });
});
