import { parseStatusMessage, parseStreamMessage, type ParsedStatus } from './status-message';

const JOB = '3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b';

function status(body: Record<string, unknown>): ParsedStatus {
  return parseStatusMessage(JSON.stringify(body));
}

function reasonOf(parsed: ParsedStatus): string {
  return parsed.ok ? 'ok' : parsed.reason;
}

describe('parseStatusMessage', () => {
  describe('accepts', () => {
    it('processing without progress as a start', () => {
      expect(status({ jobId: JOB, status: 'processing' })).toEqual({
        ok: true,
        request: { jobId: JOB, change: { type: 'processing' } },
      });
    });

    it('processing with progress (and message) as a progress report', () => {
      expect(status({ jobId: JOB, status: 'processing', progress: 0, message: 'go' })).toEqual({
        ok: true,
        request: { jobId: JOB, change: { type: 'progress', progress: 0, message: 'go' } },
      });
    });

    it.each([0, 1, 50, 99, 100])('progress %d', (progress) => {
      expect(status({ jobId: JOB, status: 'progress', progress })).toEqual({
        ok: true,
        request: { jobId: JOB, change: { type: 'progress', progress } },
      });
    });

    it('a progress message', () => {
      expect(status({ jobId: JOB, status: 'progress', progress: 30, message: 'half' })).toEqual({
        ok: true,
        request: { jobId: JOB, change: { type: 'progress', progress: 30, message: 'half' } },
      });
    });

    it('done with any JSON result, and without one (null)', () => {
      const result = { files: ['a.ts'], n: 2, nested: { ok: true } };
      expect(status({ jobId: JOB, status: 'done', result, message: 'fin' })).toEqual({
        ok: true,
        request: { jobId: JOB, change: { type: 'done', result, message: 'fin' } },
      });
      expect(status({ jobId: JOB, status: 'done' })).toEqual({
        ok: true,
        request: { jobId: JOB, change: { type: 'done', result: null } },
      });
      expect(status({ jobId: JOB, status: 'done', result: 'text' })).toMatchObject({
        ok: true,
        request: { change: { type: 'done', result: 'text' } },
      });
    });

    it('error, taking error, else message, else "failed"', () => {
      expect(status({ jobId: JOB, status: 'error', error: 'boom', message: 'm' })).toEqual({
        ok: true,
        request: { jobId: JOB, change: { type: 'error', error: 'boom' } },
      });
      expect(status({ jobId: JOB, status: 'error', message: 'm' })).toMatchObject({
        request: { change: { type: 'error', error: 'm' } },
      });
      expect(status({ jobId: JOB, status: 'error' })).toMatchObject({
        request: { change: { type: 'error', error: 'failed' } },
      });
    });

    it('the agent status format { jobId, status, userId, error? }, keeping userId', () => {
      expect(status({ jobId: JOB, status: 'processing', userId: 'alice' })).toEqual({
        ok: true,
        request: { jobId: JOB, userId: 'alice', change: { type: 'processing' } },
      });
      expect(status({ jobId: JOB, status: 'error', userId: 'alice', error: 'x' })).toEqual({
        ok: true,
        request: { jobId: JOB, userId: 'alice', change: { type: 'error', error: 'x' } },
      });
    });

    it('an upper-case job id, null optional fields and unknown extra fields', () => {
      expect(
        status({
          jobId: JOB.toUpperCase(),
          status: 'progress',
          progress: 5,
          message: null,
          error: null,
          userId: null,
          extra: { anything: 1 },
        }),
      ).toEqual({
        ok: true,
        request: { jobId: JOB.toUpperCase(), change: { type: 'progress', progress: 5 } },
      });
    });
  });

  describe('drops as malformed', () => {
    it.each([
      ['empty', ''],
      ['not JSON', 'hello'],
      ['truncated JSON', `{"jobId":"${JOB}","status":"done"`],
      ['single quotes', `{'jobId':'${JOB}','status':'done'}`],
      ['trailing comma', `{"jobId":"${JOB}","status":"done",}`],
      ['null', 'null'],
      ['a number', '42'],
      ['a string', '"done"'],
      ['a boolean', 'true'],
      ['an array', `[{"jobId":"${JOB}","status":"done"}]`],
    ])('%s', (_label, raw) => {
      const parsed = parseStatusMessage(raw);
      expect(parsed).toEqual({ ok: false, reason: 'malformed', detail: expect.any(String) });
    });
  });

  describe('drops as invalid', () => {
    const valid = { jobId: JOB, status: 'progress', progress: 10 };
    it.each<[string, Record<string, unknown>, RegExp]>([
      ['no jobId', { status: 'done' }, /jobId/],
      ['jobId null', { jobId: null, status: 'done' }, /jobId/],
      ['jobId a number', { jobId: 42, status: 'done' }, /jobId/],
      ['jobId an object', { jobId: { id: JOB }, status: 'done' }, /jobId/],
      ['jobId not a uuid', { jobId: 'job-1', status: 'done' }, /jobId/],
      ['jobId empty', { jobId: '', status: 'done' }, /jobId/],
      ['jobId a uuid with extra text', { jobId: `${JOB}x`, status: 'done' }, /jobId/],
      ['jobId a uuid with spaces', { jobId: ` ${JOB}`, status: 'done' }, /jobId/],
      ['no status', { jobId: JOB }, /status/],
      ['status null', { jobId: JOB, status: null }, /status/],
      ['status a number', { jobId: JOB, status: 1 }, /status/],
      ['status unknown', { jobId: JOB, status: 'completed' }, /status/],
      ['status upper case', { jobId: JOB, status: 'DONE' }, /status/],
      ['status created', { jobId: JOB, status: 'created' }, /status/],
      ['status cancelled', { jobId: JOB, status: 'cancelled' }, /status/],
      ['status queued', { jobId: JOB, status: 'queued' }, /status/],
      ['progress -1', { ...valid, progress: -1 }, /progress/],
      ['progress 101', { ...valid, progress: 101 }, /progress/],
      ['progress 150', { ...valid, progress: 150 }, /progress/],
      ['progress 1.5', { ...valid, progress: 1.5 }, /progress/],
      ['progress "x"', { ...valid, progress: 'x' }, /progress/],
      ['progress "50" (a string)', { ...valid, progress: '50' }, /progress/],
      ['progress true', { ...valid, progress: true }, /progress/],
      ['progress an array', { ...valid, progress: [50] }, /progress/],
      [
        'progress on processing out of range',
        { jobId: JOB, status: 'processing', progress: 101 },
        /progress/,
      ],
      ['progress on done out of range', { jobId: JOB, status: 'done', progress: -1 }, /progress/],
      ['status progress without progress', { jobId: JOB, status: 'progress' }, /progress/],
      ['status progress with progress null', { ...valid, progress: null }, /progress/],
      ['message a number', { ...valid, message: 7 }, /message/],
      ['message an object', { ...valid, message: { text: 'x' } }, /message/],
      ['message too long', { ...valid, message: 'm'.repeat(10_001) }, /message/],
      ['error a number', { jobId: JOB, status: 'error', error: 500 }, /error/],
      ['error an object', { jobId: JOB, status: 'error', error: { message: 'x' } }, /error/],
      ['error too long', { jobId: JOB, status: 'error', error: 'e'.repeat(10_001) }, /error/],
      ['userId a number', { jobId: JOB, status: 'processing', userId: 7 }, /userId/],
      ['userId too long', { jobId: JOB, status: 'processing', userId: 'u'.repeat(201) }, /userId/],
    ])('%s', (_label, body, detail) => {
      const parsed = status(body);
      expect(reasonOf(parsed)).toBe('invalid');
      if (!parsed.ok) expect(parsed.detail).toMatch(detail);
    });
  });

  it('accepts strings at the length limits', () => {
    expect(
      reasonOf(
        status({ jobId: JOB, status: 'progress', progress: 1, message: 'm'.repeat(10_000) }),
      ),
    ).toBe('ok');
    expect(reasonOf(status({ jobId: JOB, status: 'processing', userId: 'u'.repeat(200) }))).toBe(
      'ok',
    );
  });
});

