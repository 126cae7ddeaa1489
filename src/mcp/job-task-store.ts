import { ConflictException, NotFoundException } from '@nestjs/common';
import type {
  CreateTaskOptions,
  TaskStore,
} from '@modelcontextprotocol/sdk/experimental/tasks/interfaces.js';
import type { Request, RequestId, Result, Task } from '@modelcontextprotocol/sdk/types.js';
import type { Cluster, Redis } from 'ioredis';
import type { McpConfig } from '../config/mcp.config';
import type { JobService } from '../core/job.service';
import { isTerminal } from '../core/job.types';
import type { Job } from '../generated/prisma/client';
import { isUuid } from '../common/ids';
import { hashTag } from '../redis/redis-keys';
import { jobOutcome } from './mcp-tools';

const LIST_PAGE = 50;
const MIN_TTL_MS = 1000;

interface TaskRecord {
  userId: string;
  ttl: number;
}

const TASK_STATUS: Record<string, Task['status']> = {
  queued: 'working',
  processing: 'working',
  done: 'completed',
  error: 'failed',
  cancelled: 'cancelled',
};

type RedisClient = Redis | Cluster;

export interface TaskStoreKeys {
  /** The user's tasks by creation time. */
  index: string;
  /** One task's record: its owner and TTL. */
  task(taskId: string): string;
}

/**
 * A user's task keys, under one hash tag per user: createTask's transaction writes a task and
 * the user's index together, so they must share a slot on Redis Cluster (docs/redis-cluster.md).
 */
export function taskStoreKeys(mcpPrefix: string, userId: string): TaskStoreKeys {
  const base = `${mcpPrefix}:${hashTag('tasks', userId)}`;
  return { index: `${base}:index`, task: (taskId) => `${base}:task:${taskId}` };
}

/** Submits the job a task-augmented tools/call asks for; answers the job. */
export type TaskSubmitter = (request: Request, requestId: RequestId) => Promise<Job>;

/**
 * MCP tasks backed by the jobs (docs/mcp.md): a task id is a job id; status and result are read
 * from the Job row; tasks/cancel cancels the job, which stops it wherever it runs. What a Job
 * row does not hold — that a job is a task, its owner's claim and its TTL — is a Redis key that
 * expires with the TTL, after which the task is gone for tasks/get and tasks/list (the job stays).
 * One store per session, bound to the session's user: another user's task is not found.
 */
export class JobTaskStore implements TaskStore {
  private readonly keys: TaskStoreKeys;

  constructor(
    private readonly userId: string,
    private readonly jobs: JobService,
    private readonly redis: RedisClient,
    /** `<prefix>:mcp`. */
    mcpPrefix: string,
    private readonly config: McpConfig,
    private readonly submit: TaskSubmitter,
  ) {
    this.keys = taskStoreKeys(mcpPrefix, userId);
  }

  async createTask(
    options: CreateTaskOptions,
    requestId: RequestId,
    request: Request,
  ): Promise<Task> {
    const job = await this.submit(request, requestId);
    const asked = options.ttl ?? this.config.taskTtlDefaultMs;
    const ttl = Math.max(MIN_TTL_MS, Math.min(asked, this.config.taskTtlMaxMs));
    const record: TaskRecord = { userId: this.userId, ttl };
    await this.redis
      .multi()
      .set(this.keys.task(job.id), JSON.stringify(record), 'PX', ttl)
      .zadd(this.keys.index, job.createdAt.getTime(), job.id)
      .pexpire(this.keys.index, this.config.taskTtlMaxMs)
      .exec();
    return this.toTask(job, ttl);
  }

  async getTask(taskId: string): Promise<Task | null> {
    const found = await this.find(taskId);
    return found && this.toTask(found.job, found.record.ttl);
  }

  /** Results are the jobs' own: nothing stores them through the store. */
  storeTaskResult(taskId: string): Promise<void> {
    return Promise.reject(new Error(`task ${taskId}: its result is its job's, not stored here`));
  }

  async getTaskResult(taskId: string): Promise<Result> {
    const found = await this.find(taskId);
    if (!found) throw new Error(`task ${taskId} not found`);
    if (!isTerminal(found.job.status)) {
      throw new Error(`task ${taskId} has not ended`);
    }
    return jobOutcome(found.job);
  }

  /** The SDK's tasks/cancel lands here: cancelling the job stops it. Other statuses are the job's to set. */
  async updateTaskStatus(taskId: string, status: Task['status']): Promise<void> {
    if (status !== 'cancelled') return;
    if (!(await this.find(taskId))) throw new Error(`task ${taskId} not found`);
    try {
      await this.jobs.cancel(this.userId, taskId);
    } catch (error) {
      // It ended meanwhile: the task shows how.
      if (!(error instanceof ConflictException)) throw error;
    }
  }

  async listTasks(cursor?: string): Promise<{ tasks: Task[]; nextCursor?: string }> {
    const offset = cursor === undefined ? 0 : Number(cursor);
    if (!Number.isInteger(offset) || offset < 0)
      throw new Error('cursor is not one tasks/list gave');
    const ids = await this.redis.zrevrange(this.keys.index, offset, offset + LIST_PAGE - 1);
    const tasks: Task[] = [];
    for (const id of ids) {
      const task = await this.getTask(id);
      if (task) tasks.push(task);
      else await this.redis.zrem(this.keys.index, id);
    }
    return ids.length === LIST_PAGE ? { tasks, nextCursor: String(offset + LIST_PAGE) } : { tasks };
  }

  private async find(taskId: string): Promise<{ job: Job; record: TaskRecord } | null> {
    if (!isUuid(taskId)) return null;
    const raw = await this.redis.get(this.keys.task(taskId));
    if (raw === null) return null;
    const record = JSON.parse(raw) as TaskRecord;
    if (record.userId !== this.userId) return null;
    try {
      return { job: await this.jobs.get(this.userId, taskId), record };
    } catch (error) {
      if (error instanceof NotFoundException) return null;
      throw error;
    }
  }

  private toTask(job: Job, ttl: number): Task {
    const status = TASK_STATUS[job.status] ?? 'working';
    const statusMessage = job.status === 'error' ? job.error : job.message;
    return {
      taskId: job.id,
      status,
      ttl,
      createdAt: job.createdAt.toISOString(),
      lastUpdatedAt: job.updatedAt.toISOString(),
      pollInterval: this.config.taskPollIntervalMs,
      ...(statusMessage !== null && { statusMessage }),
    };
  }
}
