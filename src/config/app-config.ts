import { resolve } from 'node:path';
import { bool, ConfigError, int, list, oneOf, raw, text, type Env } from './env-readers';
import { parseDatabaseConfig } from './database.config';
import { parsePrCreationConfig, type PrCreationConfig } from './pr-creation.config';
import { parseExternalKinds, type ExternalKindConfig } from './external-kinds.config';
import { parseReliabilityConfig, type ReliabilityConfig } from './reliability.config';
import { parseMcpConfig, type McpConfig } from './mcp.config';
import { parseLlmConfig, type LlmConfig } from './llm.config';
import { parseEmbeddingsConfig, type EmbeddingsConfig } from './embeddings.config';
import { parseOperationsConfig, type OperationsConfig } from './operations.config';
import { parseWriteBatchConfig, type WriteBatchConfig } from './write-batch.config';
import { parseSecretsConfig, type SecretsConfig } from './secrets.config';
import { parseRedisConfig, type RedisClusterConfig } from './redis.config';

export const APP_ROLES = ['api', 'worker', 'all'] as const;
export type AppRole = (typeof APP_ROLES)[number];
export const NODE_ENVS = ['development', 'production', 'test'] as const;
export type NodeEnv = (typeof NODE_ENVS)[number];
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Defaults every job kind starts from (docs/job-policies.md); a kind may override any of them. */
export interface JobPolicyDefaults {
  attempts: number;
  backoffMs: number;
  concurrency: number;
  rateLimitMax: number;
  rateLimitDurationMs: number;
  timeoutMs: number;
  retainDoneSec: number;
  retainFailedSec: number;
}

export interface AppConfig {
  env: NodeEnv;
  role: AppRole;
  port: number;
  databaseUrl: string | undefined;
  dataDir: string;
  redisUrl: string;
  redisCluster: RedisClusterConfig | null;
  prefix: string;
  jwtSecret: string;
  jwtSecretIsDevDefault: boolean;
  bodyLimitBytes: number;
  submitLimitPerMinute: number;
  /** USER_TOKEN_QUOTA_PER_DAY (docs/usage.md); null: no quota. */
  userTokenQuotaPerDay: number | null;
  jobs: JobPolicyDefaults;
  lockDurationMs: number;
  stalledIntervalMs: number;
  maxStalledCount: number;
  shutdownGraceMs: number;
  progressIntervalMs: number;
  eventRetentionSec: number;
  jobLogMaxBytes: number;
  workspacesDir: string;
  allowLocalRepos: boolean;
  cloneTimeoutMs: number;
  testExecution: TestExecutionConfig;
  prCreation: PrCreationConfig;
  /** SECRETS_KEY, SECRETS_KEY_PREVIOUS: projects' stored credentials (docs/credentials.md). */
  secrets: SecretsConfig;
  externalKinds: ExternalKindConfig[];
  mcp: McpConfig;
  reliability: ReliabilityConfig;
  /** Code search embeddings (EMBEDDINGS_*); null: lexical search only. */
  embeddings: EmbeddingsConfig | null;
  operations: OperationsConfig;
  writeBatch: WriteBatchConfig;
  logLevel: LogLevel;
  llm: LlmConfig;
}

export const SANDBOX_MODES = ['auto', 'bwrap', 'none'] as const;
export type SandboxMode = (typeof SANDBOX_MODES)[number];

export interface TestExecutionConfig {
  allowlist: string[];
  sandbox: SandboxMode;
  defaultTimeoutMs: number;
  maxTimeoutMs: number;
}

export const DEFAULT_TEST_COMMAND_ALLOWLIST = [
  'npm',
  'npx',
  'pnpm',
  'yarn',
  'node',
  'jest',
  'vitest',
  'pytest',
  'go',
  'cargo',
];

/** Used only when NODE_ENV=development and JWT_SECRET is unset; refused anywhere else. */
export const DEV_JWT_SECRET = 'conveyor-development-secret-do-not-use-in-production';

export { ConfigError };

const MINUTE = 60_000;
const HOUR_SEC = 3600;

