import type { Server } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import Redis from 'ioredis';
import { mcpEventKeys } from '../../src/mcp/redis-event-store';
import { uniqueUser } from '../support/api';
import { startStack, tokenFor, type TestStack } from '../support/app';
import { TEST_REDIS_URL } from '../support/redis';
import { baseUrl } from '../support/socket';
import { echoKind } from '../support/test-kinds';
import { waitFor } from '../support/wait';

describe('MCP idle sessions', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startStack('mcp-idle', [echoKind], { MCP_SESSION_IDLE_SEC: '10' });
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('closes a session with no open request for MCP_SESSION_IDLE_SEC; one with a stream stays', async () => {
    const url = new URL('/mcp', baseUrl(stack.app.getHttpServer() as Server));
    const user = uniqueUser('idle');
    const headers = { Authorization: `Bearer ${tokenFor(user)}` };
    // This client opens the standalone GET stream after initialize, so it always has a request open.
    const streaming = new Client({ name: 'streaming', version: '1' });
    const streamingTransport = new StreamableHTTPClientTransport(url, { requestInit: { headers } });
    await streaming.connect(streamingTransport);
    const idle = new Client({ name: 'idle', version: '1' });
    const idleTransport = new StreamableHTTPClientTransport(url, { requestInit: { headers } });
    await idle.connect(idleTransport);
    const idleSession = idleTransport.sessionId!;
    await idleTransport.close();

    // Any request would count as activity: watch the session's resumable events in Redis,
    // which go when the session is closed.
    const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      const { seq, streams } = mcpEventKeys(`${stack.prefix}:mcp`, idleSession);
      const keys = () => redis.exists(seq, streams);
      expect(await keys()).toBe(2);
      await waitFor('the idle session to be closed', async () => (await keys()) === 0, 30_000, 250);
    } finally {
      redis.disconnect();
    }
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        ...headers,
        'mcp-session-id': idleSession,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(res.status).toBe(404);
    expect((await streaming.listTools()).tools.length).toBeGreaterThan(0);
    await streaming.close();
  });
});
