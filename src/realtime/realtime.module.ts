import { Module } from '@nestjs/common';
import { ExternalStatusController } from './external-status.controller';
import { ExternalStatusService } from './external-status.service';
import { JobEventRelay } from './job-event-relay.service';
import { JobEventsGateway } from './job-events.gateway';

/** The api side of live status: sockets, the event relay and the external status channel. */
@Module({
  providers: [JobEventsGateway, JobEventRelay, ExternalStatusService],
  controllers: [ExternalStatusController],
})
export class RealtimeModule {}
