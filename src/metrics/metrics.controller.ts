import { createHash, timingSafeEqual } from 'node:crypto';
import {
  Controller,
  ForbiddenException,
  Get,
  Inject,
  Req,
  Res,
  UnauthorizedException,
} from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Public } from '../auth/auth.decorators';
import { InvalidTokenError, JwtService } from '../auth/jwt.service';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { MetricsService } from './metrics.service';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * GET /metrics (outside /api/v1, where scrapers look): an admin JWT or METRICS_TOKEN. Not in the
 * OpenAPI document, which describes the JSON API under /api/v1; see docs/operations.md.
 */
@ApiExcludeController()
@Public()
@Controller('metrics')
export class MetricsController {
  private readonly metricsToken: Buffer | undefined;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly jwt: JwtService,
    private readonly metrics: MetricsService,
  ) {
    const token = config.operations.metricsToken;
    this.metricsToken = token === undefined ? undefined : digest(token);
  }

  @Get()
  async scrape(@Req() req: FastifyRequest, @Res() res: FastifyReply): Promise<void> {
    this.authorize(req.headers.authorization);
    const body = await this.metrics.text();
    await res.status(200).header('Content-Type', this.metrics.registry.contentType).send(body);
  }

  private authorize(header: string | undefined): void {
    const token = /^Bearer\s+(\S+)$/i.exec(header ?? '')?.[1];
    if (!token) {
      throw new UnauthorizedException('Authorization header with a Bearer token is required');
    }
    // Compared as digests: equal length, constant time, whatever the caller sent.
    if (this.metricsToken && timingSafeEqual(digest(token), this.metricsToken)) return;
    let roles: string[];
    try {
      roles = this.jwt.verify(token).roles;
    } catch (error) {
      if (error instanceof InvalidTokenError) throw new UnauthorizedException(error.message);
      throw error;
    }
    if (!roles.includes('admin')) throw new ForbiddenException('the admin role is required');
  }
}
