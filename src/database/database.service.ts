import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { openDatabase } from './prisma-client.factory';

export const DATABASE_HANDLE = Symbol('DATABASE_HANDLE');

export type DatabaseHandle = Awaited<ReturnType<typeof openDatabase>>;

/** Liveness of the database and the handle's closing; the only non-repository user of Prisma. */
@Injectable()
export class DatabaseService implements OnApplicationShutdown {
  constructor(@Inject(DATABASE_HANDLE) private readonly handle: DatabaseHandle) {}

  async ping(): Promise<boolean> {
    try {
      await this.handle.prisma.$queryRaw`SELECT 1`;
      return true;
    } catch {
      return false;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.handle.close();
  }
}
