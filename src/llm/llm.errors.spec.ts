import { APICallError } from 'ai';
import { classifyFailure, FirstTokenTimeoutError } from './llm.errors';

function apiError(statusCode: number | undefined, message = 'boom', cause?: unknown): APICallError {
  return new APICallError({
    message,
    url: 'http://127.0.0.1/v1/messages',
    requestBodyValues: {},
    statusCode,
    cause,
    isRetryable: statusCode === undefined,
  });
}

describe('classifyFailure', () => {
  it.each([401, 403, 408, 409, 429, 500, 502, 503, 529])(
    'HTTP %i before the first token moves on',
    (status) => {
      expect(classifyFailure(apiError(status, 'nope'), false)).toEqual({
        disposition: 'next-provider',
        message: `HTTP ${status}: nope`,
        countsAgainstProvider: true,
      });
    },
  );

  it.each([400, 404, 413, 422])(
    'HTTP %i fails the job and says nothing about the provider health',
    (status) => {
      expect(classifyFailure(apiError(status, 'bad'), false)).toEqual({
        disposition: 'fail-job',
        message: `HTTP ${status}: bad`,
        countsAgainstProvider: false,
      });
    },
  );

  it('connection failures and first-token timeouts move on', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {
      code: 'ECONNREFUSED',
    });
    expect(
      classifyFailure(apiError(undefined, 'Cannot connect to API', refused), false),
    ).toMatchObject({
      disposition: 'next-provider',
      message: expect.stringMatching(/^connection failed: ECONNREFUSED/),
    });
    const reset = new TypeError('fetch failed', {
      cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }),
    });
    expect(classifyFailure(reset, false).disposition).toBe('next-provider');
    expect(classifyFailure(new FirstTokenTimeoutError(500), false)).toMatchObject({
      disposition: 'next-provider',
      message: 'timeout: no token within 500 ms',
    });
  });

  it("reads Anthropic's in-stream error objects", () => {
    expect(
      classifyFailure({ type: 'overloaded_error', message: 'Overloaded' }, false),
    ).toMatchObject({
      disposition: 'next-provider',
      message: 'overloaded_error: Overloaded',
    });
    expect(
      classifyFailure(
        { type: 'error', error: { type: 'invalid_request_error', message: 'x' } },
        false,
      ),
    ).toMatchObject({
      disposition: 'fail-job',
    });
  });

  it('after the first token every failure fails the attempt', () => {
    for (const error of [
      apiError(529),
      apiError(400),
      { type: 'overloaded_error', message: 'o' },
      new Error('odd'),
    ]) {
      expect(classifyFailure(error, true).disposition).toBe('fail-attempt');
    }
  });

  it('an unknown failure before the first token fails the attempt (the job may retry)', () => {
    expect(classifyFailure(new Error('unexpected JSON'), false)).toEqual({
      disposition: 'fail-attempt',
      message: 'unexpected JSON',
      countsAgainstProvider: true,
    });
  });
});
