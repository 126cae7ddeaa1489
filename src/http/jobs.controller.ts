import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentUser } from '../auth/auth.decorators';
import type { AuthUser } from '../auth/jwt.service';
import { JobEventsQuery, ListJobsQuery } from './dto/list-jobs.query';
import { JobEventPageView, JobPageView, JobView } from './dto/job.view';
import { SubmitJobDto } from '../core/dto/submit-job.dto';
import { JobService } from '../core/job.service';

@ApiTags('jobs')
@ApiBearerAuth()
@Controller('jobs')
export class JobsController {
  constructor(private readonly jobs: JobService) {}

  @Post(':kind')
  @HttpCode(202)
  @ApiOperation({ summary: 'Submit a job of a registered kind' })
  @ApiHeader({ name: 'Idempotency-Key', required: false })
  @ApiAcceptedResponse({ type: JobView })
  async submit(
    @CurrentUser() user: AuthUser,
    @Param('kind') kind: string,
    @Body() body: SubmitJobDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<JobView> {
    const { job } = await this.jobs.submit(user.id, kind, body, idempotencyKey);
    res.header('Location', `/api/v1/jobs/${job.id}`);
    return JobView.from(job);
  }

  @Get()
  @ApiOperation({ summary: "The caller's jobs, newest first" })
  @ApiOkResponse({ type: JobPageView })
  async list(@CurrentUser() user: AuthUser, @Query() query: ListJobsQuery): Promise<JobPageView> {
    const page = await this.jobs.list(user.id, query);
    return { items: page.items.map((job) => JobView.from(job)), nextCursor: page.nextCursor };
  }

  @Get(':id')
  @ApiOperation({ summary: 'One job: status, progress, result, error, timestamps' })
  @ApiOkResponse({ type: JobView })
  async get(@CurrentUser() user: AuthUser, @Param('id') id: string): Promise<JobView> {
    const job = await this.jobs.get(user.id, id);
    return JobView.from(job, await this.jobs.steps(job));
  }

  @Get(':id/events')
  @ApiOperation({ summary: "The job's events after a cursor, oldest first" })
  @ApiOkResponse({ type: JobEventPageView })
  events(
    @CurrentUser() user: AuthUser,
    @Param('id') id: string,
    @Query() query: JobEventsQuery,
  ): Promise<JobEventPageView> {
    return this.jobs.events(user.id, id, query.after, query.limit);
  }

  @Get(':id/log')
  @ApiOperation({ summary: "The job's output as text (the tail, when it outgrew the cap)" })
  @ApiProduces('text/plain')
  @ApiOkResponse({ schema: { type: 'string' } })
  async log(
    @CurrentUser() user: AuthUser,
    @Param('id') id: string,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<string> {
    const { content, truncated } = await this.jobs.log(user.id, id);
    res.header('Content-Type', 'text/plain; charset=utf-8');
    res.header('X-Log-Truncated', String(truncated));
    return content;
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel a queued or running job' })
  @ApiOkResponse({ type: JobView })
  async cancel(@CurrentUser() user: AuthUser, @Param('id') id: string): Promise<JobView> {
    return JobView.from(await this.jobs.cancel(user.id, id));
  }

  @Post(':id/retry')
  @HttpCode(202)
  @ApiOperation({ summary: 'Run again a job that ended in error' })
  @ApiAcceptedResponse({ type: JobView })
  async retry(@CurrentUser() user: AuthUser, @Param('id') id: string): Promise<JobView> {
    return JobView.from(await this.jobs.retry(user.id, id));
  }
}
