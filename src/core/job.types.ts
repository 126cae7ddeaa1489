import type { ModuleMetadata, Type } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';

export const JOB_STATUSES = ['queued', 'processing', 'done', 'error', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export type TerminalStatus = Extract<JobStatus, 'done' | 'error' | 'cancelled'>;
export const TERMINAL_STATUSES: readonly TerminalStatus[] = ['done', 'error', 'cancelled'];

/** Whether a job or event status is one a job never leaves. */
export function isTerminal(status: string): status is TerminalStatus {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}

export const JOB_EVENT_STATUSES = [
  'created',
  'processing',
  'progress',
  'done',
  'error',
  'cancelled',
] as const;
export type JobEventStatus = (typeof JOB_EVENT_STATUSES)[number];

export const PRIORITIES = { critical: 0, high: 1, medium: 5, low: 10 } as const;
export type PriorityName = keyof typeof PRIORITIES;

export type JsonValue =
  string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface JobPolicies {
  attempts: number;
  backoffMs: number;
  concurrency: number;
  rateLimit: { max: number; durationMs: number };
  timeoutMs: number;
  retainDoneSec: number;
  retainFailedSec: number;
}

/** What a processor sees of the job it runs. */
export interface JobContext<P> {
  readonly jobId: string;
  readonly kind: string;
  readonly userId: string;
  readonly projectId: string;
  readonly params: P;
  readonly attempt: number;
  readonly maxAttempts: number;
  /** Aborted on cancel, timeout or shutdown; long work must stop when it fires. */
  readonly signal: AbortSignal;
  /** The project's git workspace, for kinds that declare `workspace: true`; null otherwise. */
  readonly workspace: string | null;
  progress(percent: number, message?: string): Promise<void>;
  /** Appends to the job's stored log (GET /jobs/:id/log); the tail is kept past the cap. */
  log(text: string): void;
  /**
   * What a person would watch scroll by (test output, LLM tokens): appended to the log and
   * streamed live as the `output` of progress events (docs/streamed-output.md).
   */
  output(text: string): void;
  /**
   * Runs another kind as a step of this job and resolves with its result (docs/child-jobs.md).
   * `key` names the step among this job's steps: a job that runs again gets the step's result
   * (or waits for it) instead of starting it again. Rejects with ChildJobFailedError or
   * ChildJobCancelledError when the step ends so, ChildJobRefusedError when it cannot start.
   */
  child<R extends JsonValue | void = JsonValue>(
    key: string,
    kind: string,
    params: object,
    options?: ChildJobOptions,
  ): Promise<R>;
  /** The job id of a step this run has asked for with `child` (undefined before that). */
  childId(key: string): string | undefined;
}

export interface ChildJobOptions {
  /** Default: the parent's priority. */
  readonly priority?: PriorityName;
}

/** What a kind's submit-time check sees besides the params. */
export interface SubmitCheckContext {
  readonly config: AppConfig;
  /** The project's workspace path, for workspace kinds. */
  readonly workspace: string | null;
}

export interface JobProcessor<P, R extends JsonValue | void> {
  process(ctx: JobContext<P>): Promise<R>;
}

/**
 * A kind that workers outside Conveyor run (docs/external-workers.md): each submitted job is
 * RPUSHed to `list` (the JSON job item, or the bare-id item); workers report on status channels.
 */
export interface ExternalRunner {
  readonly list: string;
  readonly item: 'json' | 'id';
  /** An extra status channel in the agent status format, for this kind's jobs only. */
  readonly statusChannel: string | null;
}

/** LLM tokens one job spent, as its kind reports them (docs/usage.md). */
export interface TokenCount {
  readonly provider: string;
  readonly model: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
}

const MAX_TOKENS = Number.MAX_SAFE_INTEGER;
const tokens = (n: number) =>
  Number.isFinite(n) ? Math.min(MAX_TOKENS, Math.max(0, Math.round(n))) : 0;

/**
 * What a kind reports in the form the done write can always store: whole, non-negative counts
 * and a named provider and model. The write carries a whole batch of jobs, so a count the SQL
 * cast refuses would fail every job in it; a count without a provider or model is dropped.
 */
export function storableUsage(usage: TokenCount | null | undefined): TokenCount | null {
  if (!usage || typeof usage.provider !== 'string' || typeof usage.model !== 'string') return null;
  if (usage.provider === '' || usage.model === '') return null;
  return {
    provider: usage.provider,
    model: usage.model,
    inputTokens: tokens(usage.inputTokens),
    outputTokens: tokens(usage.outputTokens),
  };
}

/** Everything the core needs to run one kind; registered with one line in job-kinds.ts. */
export interface JobKind<P extends object = object, R extends JsonValue | void = JsonValue | void> {
  readonly name: string;
  readonly params: Type<P>;
  /** Conveyor's own processor; a kind has either this or `external`. */
  readonly processor?: Type<JobProcessor<P, R>>;
  /** Run by workers outside Conveyor: no processor, no BullMQ queue. */
  readonly external?: ExternalRunner;
  /** The result's shape as a class with @ApiProperty decorators (OpenAPI, MCP); free-form when absent. */
  readonly result?: Type<object>;
  readonly policies?: Partial<JobPolicies>;
  /** Runs in a project's workspace: submit needs a ready project of the caller, runs are serialised per project. */
  readonly workspace?: boolean;
  /** Checks beyond the DTO at submit; returns why the params are refused (400), or null. */
  check?(params: P, ctx: SubmitCheckContext): string | null | Promise<string | null>;
  /** Modules the processor's dependencies come from. */
  readonly imports?: ModuleMetadata['imports'];
  /** The LLM tokens a done job spent, recorded with its `done` write; null when none were. */
  usage?(result: R): TokenCount | null;
  /** `llm-tokens`: refused (429) at submit while the user is at USER_TOKEN_QUOTA_PER_DAY. */
  readonly quota?: 'llm-tokens';
}

export function defineJobKind<P extends object, R extends JsonValue | void>(
  kind: JobKind<P, R>,
): JobKind<P, R> {
  return kind;
}

/** What travels through BullMQ: only the id; the Job row is the source of truth. */
export interface QueuedJobData {
  readonly jobId: string;
  /** Names its fairness set (docs/job-policies.md); absent on entries queued before it was. */
  readonly userId?: string;
  /** Re-queued by the reconciler: its row may count attempts already, so it is read at start. */
  readonly resumed?: true;
}
