import type { ServerResponse } from 'node:http';
import type { INestApplication, INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { SwaggerModule } from '@nestjs/swagger';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { runsApi, type AppConfig } from './config/app-config';
import type { JobKind } from './core/job.types';
import { externalJobKinds } from './core/external-kinds';
import { answerClientError } from './http/client-error';
import { errorBody, HttpExceptionFilter } from './http/http-exception.filter';
import { jsonBody, type RequestWithBody } from './http/json-body';
import { buildOpenApiDocument } from './http/openapi';
import { sendError } from './http/raw-response';
import { createValidationPipe } from './http/validation';
import { McpService } from './mcp/mcp.service';
import { MetricsService } from './metrics/metrics.service';
import { serveDashboard } from './operations/dashboard';
import { mountQueueBoard } from './operations/queue-board';

export const API_PREFIX = 'api/v1';

/** Node's own defaults, which the HTTP server kept before Fastify (Fastify's differ). */
const NODE_KEEP_ALIVE_MS = 5_000;
const NODE_REQUEST_TIMEOUT_MS = 300_000;
/** Route parameters as long as the URL may be: a long id is the route's to refuse, not the router's. */
const MAX_PARAM_LENGTH = 1 << 16;

/** A route's method and pattern, to tell a malformed parameter from a path no route has. */
interface RoutePattern {
  method: string;
  pattern: RegExp;
}

function patternOf(url: string): RegExp {
  const source = url
    .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
    .replace(/:[^/]+/g, '[^/]+')
    .replace(/\*/g, '.*');
  return new RegExp(`^${source}/?$`, 'i');
}

function createAdapter(routes: readonly RoutePattern[]): FastifyAdapter {
  return new FastifyAdapter({
    // Routing as it was: case-insensitive, a trailing slash ignored, parameters of any length.
    routerOptions: {
      caseSensitive: false,
      ignoreTrailingSlash: true,
      maxParamLength: MAX_PARAM_LENGTH,
    },
    keepAliveTimeout: NODE_KEEP_ALIVE_MS,
    requestTimeout: NODE_REQUEST_TIMEOUT_MS,
    // Requests on open connections are still served while the server closes.
    return503OnClosing: false,
    clientErrorHandler: answerClientError,
    // No id of Fastify's own: the request log gives one (from X-Request-Id) where it runs, and
    // answers with it, as it did on Express.
    genReqId: () => '',
    // A malformed percent-escape in a route parameter, named as the router before it did.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const url = request.raw.url ?? '';
      let status = error.statusCode ?? 400;
      let message = error.message;
      if (error.code === 'FST_ERR_BAD_URL') {
        ({ status, message } = badUrlAnswer(routes, request.raw.method ?? 'GET', url));
      }
      void reply
        .status(status)
        .header('Content-Type', 'application/json; charset=utf-8')
        .send(errorBody(status, message));
    },
  });
}

function decodes(segment: string): boolean {
  try {
    decodeURIComponent(segment);
    return true;
  } catch {
    return false;
  }
}

