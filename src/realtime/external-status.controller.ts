import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { RequireRole } from '../auth/auth.decorators';
import { ExternalStatusService } from './external-status.service';

class DroppedCountsView {
  @ApiProperty() malformed!: number;
  @ApiProperty() invalid!: number;
  @ApiProperty() unknownJob!: number;
  @ApiProperty() notAllowed!: number;
}

class ExternalStatusView {
  @ApiProperty() accepted!: number;
  @ApiProperty({ type: DroppedCountsView }) dropped!: DroppedCountsView;
}

@ApiTags('admin')
@ApiBearerAuth()
@RequireRole('admin')
@Controller('admin/external-status')
export class ExternalStatusController {
  constructor(private readonly external: ExternalStatusService) {}

  @Get()
  @ApiOperation({ summary: "This instance's counts of external status reports" })
  @ApiOkResponse({ type: ExternalStatusView })
  stats(): ExternalStatusView {
    return this.external.stats();
  }
}
