import { Module } from '@nestjs/common';
import { ExternalStatusController } from './external-status.controller';
import { ExternalStatusService } from './external-status.service';
import { JobEventListeners } from './job-event-listeners';
import { JobEventRelay } from './job-event-relay.service';
import { JobEventsGateway } from './job-events.gateway';

/** The api side of live status: sockets, the event relay and the external status channel. */
@Module({
  providers: [JobEventsGateway, JobEventRelay, ExternalStatusService, JobEventListeners],
  controllers: [ExternalStatusController],
  exports: [JobEventListeners],
})
export class RealtimeModule {}