describe('parseStreamMessage', () => {
  it('reads { message, progress } as a progress report', () => {
    expect(parseStreamMessage(JOB, JSON.stringify({ message: 'Starting', progress: 0 }))).toEqual({
      ok: true,
      request: { jobId: JOB, change: { type: 'progress', progress: 0, message: 'Starting' } },
    });
    expect(parseStreamMessage(JOB, JSON.stringify({ progress: 100 }))).toEqual({
      ok: true,
      request: { jobId: JOB, change: { type: 'progress', progress: 100 } },
    });
  });

  it('reads { complete: true, content, isError: false } as done with result { content }', () => {
    const raw = JSON.stringify({ complete: true, content: 'all good', isError: false });
    expect(parseStreamMessage(JOB, raw)).toEqual({
      ok: true,
      request: { jobId: JOB, change: { type: 'done', result: { content: 'all good' } } },
    });
    expect(parseStreamMessage(JOB, JSON.stringify({ complete: true }))).toEqual({
      ok: true,
      request: { jobId: JOB, change: { type: 'done', result: { content: '' } } },
    });
  });

  it('reads { complete: true, content, isError: true } as an error with the content', () => {
    const raw = JSON.stringify({ complete: true, content: 'broke', isError: true });
    expect(parseStreamMessage(JOB, raw)).toEqual({
      ok: true,
      request: { jobId: JOB, change: { type: 'error', error: 'broke' } },
    });
    expect(parseStreamMessage(JOB, JSON.stringify({ complete: true, isError: true }))).toEqual({
      ok: true,
      request: { jobId: JOB, change: { type: 'error', error: 'failed' } },
    });
  });

  it.each(['', 'job-1', `${JOB}:extra`, `x${JOB}`])(
    'drops a channel that does not end in a job id (%j) as invalid',
    (jobId) => {
      expect(reasonOf(parseStreamMessage(jobId, JSON.stringify({ progress: 1 })))).toBe('invalid');
    },
  );

  it.each(['', 'nope', '{"progress":', 'null', '12', '"x"', '[1,2]'])(
    'drops %j as malformed',
    (raw) => {
      expect(reasonOf(parseStreamMessage(JOB, raw))).toBe('malformed');
    },
  );

  it.each<[string, Record<string, unknown>]>([
    ['no progress', { message: 'hi' }],
    ['progress -1', { message: 'x', progress: -1 }],
    ['progress 101', { message: 'x', progress: 101 }],
    ['progress 1.5', { message: 'x', progress: 1.5 }],
    ['progress "x"', { message: 'x', progress: 'x' }],
    ['progress null', { message: 'x', progress: null }],
    ['message a number', { message: 1, progress: 5 }],
    ['message too long', { message: 'm'.repeat(10_001), progress: 5 }],
    ['content a number', { complete: true, content: 42, isError: false }],
    ['content an object', { complete: true, content: { text: 'x' }, isError: false }],
    ['isError a string', { complete: true, content: 'x', isError: 'true' }],
    ['isError a number', { complete: true, content: 'x', isError: 1 }],
    ['complete not true and no progress', { complete: 'yes', content: 'x' }],
  ])('drops %s as invalid', (_label, body) => {
    expect(reasonOf(parseStreamMessage(JOB, JSON.stringify(body)))).toBe('invalid');
  });
});

describe('reports the database could not store (found by the fuzzer)', () => {
  let deep: unknown = 1;
  for (let i = 0; i < 40; i += 1) deep = [deep];

  it.each<[string, Record<string, unknown>]>([
    ['a NUL in the message', { jobId: JOB, status: 'progress', progress: 5, message: 'a\u0000' }],
    ['an unpaired surrogate in the error', { jobId: JOB, status: 'error', error: '\ud800' }],
    ['a NUL inside the result', { jobId: JOB, status: 'done', result: { text: 'x\u0000' } }],
    ['a result nested too deep', { jobId: JOB, status: 'done', result: { deep } }],
  ])('drops %s as invalid instead of failing to apply it', (_label, body) => {
    const parsed = status(body);
    expect(parsed).toMatchObject({ ok: false, reason: 'invalid' });
    expect(parsed.ok ? '' : parsed.detail).toMatch(/^report\./);
  });

  it('drops a stream report with a NUL in its content as invalid', () => {
    const raw = JSON.stringify({ complete: true, content: 'done\u0000', isError: false });
    expect(reasonOf(parseStreamMessage(JOB, raw))).toBe('invalid');
  });
});
