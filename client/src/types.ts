/* The service's shapes (the api's DTOs, checked against its OpenAPI document). */

export type JsonValue =
  string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export type JobStatus = 'queued' | 'processing' | 'done' | 'error' | 'cancelled';
export type JobEventStatus = 'created' | 'processing' | 'progress' | 'done' | 'error' | 'cancelled';
export type Priority = 'critical' | 'high' | 'medium' | 'low';

export const TERMINAL_STATUSES: readonly JobStatus[] = ['done', 'error', 'cancelled'];

export interface Job<P = Record<string, JsonValue>, R = JsonValue> {
  id: string;
  kind: string;
  status: JobStatus;
  priority: Priority;
  progress: number;
  message: string | null;
  projectId: string;
  requestId: string | null;
  params: P;
  result: R | null;
  error: string | null;
  attempts: number;
  maxAttempts: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
  /** The job this one is a step of; null for a submitted job. */
  parentId: string | null;
  /** The job's steps, oldest first: only on get(), not in lists. */
  children?: JobStep[];
}

/** One step of a parent job. */
export interface JobStep {
  id: string;
  /** The step's key among its parent's steps. */
  key: string;
  kind: string;
  status: JobStatus;
}

export interface JobEvent {
  /** Opaque, strictly increasing per user. */
  eventId: string;
  jobId: string;
  kind: string;
  status: JobEventStatus;
  progress: number;
  message?: string;
  result?: Record<string, unknown>;
  error?: string;
  /** Streamed output appended since the job's previous event (progress events). */
  output?: string;
  /** A step's events: its parent job. */
  parentId?: string;
  at: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface SubmitRequest<P = Record<string, JsonValue>> {
  projectId: string;
  params: P;
  priority?: Priority;
  requestId?: string;
}

export interface ListJobsQuery {
  kind?: string;
  status?: JobStatus;
  /** Only this job's steps. */
  parentId?: string;
  limit?: number;
  cursor?: string;
}

export interface JobLog {
  content: string;
  truncated: boolean;
}

export interface KindInfo {
  name: string;
  /** JSON Schema of the params (the same one OpenAPI and MCP publish). */
  paramsSchema: Record<string, unknown>;
  /** JSON Schema of the result; null when the kind's result is free-form. */
  resultSchema: Record<string, unknown> | null;
  /** Whether a job of this kind runs in a ready project's workspace. */
  workspace: boolean;
}

export type ProjectStatus = 'cloning' | 'ready' | 'error';

export interface Project {
  id: string;
  name: string;
  repoUrl: string | null;
  defaultBranch: string;
  status: ProjectStatus;
  error: string | null;
  /** Whether the project holds its own GitHub token (which is never returned). */
  hasGithubToken: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface CreateProjectRequest {
  name: string;
  repoUrl?: string;
  defaultBranch?: string;
  /** The project's own GitHub token, for its clone and pull requests; stored encrypted. */
  githubToken?: string;
}

export interface QueueStats {
  kind: string;
  paused: boolean;
  waiting: number;
  active: number;
  prioritized: number;
  delayed: number;
  completed: number;
  failed: number;
}

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
}

/** LLM tokens (GET /usage, docs/usage.md). */
export interface TokenTotals {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
}

export interface ModelUsage extends TokenTotals {
  provider: string;
  model: string;
}

export interface DayUsage extends ModelUsage {
  /** YYYY-MM-DD, UTC. */
  day: string;
}

export interface Usage extends TokenTotals {
  from: string;
  to: string;
  models: ModelUsage[];
  days: DayUsage[];
}

export interface UserUsage extends TokenTotals {
  userId: string;
  models: ModelUsage[];
  days: DayUsage[];
}

export interface AdminUsage {
  from: string;
  to: string;
  users: UserUsage[];
}

/** UTC days, both included (YYYY-MM-DD); default: the 30 days that end today. */
export interface UsageQuery {
  from?: string;
  to?: string;
}
