import { oneOf, text, type Env } from './env-readers';

export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface OperationsConfig {
  /** A bearer token a Prometheus scraper may present instead of an admin JWT; unset: admins only. */
  metricsToken: string | undefined;
  /** auto: human-readable in development when stdout is a terminal, JSON otherwise. */
  logFormat: LogFormat;
}

/** METRICS_TOKEN and LOG_FORMAT (docs/operations.md). */
export function parseOperationsConfig(env: Env): OperationsConfig {
  return {
    metricsToken: text(
      env,
      'METRICS_TOKEN',
      /^[\x21-\x7e]{16,512}$/,
      '16-512 printable ASCII characters without spaces',
      true,
    ),
    logFormat: oneOf(env, 'LOG_FORMAT', LOG_FORMATS, 'auto'),
  };
}

/** Whether logs are rendered by pino-pretty: asked for, or development on a terminal. */
export function logsArePretty(
  config: { env: string; operations: OperationsConfig },
  isTty: boolean,
): boolean {
  if (config.operations.logFormat !== 'auto') return config.operations.logFormat === 'pretty';
  return config.env === 'development' && isTty;
}
