import { Module } from '@nestjs/common';
import { AdminController } from './admin.controller';
import { EventsController } from './events.controller';
import { JobsController } from './jobs.controller';
import { UsageController } from './usage.controller';

/** The job core's REST surface; its services come from the global JobCoreModule. */
@Module({ controllers: [JobsController, EventsController, AdminController, UsageController] })
export class JobsApiModule {}
