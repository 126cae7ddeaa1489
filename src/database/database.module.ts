import {
  Global,
  Inject,
  Injectable,
  Logger,
  Module,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { PrismaClient } from '../generated/prisma/client';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { pgliteDir } from '../config/database.config';
import { MIGRATIONS_DIR } from './migrator';
import { openDatabase } from './prisma-client.factory';
import { PRISMA, SQL, type SqlQuery } from './database.tokens';

const DATABASE_HANDLE = Symbol('DATABASE_HANDLE');

type DatabaseHandle = Awaited<ReturnType<typeof openDatabase>>;

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

@Global()
@Module({
  providers: [
    {
      provide: DATABASE_HANDLE,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => {
        const logger = new Logger('Database');
        return openDatabase({
          ...(config.databaseUrl !== undefined && { databaseUrl: config.databaseUrl }),
          dataDir: pgliteDir(config),
          migrationsDir: MIGRATIONS_DIR,
          migrate: true,
          log: (line) => logger.log(line),
        });
      },
    },
    {
      provide: PRISMA,
      inject: [DATABASE_HANDLE],
      useFactory: (handle: DatabaseHandle): PrismaClient => handle.prisma,
    },
    {
      provide: SQL,
      inject: [DATABASE_HANDLE],
      useFactory: (handle: DatabaseHandle): SqlQuery => handle.query,
    },
    DatabaseService,
  ],
  exports: [PRISMA, SQL, DatabaseService],
})
export class DatabaseModule {}
