import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import type { ServerResponse } from 'node:http';
import { FastifyAdapter } from '@bull-board/fastify';
import { getQueueToken } from '@nestjs/bullmq';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Queue } from 'bullmq';
import { JwtService } from '../auth/jwt.service';
import { JobRegistry } from '../core/job-registry';
import type { RequestWithBody } from '../http/json-body';
import { adminSession, pathBelow } from './admin-session';

export const QUEUE_BOARD_PATH = '/admin/queues/ui';

function signInPage(basePath: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Conveyor queues: sign in</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>body{font:15px system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}
input,button{font:inherit;padding:.4rem;width:100%;box-sizing:border-box;margin:.3rem 0}
#error{color:#b00020}</style></head>
<body><h1>Queues</h1><p>Sign in with an admin token (<code>npm run token -- --sub you --admin</code>).</p>
<form id="signin"><input id="token" type="password" autocomplete="off" placeholder="admin JWT" required>
<button type="submit">Sign in</button></form><p id="error" role="alert"></p>
<script>
document.getElementById('signin').addEventListener('submit', async (event) => {
  event.preventDefault();
  const res = await fetch('${basePath}/session', { method: 'POST', credentials: 'same-origin',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: document.getElementById('token').value.trim() }) });
  if (res.ok) { location.replace('${basePath}/'); return; }
  document.getElementById('error').textContent = (await res.json()).message;
});
</script></body></html>`;
}

/** Answers (or lets through) a raw request; `next` is called only when it goes on. */
export type QueueBoardGate = (req: RequestWithBody, res: ServerResponse, next: () => void) => void;

/**
 * bull-board over the queue of every kind Conveyor runs, read-only: a retry or removal there would
 * change BullMQ without the Job row; operators act through the REST API, which goes through
 * the job lifecycle. Its routes are a Fastify plugin under QUEUE_BOARD_PATH; the returned gate
 * (the admin session) runs on every request before routing and passes only those below the
 * path that carry an admin token or cookie.
 */
export function mountQueueBoard(app: NestFastifyApplication): QueueBoardGate {
  const registry = app.get(JobRegistry);
  const serverAdapter = new FastifyAdapter().setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    // External kinds have a Redis list, not a BullMQ queue: their jobs are in the REST views.
    queues: registry.internal().map(
      ({ kind }) =>
        new BullMQAdapter(app.get<Queue>(getQueueToken(kind.name), { strict: false }), {
          readOnlyMode: true,
        }),
    ),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Conveyor' } },
  });
  // Registered on Fastify directly: it loads with the other plugins when the server gets ready.
  void app
    .getHttpAdapter()
    .getInstance()
    .register(serverAdapter.registerPlugin(), { prefix: QUEUE_BOARD_PATH });
  const session = adminSession(app.get(JwtService), {
    basePath: QUEUE_BOARD_PATH,
    cookie: 'conveyor_board',
    signInPage,
  });
  return (req, res, next) => {
    if (pathBelow(req, QUEUE_BOARD_PATH) === undefined) next();
    else session(req, res, next);
  };
}
