import { Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { JobMetricsService, JOB_DURATION_BUCKETS } from '../core/job-metrics.service';
import { JobQueueService } from '../core/job-queue.service';
import { JobRegistry } from '../core/job-registry';
import { QUEUE_BOARD_PATH } from '../operations/queue-board';
import { JobEventsGateway } from '../realtime/job-events.gateway';

const QUEUE_STATES = [
  'waiting',
  'active',
  'prioritized',
  'delayed',
  'completed',
  'failed',
] as const;

type Labels = 'kind';

const DURATION = {
  name: 'conveyor_job_duration_seconds',
  help: 'Time from submit to the end of a job (done, error or cancelled), all processes',
  labelNames: ['kind'] as const,
  buckets: JOB_DURATION_BUCKETS,
};

/** A histogram whose buckets are read from Redis at scrape time (the cluster-wide totals). */
class StoredHistogram extends Histogram<Labels> {
  /** Never observed: it gives the metric object its shape (name, help, type). */
  private readonly shape = new Histogram<Labels>({
    ...DURATION,
    labelNames: ['kind'],
    registers: [],
  });

  constructor(private readonly jobMetrics: JobMetricsService) {
    super({ ...DURATION, labelNames: ['kind'], registers: [] });
  }

  /** What the registry calls when it renders text. */
  getForPromString(): ReturnType<Histogram<Labels>['get']> {
    return this.get();
  }

  override async get(): ReturnType<Histogram<Labels>['get']> {
    const [{ durations }, empty] = await Promise.all([
      this.jobMetrics.snapshot(),
      this.shape.get(),
    ]);
    const bounds: (number | string)[] = [...JOB_DURATION_BUCKETS, '+Inf'];
    return {
      ...empty,
      values: durations.flatMap(({ kind, buckets, sum, count }) => [
        ...bounds.map((le, index) => ({
          metricName: `${DURATION.name}_bucket`,
          labels: { kind, le },
          value: buckets[index] ?? 0,
        })),
        { metricName: `${DURATION.name}_sum`, labels: { kind }, value: sum },
        { metricName: `${DURATION.name}_count`, labels: { kind }, value: count },
      ]),
    };
  }
}

/**
 * The route label Express gave: the pattern of a route, a catch-all for a miss below the API
 * prefix, "unmatched" for any other miss and for files served from a directory (`*`) or pages
 * of the queue board outside its API.
 */
function routeLabel(request: FastifyRequest): string {
  const url = request.routeOptions.url;
  if (request.is404 || url === undefined) {
    return /^\/api\/v1\/./i.test(request.url) ? '/api/v1/{*splat}' : 'unmatched';
  }
  if (url.endsWith('*')) return 'unmatched';
  if (url.startsWith(QUEUE_BOARD_PATH) && !url.startsWith(`${QUEUE_BOARD_PATH}/api/`)) {
    return 'unmatched';
  }
  return url;
}

/**
 * The Prometheus registry of one api process. Job series come from Redis (the same totals on
 * every api instance); HTTP, socket and process series are this process's own.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private readonly http: Histogram<'method' | 'route' | 'status_code'>;

  constructor(
    jobMetrics: JobMetricsService,
    registry: JobRegistry,
    queues: JobQueueService,
    moduleRef: ModuleRef,
  ) {
    collectDefaultMetrics({ register: this.registry });
    this.registry.registerMetric(new StoredHistogram(jobMetrics));
    this.registry.registerMetric(
      new Counter({
        name: 'conveyor_jobs_total',
        help: 'Jobs that ended, by kind and final status, all processes (a retried job counts again)',
        labelNames: ['kind', 'status'],
        registers: [],
        async collect() {
          const { jobs } = await jobMetrics.snapshot();
          this.reset();
          for (const { kind, status, value } of jobs) this.inc({ kind, status }, value);
        },
      }),
    );
    this.registry.registerMetric(
      new Counter({
        name: 'conveyor_events_total',
        help: 'Job events persisted and published, by kind and event status, all processes',
        labelNames: ['kind', 'status'],
        registers: [],
        async collect() {
          const { events } = await jobMetrics.snapshot();
          this.reset();
          for (const { kind, status, value } of events) this.inc({ kind, status }, value);
        },
      }),
    );
    this.registry.registerMetric(
      new Counter({
        name: 'conveyor_llm_tokens_total',
        help: 'LLM tokens spent by finished jobs, by provider, model and direction, all processes',
        labelNames: ['provider', 'model', 'direction'],
        registers: [],
        async collect() {
          const { tokens } = await jobMetrics.snapshot();
          this.reset();
          for (const { provider, model, direction, value } of tokens) {
            this.inc({ provider, model, direction }, value);
          }
        },
      }),
    );
    this.registry.registerMetric(
      new Gauge({
        name: 'conveyor_queue_jobs',
        help: 'Entries in each kind’s BullMQ queue by state',
        labelNames: ['kind', 'state'],
        registers: [],
        async collect() {
          const stats = await Promise.all(registry.names().map((kind) => queues.stats(kind)));
          this.reset();
          for (const entry of stats) {
            for (const state of QUEUE_STATES) this.set({ kind: entry.kind, state }, entry[state]);
          }
        },
      }),
    );
    this.registry.registerMetric(
      new Gauge({
        name: 'conveyor_queue_paused',
        help: '1 when the kind’s queue is paused',
        labelNames: ['kind'],
        registers: [],
        async collect() {
          const stats = await Promise.all(registry.names().map((kind) => queues.stats(kind)));
          this.reset();
          for (const entry of stats) this.set({ kind: entry.kind }, entry.paused ? 1 : 0);
        },
      }),
    );
    this.registry.registerMetric(
      new Gauge({
        name: 'conveyor_socket_connections',
        help: 'Socket.IO connections open on this api process',
        registers: [],
        collect() {
          const gateway = moduleRef.get(JobEventsGateway, { strict: false });
          this.set(gateway.server?.sockets.sockets.size ?? 0);
        },
      }),
    );
    this.http = new Histogram({
      name: 'conveyor_http_request_duration_seconds',
      help: 'HTTP requests served by this api process, by method, route and status code',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
  }

  /**
   * Times a request from its first hook; the route label is the matched pattern, never the raw
   * URL, and "unmatched" for a request no route answered (`answeredBeforeRouting` says which
   * were answered before routing).
   */
  timeRequest(
    request: FastifyRequest,
    reply: FastifyReply,
    answeredBeforeRouting: (raw: object) => boolean,
  ): void {
    const stop = this.http.startTimer();
    reply.raw.once('finish', () => {
      stop({
        method: request.method,
        route: answeredBeforeRouting(request.raw) ? 'unmatched' : routeLabel(request),
        status_code: String(reply.raw.statusCode),
      });
    });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