/** Reads and validates the whole environment once; the first bad value throws a ConfigError. */
export function loadConfig(env: Env = process.env, cwd = process.cwd()): AppConfig {
  const nodeEnv = oneOf(env, 'NODE_ENV', NODE_ENVS, 'development');
  const role = oneOf(env, 'APP_ROLE', APP_ROLES, 'all');
  const secret = raw(env, 'JWT_SECRET');
  // Workers verify no token: they need not (and should not) hold the secret.
  if (secret === undefined && nodeEnv !== 'development' && role !== 'worker') {
    throw new ConfigError('JWT_SECRET', `is required when NODE_ENV=${nodeEnv}`);
  }
  if (secret !== undefined && secret.length < 16) {
    throw new ConfigError('JWT_SECRET', 'must be at least 16 characters');
  }
  const prefix =
    text(env, 'QUEUE_PREFIX', /^[A-Za-z0-9_.-]{1,64}$/, '1-64 letters, digits, "_", "." or "-"') ??
    'conveyor';
  const { databaseUrl, dataDir } = parseDatabaseConfig(env, cwd);
  const allowLocalRepos = bool(env, 'ALLOW_LOCAL_REPOS', false);
  const attempts = int(env, 'JOB_ATTEMPTS', 3, 1, 100);
  const timeoutMs = int(env, 'JOB_TIMEOUT_MS', 5 * MINUTE, 100, 86_400_000);
  return {
    env: nodeEnv,
    role,
    port: int(env, 'PORT', 3000, 0, 65535),
    databaseUrl,
    dataDir,
    ...parseRedisConfig(env),
    prefix,
    jwtSecret: secret ?? DEV_JWT_SECRET,
    jwtSecretIsDevDefault: secret === undefined,
    bodyLimitBytes: int(env, 'BODY_LIMIT_BYTES', 1_048_576, 1024, 64 * 1_048_576),
    submitLimitPerMinute: int(env, 'SUBMIT_LIMIT_PER_MINUTE', 100, 1, 1_000_000),
    userTokenQuotaPerDay:
      raw(env, 'USER_TOKEN_QUOTA_PER_DAY') === undefined
        ? null
        : int(env, 'USER_TOKEN_QUOTA_PER_DAY', 0, 1, 1_000_000_000_000),
    jobs: {
      attempts,
      backoffMs: int(env, 'JOB_BACKOFF_MS', 1000, 0, 3_600_000),
      concurrency: int(env, 'JOB_CONCURRENCY', 5, 1, 1000),
      rateLimitMax: int(env, 'QUEUE_RATE_LIMIT_MAX', 100, 1, 1_000_000),
      rateLimitDurationMs: int(env, 'QUEUE_RATE_LIMIT_DURATION_MS', MINUTE, 1, 86_400_000),
      timeoutMs,
      retainDoneSec: int(env, 'RETAIN_DONE_SEC', 24 * HOUR_SEC, 0, 365 * 24 * HOUR_SEC),
      retainFailedSec: int(env, 'RETAIN_FAILED_SEC', 48 * HOUR_SEC, 0, 365 * 24 * HOUR_SEC),
    },
    lockDurationMs: int(env, 'JOB_LOCK_MS', 60_000, 1000, 3_600_000),
    stalledIntervalMs: int(env, 'JOB_STALLED_INTERVAL_MS', 30_000, 500, 3_600_000),
    maxStalledCount: int(env, 'JOB_MAX_STALLED', 2, 0, 100),
    shutdownGraceMs: int(env, 'SHUTDOWN_GRACE_MS', 30_000, 0, 3_600_000),
    progressIntervalMs: int(env, 'PROGRESS_INTERVAL_MS', 250, 0, 60_000),
    eventRetentionSec: int(env, 'EVENT_RETENTION_SEC', 24 * HOUR_SEC, 60, 365 * 24 * HOUR_SEC),
    jobLogMaxBytes: int(env, 'JOB_LOG_MAX_BYTES', 1_048_576, 1024, 64 * 1_048_576),
    workspacesDir: resolve(dataDir, raw(env, 'WORKSPACES_DIR') ?? 'workspaces'),
    allowLocalRepos,
    cloneTimeoutMs: int(env, 'GIT_CLONE_TIMEOUT_MS', 10 * MINUTE, 1000, 86_400_000),
    testExecution: testExecutionConfig(env),
    prCreation: parsePrCreationConfig(env, allowLocalRepos),
    secrets: parseSecretsConfig(env),
    externalKinds: parseExternalKinds(env, prefix, timeoutMs),
    mcp: parseMcpConfig(env),
    reliability: parseReliabilityConfig(env),
    embeddings: parseEmbeddingsConfig(env),
    operations: parseOperationsConfig(env),
    writeBatch: parseWriteBatchConfig(env),
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, nodeEnv === 'test' ? 'warn' : 'info'),
    llm: parseLlmConfig(env),
  };
}

function testExecutionConfig(env: Env): TestExecutionConfig {
  const maxTimeoutMs = int(env, 'TEST_TIMEOUT_MAX_MS', 30 * MINUTE, 1000, 86_400_000);
  const defaultTimeoutMs = int(env, 'TEST_TIMEOUT_MS', 5 * MINUTE, 1000, 86_400_000);
  if (defaultTimeoutMs > maxTimeoutMs) {
    throw new ConfigError(
      'TEST_TIMEOUT_MS',
      `must not exceed TEST_TIMEOUT_MAX_MS (${maxTimeoutMs})`,
    );
  }
  return {
    allowlist: list(env, 'TEST_COMMAND_ALLOWLIST', DEFAULT_TEST_COMMAND_ALLOWLIST, {
      entry: /^[\w.+-]+$/,
      what: 'an executable name',
    }),
    sandbox: oneOf(env, 'TEST_SANDBOX', SANDBOX_MODES, 'auto'),
    defaultTimeoutMs,
    maxTimeoutMs,
  };
}

export const APP_CONFIG = Symbol('APP_CONFIG');

export function runsApi(config: AppConfig): boolean {
  return config.role !== 'worker';
}

export function runsWorkers(config: AppConfig): boolean {
  return config.role !== 'api';
}
