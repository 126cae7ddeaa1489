import { Module } from '@nestjs/common';
import { MetricsController } from '../metrics/metrics.controller';
import { MetricsService } from '../metrics/metrics.service';
import { KindsController } from './kinds.controller';

/** The api's operations surface: GET /metrics, GET /api/v1/kinds (bull-board and the dashboard mount in app.factory). */
@Module({
  providers: [MetricsService],
  controllers: [MetricsController, KindsController],
  exports: [MetricsService],
})
export class OperationsModule {}
