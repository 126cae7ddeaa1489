import { ConveyorNetworkError, httpError, isErrorBody } from './errors.js';

const API = '/api/v1';

/** Calls to the REST API with a Bearer token; an error answer is thrown as a typed error. */
export class Http {
  constructor(
    readonly baseUrl: string,
    public token: string,
  ) {}

  async request<T>(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    const res = await this.send(method, path, body, headers);
    const text = await res.text();
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  /** One HTTP call; an error answer is thrown as the matching ConveyorHttpError. */
  async send(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    headers: Record<string, string>,
  ): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${API}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          accept: 'application/json',
          ...(body !== undefined && { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new ConveyorNetworkError(`${method} ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (res.ok) return res;
    const text = await res.text();
    let parsed: unknown = undefined;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    throw httpError(
      res,
      isErrorBody(parsed)
        ? parsed
        : { statusCode: res.status, error: res.statusText, message: text.slice(0, 200) },
    );
  }
}

export function queryString(query: Record<string, string | number | undefined>): string {
  const entries = Object.entries(query).filter(
    (entry): entry is [string, string | number] => entry[1] !== undefined,
  );
  if (entries.length === 0) return '';
  return `?${entries.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&')}`;
}
