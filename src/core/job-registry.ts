import type { AppConfig } from '../config/app-config';
import type { ExternalRunner, JobKind, JobPolicies } from './job.types';

const KIND_NAME = /^[a-z][a-z0-9-]{0,62}$/;

export class UnknownJobKindError extends Error {
  override readonly name = 'UnknownJobKindError';
  constructor(readonly kind: string) {
    super(`unknown job kind "${kind}"`);
  }
}

export interface RegisteredKind {
  readonly kind: JobKind;
  readonly policies: JobPolicies;
}

/** The one table of job kinds; checked when it is built so a bad registration stops start-up. */
export class JobRegistry {
  private readonly kinds = new Map<string, RegisteredKind>();

  constructor(kinds: readonly JobKind[], config: Pick<AppConfig, 'jobs'>) {
    kinds.forEach((kind, index) => {
      const label = typeof kind?.name === 'string' ? `"${kind.name}"` : `#${index}`;
      if (typeof kind?.name !== 'string' || !KIND_NAME.test(kind.name)) {
        throw new Error(`Job kind ${label}: name must be lower-case kebab-case (a-z, 0-9, -)`);
      }
      if (this.kinds.has(kind.name)) throw new Error(`Job kind ${label} is registered twice`);
      if (typeof kind.params !== 'function') {
        throw new Error(`Job kind ${label} has no params class`);
      }
      if (kind.external === undefined && typeof kind.processor !== 'function') {
        throw new Error(`Job kind ${label} has no processor`);
      }
      if (kind.external !== undefined && kind.processor !== undefined) {
        throw new Error(`Job kind ${label} is external and cannot have a processor`);
      }
      this.kinds.set(kind.name, { kind, policies: resolvePolicies(kind, config.jobs) });
    });
  }

  get(name: string): RegisteredKind {
    const registered = this.kinds.get(name);
    if (!registered) throw new UnknownJobKindError(name);
    return registered;
  }

  has(name: string): boolean {
    return this.kinds.has(name);
  }

  names(): string[] {
    return [...this.kinds.keys()];
  }

  all(): RegisteredKind[] {
    return [...this.kinds.values()];
  }

  /** The kinds Conveyor's own workers run (each has a processor and a BullMQ queue). */
  internal(): RegisteredKind[] {
    return this.all().filter((registered) => registered.kind.external === undefined);
  }

  /** The kinds workers outside Conveyor run. */
  external(): (RegisteredKind & { kind: { external: ExternalRunner } })[] {
    return this.all().filter(
      (registered): registered is RegisteredKind & { kind: { external: ExternalRunner } } =>
        registered.kind.external !== undefined,
    );
  }
}

function resolvePolicies(kind: JobKind, defaults: AppConfig['jobs']): JobPolicies {
  const policies: JobPolicies = {
    attempts: defaults.attempts,
    backoffMs: defaults.backoffMs,
    concurrency: defaults.concurrency,
    rateLimit: { max: defaults.rateLimitMax, durationMs: defaults.rateLimitDurationMs },
    timeoutMs: defaults.timeoutMs,
    retainDoneSec: defaults.retainDoneSec,
    retainFailedSec: defaults.retainFailedSec,
    ...kind.policies,
  };
  const positive: [string, number][] = [
    ['attempts', policies.attempts],
    ['concurrency', policies.concurrency],
    ['timeoutMs', policies.timeoutMs],
    ['rateLimit.max', policies.rateLimit.max],
    ['rateLimit.durationMs', policies.rateLimit.durationMs],
  ];
  for (const [field, value] of positive) {
    if (!Number.isInteger(value) || value < 1) {
      throw new Error(`Job kind "${kind.name}": policy ${field} must be a positive integer`);
    }
  }
  return policies;
}
