import type { Socket } from 'socket.io';
import type { AuthUser } from '../auth/jwt.service';
import type { JobEventView } from '../core/job-event.view';
import type { JobEventStatus } from '../core/job.types';

export type JobEventName = `${string}:${JobEventStatus}`;

/** Sent instead of a replay when the client's lastEventId is no longer retained. */
export interface ResyncNotice {
  reason: string;
  lastEventId: string;
}

export interface ServerToClientEvents {
  [event: JobEventName]: (event: JobEventView) => void;
  resync: (notice: ResyncNotice) => void;
}

export type ClientToServerEvents = Record<string, never>;
export type InterServerEvents = Record<string, never>;

export interface SocketData {
  user: AuthUser;
  lastEventId: bigint | undefined;
  /** lastEventId was read from the database at connect, not sent by the client: it exists. */
  lastEventIdIsCurrent: boolean;
}

export type JobSocket = Socket<
  ClientToServerEvents,
  ServerToClientEvents,
  InterServerEvents,
  SocketData
>;

export function userRoom(userId: string): string {
  return `user:${userId}`;
}
