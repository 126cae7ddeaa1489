import { Controller, Get, HttpStatus, Res } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/auth.decorators';
import { DatabaseService } from '../database/database.service';
import { RedisService } from '../redis/redis.service';

type Check = 'up' | 'down';

const CHECK_TIMEOUT_MS = 2000;

function within(check: Promise<boolean>): Promise<Check> {
  const timeout = new Promise<boolean>((resolve) =>
    setTimeout(resolve, CHECK_TIMEOUT_MS, false).unref(),
  );
  return Promise.race([check, timeout]).then((up) => (up ? 'up' : 'down'));
}

@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly redis: RedisService,
    private readonly database: DatabaseService,
  ) {}

  @Get('live')
  @ApiOkResponse({ description: 'The process is running' })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOkResponse({ description: 'Redis and the database answer' })
  @ApiServiceUnavailableResponse({ description: 'A dependency is down' })
  async ready(@Res({ passthrough: true }) res: FastifyReply) {
    const [redis, database] = await Promise.all([
      within(this.redis.ping()),
      within(this.database.ping()),
    ]);
    const ok = redis === 'up' && database === 'up';
    res.status(ok ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE);
    return { status: ok ? 'ok' : 'unavailable', checks: { redis, database } };
  }
}
