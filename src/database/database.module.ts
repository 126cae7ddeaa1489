import { Global, Logger, Module } from '@nestjs/common';
import type { PrismaClient } from '../generated/prisma/client';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { pgliteDir } from '../config/database.config';
import { DATABASE_HANDLE, DatabaseService, type DatabaseHandle } from './database.service';
import { MIGRATIONS_DIR } from './migrator';
import { openDatabase } from './prisma-client.factory';
import { PRISMA, SQL, type SqlQuery } from './database.tokens';

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
