import { io, type Socket } from 'socket.io-client';
import type { JobEventView } from '../../src/core/job-event.view';
import { waitFor } from './wait';

export interface ReceivedEvent extends JobEventView {
  name: string;
}

export interface TestSocket {
  socket: Socket;
  events: ReceivedEvent[];
  close(): void;
}

/** A real socket.io-client connection that records every event it receives, in order. */
export function connectSocket(
  url: string,
  auth: { token?: string; lastEventId?: string },
): Promise<TestSocket> {
  const socket = io(url, { auth, transports: ['websocket'], reconnection: false, forceNew: true });
  const events: ReceivedEvent[] = [];
  socket.onAny((name: string, payload: JobEventView) => events.push({ name, ...payload }));
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve({ socket, events, close: () => socket.close() }));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

/** Connects with `token` (resuming after `lastEventId` if given) and keeps it in `opened` to close. */
export async function openSocket(
  url: string,
  token: string,
  opened: TestSocket[],
  lastEventId?: string,
): Promise<TestSocket> {
  const socket = await connectSocket(url, {
    token,
    ...(lastEventId !== undefined && { lastEventId }),
  });
  opened.push(socket);
  return socket;
}

/** Waits (bounded) for the socket to receive the named event of the job. */
export function waitForJobEvent(
  socket: TestSocket,
  jobId: string,
  name: string,
): Promise<ReceivedEvent> {
  return waitFor(`${name} of ${jobId}`, () =>
    Promise.resolve(socket.events.find((e) => e.jobId === jobId && e.name === name)),
  );
}

export function baseUrl(server: { address(): unknown }): string {
  const address = server.address() as { port: number };
  return `http://127.0.0.1:${address.port}`;
}
