import { ConfigError } from './app-config';

export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface OperationsConfig {
  /** A bearer token a Prometheus scraper may present instead of an admin JWT; unset: admins only. */
  metricsToken: string | undefined;
  /** auto: human-readable in development when stdout is a terminal, JSON otherwise. */
  logFormat: LogFormat;
}

type Env = Record<string, string | undefined>;

function value(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
}

/** METRICS_TOKEN and LOG_FORMAT (docs/operations.md). */
export function parseOperationsConfig(env: Env): OperationsConfig {
  const metricsToken = value(env, 'METRICS_TOKEN');
  if (metricsToken !== undefined && !/^[\x21-\x7e]{16,512}$/.test(metricsToken)) {
    throw new ConfigError(
      'METRICS_TOKEN',
      'must be 16-512 printable ASCII characters without spaces',
    );
  }
  const logFormat = value(env, 'LOG_FORMAT') ?? 'auto';
  if (!(LOG_FORMATS as readonly string[]).includes(logFormat)) {
    throw new ConfigError(
      'LOG_FORMAT',
      `must be one of ${LOG_FORMATS.join(', ')} (got "${logFormat}")`,
    );
  }
  return { metricsToken, logFormat: logFormat as LogFormat };
}

/** Whether logs are rendered by pino-pretty: asked for, or development on a terminal. */
export function logsArePretty(
  config: { env: string; operations: OperationsConfig },
  isTty: boolean,
): boolean {
  if (config.operations.logFormat !== 'auto') return config.operations.logFormat === 'pretty';
  return config.env === 'development' && isTty;
}
