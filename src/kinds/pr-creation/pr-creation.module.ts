import { Module } from '@nestjs/common';
import { PullRequestHostFactory } from './pull-request-host.factory';

@Module({
  providers: [PullRequestHostFactory],
  exports: [PullRequestHostFactory],
})
export class PrCreationModule {}
