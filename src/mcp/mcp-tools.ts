import { BadRequestException } from '@nestjs/common';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { JobView } from '../http/dto/job.view';
import { SubmitJobDto } from '../core/dto/submit-job.dto';
import { FREE_FORM_PARAMS, paramsJsonSchema, type JsonSchemaObject } from '../core/kind-schema';
import type { JobRegistry } from '../core/job-registry';
import { PRIORITIES, type JobKind, type JsonValue } from '../core/job.types';
import type { Job } from '../generated/prisma/client';
import {
  describeValidationErrors,
  inputProblem,
  nullErrors,
  VALIDATION_OPTIONS,
} from '../common/params-validation';
import { SEARCH_CODE, SEARCH_CODE_TOOL } from './search-code-tool';

export const GET_JOB = 'get_job';
export const CANCEL_JOB = 'cancel_job';

/** `code-generation` → `code_generation`. */
export function toolName(kind: string): string {
  return kind.replace(/-/g, '_');
}

const SUBMIT_FIELDS: Record<string, JsonSchemaObject> = {
  projectId: {
    type: 'string',
    minLength: 1,
    maxLength: 200,
    description: 'The project the job works on',
  },
  priority: {
    type: 'string',
    enum: Object.keys(PRIORITIES),
    default: 'medium',
    description: 'Queue priority',
  },
};

const JOB_ID_INPUT: Tool['inputSchema'] = {
  type: 'object',
  properties: { jobId: { type: 'string', format: 'uuid', description: 'A job id' } },
  required: ['jobId'],
  additionalProperties: false,
};

/** `{ projectId, priority?, ...the kind's params }`, from the one schema generator. */
export function kindInputSchema(kind: JobKind): Tool['inputSchema'] {
  const params = kind.external ? FREE_FORM_PARAMS : paramsJsonSchema(kind);
  const properties = params.properties ?? {};
  const clash = Object.keys(SUBMIT_FIELDS).find((field) => field in properties);
  if (clash !== undefined) {
    throw new Error(`Job kind "${kind.name}": param "${clash}" clashes with its MCP tool argument`);
  }
  return {
    type: 'object',
    properties: { ...SUBMIT_FIELDS, ...properties },
    required: ['projectId', ...(params.required ?? [])],
    additionalProperties: params.additionalProperties ?? false,
  };
}

/** One tool per registered kind, plus get_job, cancel_job and search_code; checked once at start-up. */
export function buildTools(registry: JobRegistry): { tools: Tool[]; kinds: Map<string, string> } {
  const kinds = new Map<string, string>();
  const tools: Tool[] = registry.all().map(({ kind }) => {
    const name = toolName(kind.name);
    if (name === GET_JOB || name === CANCEL_JOB || name === SEARCH_CODE || kinds.has(name)) {
      throw new Error(`Job kind "${kind.name}": its MCP tool name ${name} is taken`);
    }
    kinds.set(name, kind.name);
    return {
      name,
      title: kind.name,
      description:
        `Runs a ${kind.name} job${kind.external ? ' (on an external worker)' : ''} and answers ` +
        'when it ends. Progress arrives as notifications/progress when the call carries a ' +
        'progressToken; as a task (tools/call with `task`) it answers at once and is polled.',
      inputSchema: kindInputSchema(kind),
      execution: { taskSupport: 'optional' },
    };
  });
  tools.push(
    {
      name: GET_JOB,
      description: 'A job of yours: status, progress, message, result, error, timestamps.',
      inputSchema: JOB_ID_INPUT,
      annotations: { readOnlyHint: true },
    },
    {
      name: CANCEL_JOB,
      description: 'Cancels a queued or running job of yours (a running one is stopped).',
      inputSchema: JOB_ID_INPUT,
      annotations: { destructiveHint: true },
    },
    SEARCH_CODE_TOOL,
  );
  return { tools, kinds };
}

/** Splits a kind tool's arguments into a submit body, checked like POST /jobs/:kind's. */
export async function submitBody(
  args: Record<string, unknown> | undefined,
  requestId: string,
): Promise<SubmitJobDto> {
  // The rules POST /jobs/:kind applies to its body (text, nesting, null), to every argument.
  const problem = inputProblem(args ?? {}, 'arguments');
  if (problem) throw new BadRequestException(problem);
  const { projectId, priority, ...params } = args ?? {};
  const body = plainToInstance(SubmitJobDto, { projectId, priority, params, requestId });
  const errors = [...nullErrors(body), ...(await validate(body, VALIDATION_OPTIONS))];
  if (errors.length > 0) throw new BadRequestException(describeValidationErrors(errors));
  return body;
}

export function jobIdArgument(args: Record<string, unknown> | undefined): string {
  const jobId = args?.jobId;
  if (typeof jobId !== 'string' || jobId === '') {
    throw new BadRequestException('jobId must be a job id');
  }
  return jobId;
}

/** A result `{ content }` (the stream-channel format's) is already words; anything else is JSON. */
function resultWords(job: Job): string {
  const result = job.result as JsonValue | null;
  if (
    result !== null &&
    typeof result === 'object' &&
    !Array.isArray(result) &&
    typeof result.content === 'string' &&
    Object.keys(result).length === 1
  ) {
    return result.content;
  }
  const shown = result === null ? 'no result' : JSON.stringify(result, null, 2);
  return `${job.kind} job ${job.id} done: ${shown}`;
}

/** What a kind's call answers once its job ended (docs/mcp.md#tools: `content / isError`). */
export function jobOutcome(job: Job): CallToolResult {
  const structured: Record<string, unknown> = { jobId: job.id, status: job.status };
  let text: string;
  if (job.status === 'done') {
    text = resultWords(job);
    structured.result = job.result ?? null;
  } else if (job.status === 'error') {
    text = `${job.kind} job ${job.id} failed: ${job.error ?? 'unknown error'}`;
    structured.error = job.error;
  } else {
    text = `${job.kind} job ${job.id} was cancelled`;
    if (job.message !== null) structured.error = job.message;
  }
  return {
    content: [{ type: 'text', text }],
    structuredContent: structured,
    isError: job.status !== 'done',
  };
}

/** get_job and cancel_job answer the job as REST shows it. */
export function jobAnswer(job: Job): CallToolResult {
  const view = JobView.from(job) as unknown as Record<string, unknown>;
  return {
    content: [{ type: 'text', text: JSON.stringify(view, null, 2) }],
    structuredContent: view,
  };
}

/** A refused call (bad arguments, unknown job, rate limit): the model reads why. */
export function refusal(status: number, message: string): CallToolResult {
  return {
    content: [{ type: 'text', text: `refused (${status}): ${message}` }],
    isError: true,
  };
}
