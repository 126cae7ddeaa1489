import type { Server } from 'node:http';
import type { INestApplication, INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { SwaggerModule } from '@nestjs/swagger';
import { json, type Application, type NextFunction, type Request, type Response } from 'express';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { runsApi, type AppConfig } from './config/app-config';
import type { JobKind } from './core/job.types';
import { externalJobKinds } from './core/external-kinds';
import { answerClientError } from './http/client-error';
import { bodyParserErrorHandler, HttpExceptionFilter } from './http/http-exception.filter';
import { buildOpenApiDocument } from './http/openapi';
import { createValidationPipe } from './http/validation';
import { McpService } from './mcp/mcp.service';
import { MetricsService } from './metrics/metrics.service';
import { mountDashboard } from './operations/dashboard';
import { mountQueueBoard } from './operations/queue-board';

export const API_PREFIX = 'api/v1';

function setUpHttp(app: INestApplication, config: AppConfig, kinds: readonly JobKind[]): void {
  (app.getHttpServer() as Server).on('clientError', answerClientError);
  // Job answers change with every poll: hashing each body for an ETag costs more than it saves.
  const express = app.getHttpAdapter().getInstance() as Application;
  express.set('etag', false);
  express.disable('x-powered-by');
  app.use(app.get(MetricsService).httpMiddleware);
  app.use(json({ limit: config.bodyLimitBytes }));
  app.use(bodyParserErrorHandler(config.bodyLimitBytes));
  const mcp = app.get(McpService);
  app.use('/mcp', (req: Request, res: Response, next: NextFunction) => {
    mcp.handle(req, res).catch(next);
  });
  mountQueueBoard(app);
  mountDashboard(app);
  app.setGlobalPrefix(API_PREFIX, { exclude: ['health/live', 'health/ready', 'metrics'] });
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new HttpExceptionFilter());
  SwaggerModule.setup('docs', app, buildOpenApiDocument(app, { kinds }));
}

/**
 * Builds the service for its role: api and all get HTTP, worker gets a bare context.
 * The app is initialised but not listening.
 */
export async function createConveyor(
  config: AppConfig,
  kinds: readonly JobKind[],
): Promise<INestApplication | INestApplicationContext> {
  const allKinds = [...kinds, ...externalJobKinds(config.externalKinds, kinds)];
  const module = AppModule.forRoot(config, allKinds);
  if (!runsApi(config)) {
    const context = await NestFactory.createApplicationContext(module, { bufferLogs: true });
    context.useLogger(context.get(Logger));
    context.enableShutdownHooks();
    return context;
  }
  const app = await NestFactory.create(module, { bodyParser: false, bufferLogs: true });
  app.useLogger(app.get(Logger));
  app.enableShutdownHooks();
  setUpHttp(app, config, allKinds);
  await app.init();
  return app;
}

export function isHttpApp(
  app: INestApplication | INestApplicationContext,
): app is INestApplication {
  return 'getHttpServer' in app;
}