function badSegment(url: string): string | undefined {
  return (url.split(/[?#]/, 1)[0] ?? '').split('/').find((segment) => !decodes(segment));
}

/** Whether a route would take the undecodable segments of `url` as parameters (Express: 400). */
/**
 * What Express answered to a URL with a malformed percent-escape: 400 naming the parameter that
 * would hold it (the catch-all below the API prefix holds any), else 404 as for a path no route has.
 */
function badUrlAnswer(
  routes: readonly RoutePattern[],
  method: string,
  url: string,
): { status: number; message: string } {
  const bad = badSegment(url);
  if (bad !== undefined && routeWithParameterAt(routes, method, url)) {
    return { status: 400, message: `Failed to decode param '${bad}'` };
  }
  const path = url.split(/[?#]/, 1)[0] ?? '';
  const splat = /^\/api\/v1\/(.+)$/i.exec(path)?.[1];
  if (splat !== undefined) return { status: 400, message: `Failed to decode param '${splat}'` };
  return { status: 404, message: `Cannot ${method} ${url}` };
}

function routeWithParameterAt(
  routes: readonly RoutePattern[],
  method: string,
  url: string,
): boolean {
  const path = (url.split(/[?#]/, 1)[0] ?? '')
    .split('/')
    .map((segment) => (decodes(segment) ? segment : 'x'))
    .join('/');
  return routes.some((route) => route.method === method && route.pattern.test(path));
}

/**
 * What ran before Nest's middleware and routes on Express, in the same order, on the raw request:
 * the request timer, JSON bodies, /mcp, the queue board's session and the dashboard. It is the
 * adapter's first request hook, so it runs before Nest's middleware (the request log) as it did.
 * Fastify reads no body itself (every method is bodyless to it): body-parser's is the body.
 */
function addPreRouting(app: NestFastifyApplication, config: AppConfig): void {
  const fastify = app.getHttpAdapter().getInstance();
  const metrics = app.get(MetricsService);
  const parseJson = jsonBody(config.bodyLimitBytes);
  const mcp = app.get(McpService);
  const queueBoard = mountQueueBoard(app);
  for (const method of fastify.supportedMethods) {
    fastify.addHttpMethod(method, { hasBody: false, overrideExisting: true });
  }
  const answeredBeforeRouting = new WeakSet<object>();
  const answered = (request: FastifyRequest, reply: FastifyReply): void => {
    reply.hijack();
    answeredBeforeRouting.add(request.raw);
  };
  const hook = (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => {
    metrics.timeRequest(request, reply, (raw) => answeredBeforeRouting.has(raw));
    const req: RequestWithBody = request.raw;
    const res: ServerResponse = reply.raw;
    parseJson(req, res, (outcome) => {
      if (outcome === true) {
        answered(request, reply);
        return;
      }
      if (outcome !== undefined) {
        done(outcome as Error);
        return;
      }
      request.body = req.body;
      if (pathIsMcp(req)) {
        answered(request, reply);
        mcp.handle(req, res).catch((error: unknown) => failRaw(app, req, res, error));
        return;
      }
      let passed = false;
      queueBoard(req, res, () => {
        passed = true;
      });
      const dashboard = passed ? serveDashboard(req, res) : undefined;
      if (passed && dashboard === undefined) {
        done();
        return;
      }
      answered(request, reply);
      dashboard?.catch((error: unknown) => failRaw(app, req, res, error));
    });
  };
  (app.getHttpAdapter() as FastifyAdapter).setOnRequestHook(hook);
}

/** `/mcp` and below, without regard to case (as Express mounted it). */
function pathIsMcp(req: RequestWithBody): boolean {
  const url = (req.url ?? '').toLowerCase();
  return url === '/mcp' || /^\/mcp[/?#]/.test(url);
}

function failRaw(
  app: INestApplication,
  req: RequestWithBody,
  res: ServerResponse,
  error: unknown,
): void {
  app
    .get(Logger)
    .error(error instanceof Error ? (error.stack ?? error.message) : error, 'HttpError');
  if (res.headersSent) res.destroy();
  else sendError(req, res, 500, 'internal error');
}

function setUpHttp(
  app: NestFastifyApplication,
  config: AppConfig,
  kinds: readonly JobKind[],
  routes: RoutePattern[],
): void {
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onRoute', ({ method, url }) => {
    for (const one of [method].flat()) routes.push({ method: one, pattern: patternOf(url) });
  });
  // Express's res.send gave a string body of a type without a charset utf-8 (Swagger UI's page,
  // its YAML and script are sent so); Fastify sends the type as set.
  fastify.addHook('onSend', (_request, reply, payload, done) => {
    const type = reply.getHeader('content-type');
    if (typeof payload === 'string' && typeof type === 'string' && !type.includes('charset=')) {
      void reply.header('content-type', `${type}; charset=utf-8`);
    }
    done(null, payload);
  });
  addPreRouting(app, config);
  app.setGlobalPrefix(API_PREFIX, { exclude: ['health/live', 'health/ready', 'metrics'] });
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new HttpExceptionFilter());
  SwaggerModule.setup('docs', app, buildOpenApiDocument(app, { kinds }));
}

/**
 * Builds the service for its role: api and all get HTTP, worker gets a bare context.
 * The app is initialised (its Fastify instance ready) but not listening.
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
  const routes: RoutePattern[] = [];
  const app = await NestFactory.create<NestFastifyApplication>(module, createAdapter(routes), {
    bodyParser: false,
    bufferLogs: true,
  });
  app.useLogger(app.get(Logger));
  app.enableShutdownHooks();
  setUpHttp(app, config, allKinds, routes);
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

export function isHttpApp(
  app: INestApplication | INestApplicationContext,
): app is INestApplication {
  return 'getHttpServer' in app;
}
