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
