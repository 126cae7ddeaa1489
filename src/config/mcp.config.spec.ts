import { loadConfig } from './app-config';

const base = { NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(16) };

describe('MCP configuration', () => {
  it('defaults to the loopback host names and no extra origins', () => {
    expect(loadConfig(base).mcp).toEqual({
      allowedHosts: ['localhost', '127.0.0.1', '[::1]'],
      allowedOrigins: [],
      eventTtlSec: 3600,
      sessionIdleSec: 1800,
      taskTtlDefaultMs: 3_600_000,
      taskTtlMaxMs: 86_400_000,
      taskPollIntervalMs: 1000,
    });
  });

  it('reads hosts (* for any), origins and the numbers', () => {
    const config = loadConfig({
      ...base,
      MCP_ALLOWED_HOSTS: 'conveyor.example.com, LOCALHOST',
      MCP_ALLOWED_ORIGINS: 'https://app.example.com',
      MCP_TASK_TTL_MS: '5000',
    });
    expect(config.mcp).toMatchObject({
      allowedHosts: ['conveyor.example.com', 'localhost'],
      allowedOrigins: ['https://app.example.com'],
      taskTtlDefaultMs: 5000,
    });
    expect(loadConfig({ ...base, MCP_ALLOWED_HOSTS: '*' }).mcp.allowedHosts).toBeNull();
  });

  it.each([
    [
      { MCP_ALLOWED_HOSTS: 'bad host/' },
      'MCP_ALLOWED_HOSTS has "bad host/", which is not a host name',
    ],
    [
      { MCP_ALLOWED_ORIGINS: 'https://a.example/path' },
      'MCP_ALLOWED_ORIGINS has "https://a.example/path"',
    ],
    [{ MCP_EVENT_TTL_SEC: 'soon' }, 'MCP_EVENT_TTL_SEC must be an integer'],
    [{ MCP_SESSION_IDLE_SEC: '1' }, 'MCP_SESSION_IDLE_SEC must be between 10 and'],
    [{ MCP_TASK_TTL_MS: '90000', MCP_TASK_TTL_MAX_MS: '60000' }, 'MCP_TASK_TTL_MS must not exceed'],
  ])('refuses a bad value (%#)', (env, message) => {
    expect(() => loadConfig({ ...base, ...env })).toThrow(`Invalid configuration: ${message}`);
  });
});
