import { Module } from '@nestjs/common';
import { RealtimeModule } from '../realtime/realtime.module';
import { SearchModule } from '../search/search.module';
import { McpService } from './mcp.service';

/** The MCP endpoint (api role); mounted at /mcp by app.factory.ts. */
@Module({
  imports: [RealtimeModule, SearchModule],
  providers: [McpService],
  exports: [McpService],
})
export class McpModule {}
