import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequireRole } from '../auth/auth.decorators';
import { CleanQueueDto } from './dto/list-jobs.query';
import { CleanResultView, QueueStatsView } from './dto/job.view';
import { JobQueueService } from '../core/job-queue.service';
import { JobRegistry } from '../core/job-registry';

@ApiTags('admin')
@ApiBearerAuth()
@RequireRole('admin')
@Controller('admin/queues')
export class AdminController {
  constructor(
    private readonly registry: JobRegistry,
    private readonly queues: JobQueueService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Counts of every kind’s queue' })
  @ApiOkResponse({ type: [QueueStatsView] })
  stats(): Promise<QueueStatsView[]> {
    return Promise.all(this.registry.names().map((kind) => this.queues.stats(kind)));
  }

  @Post(':kind/pause')
  @HttpCode(200)
  @ApiOperation({ summary: 'Stop handing out jobs of this kind' })
  @ApiOkResponse({ type: QueueStatsView })
  async pause(@Param('kind') kind: string): Promise<QueueStatsView> {
    this.registry.get(kind);
    await this.queues.pause(kind);
    return this.queues.stats(kind);
  }

  @Post(':kind/resume')
  @HttpCode(200)
  @ApiOperation({ summary: 'Hand out jobs of this kind again' })
  @ApiOkResponse({ type: QueueStatsView })
  async resume(@Param('kind') kind: string): Promise<QueueStatsView> {
    this.registry.get(kind);
    await this.queues.resume(kind);
    return this.queues.stats(kind);
  }

  @Post(':kind/clean')
  @HttpCode(200)
  @ApiOperation({ summary: 'Remove finished queue entries older than a grace period' })
  @ApiOkResponse({ type: CleanResultView })
  async clean(@Param('kind') kind: string, @Body() body: CleanQueueDto): Promise<CleanResultView> {
    this.registry.get(kind);
    const removed = await this.queues.clean(kind, body.graceMs ?? 3_600_000, body.limit ?? 1000);
    return { kind, ...removed };
  }
}
