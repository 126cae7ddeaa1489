import { Controller, Get, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiGoneResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { CurrentUser } from '../auth/auth.decorators';
import type { AuthUser } from '../auth/jwt.service';
import { JobEventsQuery } from './dto/list-jobs.query';
import { JobEventPageView } from './dto/job.view';
import { JobService } from '../core/job.service';

@ApiTags('jobs')
@ApiBearerAuth()
@Controller('events')
export class EventsController {
  constructor(private readonly jobs: JobService) {}

  @Get()
  @ApiOperation({
    summary: "The caller's events across all their jobs after a cursor, oldest first",
    description:
      'The polling twin of the Socket.IO feed. Without `after` it answers no events and the ' +
      "newest event's id as `nextCursor`, to follow from there. A non-null `nextCursor` means " +
      'ask again at once with it as `after`; null means this was the newest, so poll on later ' +
      "with the last item's eventId.",
  })
  @ApiOkResponse({ type: JobEventPageView })
  @ApiGoneResponse({ description: '`after` is no longer retained: refetch job state' })
  events(@CurrentUser() user: AuthUser, @Query() query: JobEventsQuery): Promise<JobEventPageView> {
    return this.jobs.userEvents(user.id, query.after, query.limit);
  }
}
