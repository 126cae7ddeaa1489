import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { JobRegistry } from '../core/job-registry';
import { paramsJsonSchema, resultJsonSchema } from '../core/kind-schema';

export class KindView {
  @ApiProperty() name!: string;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'JSON Schema of params' })
  paramsSchema!: Record<string, unknown>;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    nullable: true,
    description: 'JSON Schema of the result; null when free-form',
  })
  resultSchema!: Record<string, unknown> | null;
  @ApiProperty({ description: 'Runs in a ready project’s workspace' }) workspace!: boolean;
}

/** The registered kinds with the schemas OpenAPI and MCP publish (the dashboard builds its form from them). */
@ApiTags('jobs')
@ApiBearerAuth()
@Controller('kinds')
export class KindsController {
  constructor(private readonly registry: JobRegistry) {}

  @Get()
  @ApiOperation({ summary: 'Every job kind and the JSON Schema of its params and result' })
  @ApiOkResponse({ type: [KindView] })
  list(): KindView[] {
    return this.registry.all().map(({ kind }) => ({
      name: kind.name,
      paramsSchema: paramsJsonSchema(kind),
      resultSchema: resultJsonSchema(kind),
      workspace: kind.workspace === true,
    }));
  }
}
