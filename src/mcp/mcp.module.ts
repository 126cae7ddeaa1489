import { Module } from '@nestjs/common';
import { RealtimeModule } from '../realtime/realtime.module';
import { McpService } from './mcp.service';

/** The MCP endpoint (api role); mounted at /mcp by app.factory.ts. */
@Module({
  imports: [RealtimeModule],
  providers: [McpService],
  exports: [McpService],
})
export class McpModule {}
