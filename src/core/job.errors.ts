/** Throw from a processor when another attempt cannot succeed: the job fails at once. */
export class NonRetryableJobError extends Error {
  override readonly name: string = 'NonRetryableJobError';
}

export class JobTimeoutError extends NonRetryableJobError {
  override readonly name = 'JobTimeoutError';
  constructor(timeoutMs: number) {
    super(`job timed out after ${timeoutMs} ms`);
  }
}

export class JobCancelledError extends NonRetryableJobError {
  override readonly name = 'JobCancelledError';
  constructor() {
    super('job was cancelled');
  }
}

/** The worker is shutting down: the job goes back to the queue without using an attempt. */
export class WorkerShutdownError extends Error {
  override readonly name = 'WorkerShutdownError';
  constructor() {
    super('worker shutting down');
  }
}

/** ctx.child refused to start a step: unknown kind, bad params, nesting too deep, key misused. */
export class ChildJobRefusedError extends NonRetryableJobError {
  override readonly name = 'ChildJobRefusedError';
  constructor(
    readonly key: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`step "${key}" refused: ${reason}`, options);
  }
}

/** The step a ctx.child awaited ended in error (its own attempts spent). */
export class ChildJobFailedError extends NonRetryableJobError {
  override readonly name = 'ChildJobFailedError';
  readonly status = 'error';
  constructor(
    readonly key: string,
    readonly childId: string,
    readonly error: string | null,
  ) {
    super(`step "${key}" (job ${childId}) failed: ${error ?? 'unknown error'}`);
  }
}

/** The step a ctx.child awaited was cancelled: never a success. */
export class ChildJobCancelledError extends NonRetryableJobError {
  override readonly name = 'ChildJobCancelledError';
  readonly status = 'cancelled';
  constructor(
    readonly key: string,
    readonly childId: string,
  ) {
    super(`step "${key}" (job ${childId}) was cancelled`);
  }
}
