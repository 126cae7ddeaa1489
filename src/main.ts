import 'reflect-metadata';
import { networkInterfaces } from 'node:os';
import { messageOf } from './common/errors';
import { loadConfig } from './config/app-config';
import type { JobKind } from './core/job.types';
import { assertRedisAnswers } from './redis/redis-preflight';

export interface BootstrapOptions {
  /** Kinds to run besides JOB_KINDS (the benchmark registers its own this way). */
  extraKinds?: readonly JobKind[];
}

/**
 * Every interface, as Node's listen without a host chose (Fastify's default is localhost only):
 * IPv6 and IPv4 where the host has IPv6, IPv4 otherwise.
 */
export function allInterfaces(): string {
  const hasIpv6 = Object.values(networkInterfaces()).some((addresses) =>
    (addresses ?? []).some(({ family }) => family === 'IPv6'),
  );
  return hasIpv6 ? '::' : '0.0.0.0';
}

/** Starts Conveyor in the role APP_ROLE names; exits with one line on a bad start. */
export async function bootstrap(options: BootstrapOptions = {}): Promise<void> {
  try {
    const config = loadConfig();
    await assertRedisAnswers(config);
    // Loaded only now: a bad variable or an absent Redis is reported without loading every kind.
    const { createConveyor, isHttpApp } = await import('./app.factory');
    const { JOB_KINDS } = await import('./job-kinds');
    const app = await createConveyor(config, [...JOB_KINDS, ...(options.extraKinds ?? [])]);
    let where = '';
    if (isHttpApp(app)) {
      await app.listen(config.port, allInterfaces());
      where = ` on port ${new URL(await app.getUrl()).port || config.port}`;
    }
    const insecure =
      isHttpApp(app) && config.jwtSecretIsDevDefault ? ' with the development JWT secret' : '';
    process.stdout.write(
      `${JSON.stringify({ level: 30, time: Date.now(), msg: `conveyor ${config.role} ready${where}${insecure}` })}\n`,
    );
  } catch (error) {
    process.stderr.write(`conveyor: ${messageOf(error)}\n`);
    process.exit(1);
  }
}

if (require.main === module) void bootstrap();
