import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Loopback servers that speak the real streaming wire protocols of the LLM APIs, so tests go
 * through the real AI SDK provider packages: OpenAI Chat Completions (also xAI and any
 * OpenAI-compatible server), OpenAI Responses, Anthropic Messages and Gemini
 * streamGenerateContent (SSE).
 */
export type FakeProtocol = 'openai-chat' | 'openai-responses' | 'anthropic' | 'gemini';

export interface FakeReply {
  /** Answer this HTTP status with the protocol's error body instead of a stream. */
  status?: number;
  errorMessage?: string;
  /** The text, one SSE delta per entry. */
  tokens?: string[];
  /** Pause between deltas. */
  tokenDelayMs?: number;
  /** Hold the response (headers unsent) until this resolves. */
  hold?: Promise<void>;
  /** After this many deltas, break the stream as `breakWith` says. */
  breakAfter?: number;
  /** drop: destroy the socket; hang: send nothing more; error-event: the protocol's in-stream error. */
  breakWith?: 'drop' | 'hang' | 'error-event';
  usage?: { input: number; output: number };
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

export interface FakeLlmServer {
  readonly protocol: FakeProtocol;
  /** The base URL to configure (`<P>_BASE_URL`). */
  readonly baseURL: string;
  readonly port: number;
  readonly requests: RecordedRequest[];
  /** Emits 'request' (RecordedRequest), 'delta' (index) and 'client-closed' (path). */
  readonly events: EventEmitter;
  /** Connections the client closed before the answer was complete. */
  clientClosed: number;
  /** Queue a reply for the next request; without one the default reply is sent. */
  reply(reply: FakeReply): void;
  setDefault(reply: FakeReply): void;
  /** Answer by what was asked (before the queue): a reply, or undefined to fall through. */
  respond(pick: ((request: RecordedRequest) => FakeReply | undefined) | undefined): void;
  close(): Promise<void>;
}

const MODEL = 'fake-model';

function sse(res: ServerResponse, data: unknown, event?: string): void {
  res.write(`${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`);
}

function errorBody(protocol: FakeProtocol, status: number, message: string): unknown {
  switch (protocol) {
    case 'anthropic': {
      const type =
        status === 529
          ? 'overloaded_error'
          : status === 429
            ? 'rate_limit_error'
            : status === 401
              ? 'authentication_error'
              : status >= 500
                ? 'api_error'
                : 'invalid_request_error';
      return { type: 'error', error: { type, message } };
    }
    case 'gemini':
      return {
        error: {
          code: status,
          message,
          status: status === 429 ? 'RESOURCE_EXHAUSTED' : 'INVALID_ARGUMENT',
        },
      };
    default:
      return {
        error: {
          message,
          type: status === 429 ? 'rate_limit_exceeded' : 'invalid_request_error',
          code: null,
        },
      };
  }
}

/** One protocol's stream: how it opens, carries a delta, errors in-stream and finishes. */
interface StreamWriter {
  open(): void;
  delta(text: string): void;
  error(message: string): void;
  finish(usage: { input: number; output: number }): void;
}

function writer(protocol: FakeProtocol, res: ServerResponse): StreamWriter {
  const created = Math.floor(Date.now() / 1000);
  let full = '';
  switch (protocol) {
    case 'openai-chat': {
      const chunk = (delta: Record<string, unknown>, finish: string | null, extra = {}) => ({
        id: 'chatcmpl-fake',
        object: 'chat.completion.chunk',
        created,
        model: MODEL,
        choices: [{ index: 0, delta, finish_reason: finish }],
        ...extra,
      });
      return {
        open: () => sse(res, chunk({ role: 'assistant', content: '' }, null)),
        delta: (text) => sse(res, chunk({ content: text }, null)),
        error: (message) => sse(res, { error: { message, type: 'server_error', code: null } }),
        finish: ({ input, output }) => {
          sse(res, chunk({}, 'stop'));
          sse(res, {
            id: 'chatcmpl-fake',
            object: 'chat.completion.chunk',
            created,
            model: MODEL,
            choices: [],
            usage: {
              prompt_tokens: input,
              completion_tokens: output,
              total_tokens: input + output,
            },
          });
          res.write('data: [DONE]\n\n');
        },
      };
    }
    case 'openai-responses': {
      let sequence = 0;
      const event = (type: string, data: Record<string, unknown>) =>
        sse(res, { type, sequence_number: sequence++, ...data }, type);
      return {
        open: () => {
          event('response.created', {
            response: {
              id: 'resp_fake',
              object: 'response',
              created_at: created,
              model: MODEL,
              status: 'in_progress',
              output: [],
            },
          });
          event('response.output_item.added', {
            output_index: 0,
            item: {
              type: 'message',
              id: 'msg_fake',
              status: 'in_progress',
              role: 'assistant',
              content: [],
            },
          });
          event('response.content_part.added', {
            item_id: 'msg_fake',
            output_index: 0,
            content_index: 0,
            part: { type: 'output_text', text: '', annotations: [] },
          });
        },
        delta: (text) => {
          full += text;
          event('response.output_text.delta', {
            item_id: 'msg_fake',
            output_index: 0,
            content_index: 0,
            delta: text,
          });
        },
        error: (message) => event('error', { code: 'server_error', message, param: null }),
        finish: ({ input, output }) => {
          event('response.output_item.done', {
            output_index: 0,
            item: {
              type: 'message',
              id: 'msg_fake',
              status: 'completed',
              role: 'assistant',
              content: [{ type: 'output_text', text: full, annotations: [] }],
            },
          });
          event('response.completed', {
            response: {
              id: 'resp_fake',
              object: 'response',
              created_at: created,
              model: MODEL,
              status: 'completed',
              usage: {
                input_tokens: input,
                input_tokens_details: { cached_tokens: 0 },
                output_tokens: output,
                output_tokens_details: { reasoning_tokens: 0 },
                total_tokens: input + output,
              },
            },
          });
        },
      };
    }
    case 'anthropic':
      return {
        open: () => {
          sse(
            res,
            {
              type: 'message_start',
              message: {
                id: 'msg_fake',
                type: 'message',
                role: 'assistant',
                model: MODEL,
                content: [],
                stop_reason: null,
                stop_sequence: null,
                usage: { input_tokens: 0, output_tokens: 1 },
              },
            },
            'message_start',
          );
          sse(
            res,
            { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
            'content_block_start',
          );
          sse(res, { type: 'ping' }, 'ping');
        },
        delta: (text) =>
          sse(
            res,
            { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } },
            'content_block_delta',
          ),
        error: (message) =>
          sse(res, { type: 'error', error: { type: 'overloaded_error', message } }, 'error'),
        finish: ({ input, output }) => {
          sse(res, { type: 'content_block_stop', index: 0 }, 'content_block_stop');
          sse(
            res,
            {
              type: 'message_delta',
              delta: { stop_reason: 'end_turn', stop_sequence: null },
              usage: { input_tokens: input, output_tokens: output },
            },
            'message_delta',
          );
          sse(res, { type: 'message_stop' }, 'message_stop');
        },
      };
    case 'gemini': {
      return {
        open: () => undefined,
        delta: (text) => {
          sse(res, {
            candidates: [{ content: { parts: [{ text }], role: 'model' }, index: 0 }],
            modelVersion: MODEL,
          });
        },
        error: (message) => sse(res, { error: { code: 503, message, status: 'UNAVAILABLE' } }),
        finish: ({ input, output }) => {
          sse(res, {
            candidates: [
              { content: { parts: [{ text: '' }], role: 'model' }, finishReason: 'STOP', index: 0 },
            ],
            usageMetadata: {
              promptTokenCount: input,
              candidatesTokenCount: output,
              totalTokenCount: input + output,
            },
            modelVersion: MODEL,
          });
        },
      };
    }
  }
}

function routeMatches(protocol: FakeProtocol, path: string): boolean {
  switch (protocol) {
    case 'openai-chat':
      return path.endsWith('/chat/completions');
    case 'openai-responses':
      return path.endsWith('/responses');
    case 'anthropic':
      return path.endsWith('/messages');
    case 'gemini':
      return path.includes(':streamGenerateContent');
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startFakeLlm(
  protocol: FakeProtocol,
  defaults: FakeReply = { tokens: ['Hello', ', ', 'world'] },
): Promise<FakeLlmServer> {
  const queue: FakeReply[] = [];
  let fallback = defaults;
  let responder: ((request: RecordedRequest) => FakeReply | undefined) | undefined;
  const events = new EventEmitter();
  const requests: RecordedRequest[] = [];
  const state = { clientClosed: 0 };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const path = req.url ?? '/';
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    } catch {
      body = {};
    }
    const recorded = { method: req.method ?? 'GET', path, headers: req.headers, body };
    requests.push(recorded);
    res.on('close', () => {
      if (!res.writableFinished) {
        state.clientClosed += 1;
        events.emit('client-closed', path);
      }
    });
    events.emit('request', recorded);
    if (req.method !== 'POST' || !routeMatches(protocol, path)) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(errorBody(protocol, 404, `no route ${path}`)));
      return;
    }
    const reply = responder?.(recorded) ?? queue.shift() ?? fallback;
    if (reply.hold) await reply.hold;
    if (res.destroyed) return;
    if (reply.status !== undefined) {
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          errorBody(protocol, reply.status, reply.errorMessage ?? `fake error ${reply.status}`),
        ),
      );
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    const out = writer(protocol, res);
    out.open();
    const tokens = reply.tokens ?? [];
    for (const [index, token] of tokens.entries()) {
      if (index > 0 && reply.tokenDelayMs) await pause(reply.tokenDelayMs);
      if (reply.breakAfter === index) break;
      if (res.destroyed) return;
      out.delta(token);
      events.emit('delta', index);
    }
    if (reply.breakAfter !== undefined && reply.breakAfter <= tokens.length) {
      if (reply.breakWith === 'drop') {
        res.socket?.destroy();
        return;
      }
      if (reply.breakWith === 'hang') return;
      out.error(reply.errorMessage ?? 'Overloaded');
      res.end();
      return;
    }
    const usage = reply.usage ?? { input: 11, output: tokens.length };
    out.finish(usage);
    res.end();
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${port}`;
  return {
    protocol,
    baseURL: protocol === 'gemini' ? `${base}/v1beta` : `${base}/v1`,
    port,
    requests,
    events,
    get clientClosed() {
      return state.clientClosed;
    },
    set clientClosed(value: number) {
      state.clientClosed = value;
    },
    reply: (reply) => queue.push(reply),
    setDefault: (reply) => {
      fallback = reply;
    },
    respond: (pick) => {
      responder = pick;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
