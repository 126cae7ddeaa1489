import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BullModule } from '@nestjs/bullmq';
import { Module, RequestMethod, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import { stdSerializers } from 'pino';
import { AuthGuard } from './auth/auth.guard';
import { AuthModule } from './auth/auth.module';
import { runsApi, type AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { logsArePretty } from './config/operations.config';
import { JobCoreModule } from './core/job-core.module';
import { LlmModule } from './llm/llm.module';
import type { JobKind } from './core/job.types';
import { DatabaseModule } from './database/database.module';
import { HealthController } from './health/health.controller';
import { JobsApiModule } from './http/jobs-api.module';
import { OperationsModule } from './operations/operations.module';
import { RedisService } from './redis/redis.service';
import { ProjectsModule } from './projects/projects.module';
import { McpModule } from './mcp/mcp.module';
import { RealtimeModule } from './realtime/realtime.module';
import { RedisModule } from './redis/redis.module';
import { SearchModule } from './search/search.module';

const REQUEST_ID = /^[\w.:-]{1,128}$/;

function logsInfo(level: AppConfig['logLevel']): boolean {
  return ['info', 'debug', 'trace'].includes(level);
}

function requestId(req: IncomingMessage, res: ServerResponse): string {
  const incoming = req.headers['x-request-id'];
  const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
  res.setHeader('x-request-id', id);
  return id;
}

@Module({})
export class AppModule {
  static forRoot(config: AppConfig, kinds: readonly JobKind[]): DynamicModule {
    const api = runsApi(config);
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggerModule.forRoot({
          forRoutes: [{ path: '{*splat}', method: RequestMethod.ALL }],
          pinoHttp: {
            level: config.logLevel,
            ...(logsArePretty(config, process.stdout.isTTY === true) && {
              transport: {
                target: 'pino-pretty',
                options: { singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'hostname' },
              },
            }),
            base: { role: config.role, pid: process.pid },
            genReqId: requestId,
            redact: {
              paths: [
                'req.headers.authorization',
                'req.headers.cookie',
                'req.headers["x-api-key"]',
              ],
              censor: '[redacted]',
            },
            // Request lines are logged at info: below that level skip the per-request work.
            autoLogging: logsInfo(config.logLevel)
              ? {
                  // The path as sent: middleware sees the part below its mount in `url`.
                  ignore: (req: IncomingMessage & { originalUrl?: string }) =>
                    (req.originalUrl ?? req.url ?? '').startsWith('/health'),
                }
              : false,
            // Every request binds itself to a child logger, serialised and redacted at once even
            // when no request line is written: below info, bind only what a warning needs.
            ...(!logsInfo(config.logLevel) && {
              wrapSerializers: false,
              serializers: {
                req: (req: IncomingMessage & { id?: unknown }) => ({
                  id: req.id,
                  method: req.method,
                  url: req.url,
                }),
                res: stdSerializers.res,
                err: stdSerializers.err,
              },
            }),
            customLogLevel: (_req, res, error) =>
              error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
          },
        }),
        RedisModule,
        AuthModule,
        DatabaseModule,
        BullModule.forRootAsync({
          inject: [RedisService],
          useFactory: (redis: RedisService) => ({ connection: redis.bullConnection('queue') }),
        }),
        ProjectsModule.forRoot(api),
        LlmModule.forRoot(api),
        JobCoreModule.forRoot(config, kinds),
        ...(api ? [JobsApiModule, RealtimeModule, McpModule, SearchModule, OperationsModule] : []),
      ],
      controllers: api ? [HealthController] : [],
      providers: api ? [{ provide: APP_GUARD, useClass: AuthGuard }] : [],
    };
  }
}
