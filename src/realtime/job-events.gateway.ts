import { Logger } from '@nestjs/common';
import {
  WebSocketGateway,
  WebSocketServer,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
  type OnGatewayInit,
} from '@nestjs/websockets';
import type { Server } from 'socket.io';
import { InvalidTokenError, JwtService } from '../auth/jwt.service';
import type { PublishedJobEvent } from '../core/job-event-bus';
import { JobRepository } from '../core/job.repository';
import {
  userRoom,
  type ClientToServerEvents,
  type InterServerEvents,
  type JobSocket,
  type ServerToClientEvents,
  type SocketData,
} from './realtime.types';
import { UserEventFeed, type EventSink } from './user-event-feed';

const EVENT_ID = /^\d{1,18}$/;

/**
 * Socket.IO on the HTTP port, default namespace. A socket must present a valid token, joins its
 * user's room only, and receives that user's events through its own UserEventFeed.
 */
@WebSocketGateway({ cors: { origin: true, credentials: true } })
export class JobEventsGateway implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect {
  private readonly logger = new Logger(JobEventsGateway.name);
  private readonly feeds = new Map<string, Map<string, UserEventFeed>>();

  @WebSocketServer()
  server!: Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

  constructor(
    private readonly jwt: JwtService,
    private readonly events: JobRepository,
  ) {}

  afterInit(server: Server): void {
    server.use((socket, next) => {
      const auth = (socket.handshake.auth ?? {}) as { token?: unknown; lastEventId?: unknown };
      const data = socket.data as SocketData;
      try {
        if (typeof auth.token !== 'string' || auth.token === '') {
          throw new InvalidTokenError('auth.token is required');
        }
        const user = this.jwt.verify(auth.token);
        const { lastEventId } = auth;
        if (lastEventId !== undefined && lastEventId !== null) {
          if (typeof lastEventId !== 'string' || !EVENT_ID.test(lastEventId)) {
            throw new InvalidTokenError('auth.lastEventId must be an eventId string');
          }
        }
        data.user = user;
        data.lastEventId = typeof lastEventId === 'string' ? BigInt(lastEventId) : undefined;
        data.lastEventIdIsCurrent = false;
      } catch (error) {
        const reason = error instanceof InvalidTokenError ? error.message : 'authentication failed';
        return next(new Error(`unauthorized: ${reason}`));
      }
      if (data.lastEventId !== undefined) return next();
      // A socket without lastEventId is live from here: fixed before the client hears it is
      // connected, so whatever the client does next (submit a job) is sure to reach it.
      this.events.latestUserEventId(data.user.id).then(
        (latest) => {
          data.lastEventId = latest ?? 0n;
          data.lastEventIdIsCurrent = true;
          next();
        },
        (error: Error) => {
          this.logger.warn(`socket refused, events unreadable: ${error.message}`);
          next(new Error('unavailable: the event store cannot be read; try again'));
        },
      );
    });
  }

  async handleConnection(socket: JobSocket): Promise<void> {
    const { user, lastEventId, lastEventIdIsCurrent } = socket.data;
    await socket.join(userRoom(user.id));
    const feed = new UserEventFeed(socketSink(socket), user.id, this.events, (error) =>
      this.logger.warn(`socket ${socket.id}: ${(error as Error).message}`),
    );
    let userFeeds = this.feeds.get(user.id);
    if (!userFeeds) this.feeds.set(user.id, (userFeeds = new Map<string, UserEventFeed>()));
    userFeeds.set(socket.id, feed);
    await feed.start(lastEventId, lastEventIdIsCurrent);
  }

  handleDisconnect(socket: JobSocket): void {
    const userId = socket.data.user?.id;
    if (userId === undefined) return;
    const userFeeds = this.feeds.get(userId);
    userFeeds?.get(socket.id)?.close();
    userFeeds?.delete(socket.id);
    if (userFeeds?.size === 0) this.feeds.delete(userId);
  }

  deliver(event: PublishedJobEvent): void {
    for (const feed of this.feeds.get(event.userId)?.values() ?? []) void feed.offer(event);
  }

  resumeAll(): void {
    for (const userFeeds of this.feeds.values()) {
      for (const feed of userFeeds.values()) void feed.resume();
    }
  }
}

/** A socket gets each event under its `kind:status` name. */
export function socketSink(socket: JobSocket): EventSink {
  return {
    emit: (event) => socket.emit(`${event.kind}:${event.status}`, event),
    resync: (notice) => socket.emit('resync', notice),
    disconnect: () => socket.disconnect(true),
  };
}
