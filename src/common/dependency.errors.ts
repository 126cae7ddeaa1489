export type Dependency = 'redis' | 'database';

/** A store the request needs is unreachable; answered with 503. */
export class DependencyUnavailableError extends Error {
  override readonly name = 'DependencyUnavailableError';
  constructor(
    readonly dependency: Dependency,
    options?: { cause?: unknown },
  ) {
    super(`${dependency} is unavailable`, options);
  }
}

const CONNECTION_FAILURE =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Connection is closed|enableOfflineQueue|Stream isn't writeable|connect|Can't reach database|Connection terminated|timeout exceeded when trying to connect|Server has closed the connection/i;

export function isConnectionFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  // P2024/P2028: no connection or transaction could be had in time (the pool is exhausted).
  if (code === 'P1001' || code === 'P1017' || code === 'P2024' || code === 'P2028') return true;
  return CONNECTION_FAILURE.test(error.message) || isConnectionFailure(error.cause);
}

/** Runs I/O against a dependency and turns connection failures into a typed error. */
export async function guardDependency<T>(dependency: Dependency, io: () => Promise<T>): Promise<T> {
  try {
    return await io();
  } catch (error) {
    if (error instanceof DependencyUnavailableError) throw error;
    if (isConnectionFailure(error))
      throw new DependencyUnavailableError(dependency, { cause: error });
    throw error;
  }
}
