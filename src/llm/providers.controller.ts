import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiProperty, ApiTags } from '@nestjs/swagger';
import { LLM_PROVIDER_NAMES, type LlmProviderName } from '../config/llm.config';
import { LlmCircuitBreaker } from './llm-circuit-breaker.service';
import { LlmService } from './llm.service';

export class ProviderView {
  @ApiProperty({ enum: LLM_PROVIDER_NAMES })
  name!: LlmProviderName;

  @ApiProperty({ example: 'claude-sonnet-4-5' })
  defaultModel!: string;

  @ApiProperty({
    enum: ['closed', 'open'],
    description: 'open: failed LLM_CIRCUIT_FAILURES times in a row, skipped until retryAt',
  })
  health!: 'closed' | 'open';

  @ApiProperty({ type: String, nullable: true, format: 'date-time' })
  retryAt!: string | null;

  @ApiProperty({ description: 'Position in the failover order (LLM_PROVIDERS), from 1' })
  order!: number;
}

export class ProvidersView {
  @ApiProperty({ type: [ProviderView] })
  items!: ProviderView[];
}

@ApiTags('providers')
@ApiBearerAuth()
@Controller('providers')
export class ProvidersController {
  constructor(
    private readonly llm: LlmService,
    private readonly breaker: LlmCircuitBreaker,
  ) {}

  @Get()
  @ApiOkResponse({
    type: ProvidersView,
    description: 'The configured LLM providers, in failover order',
  })
  async list(): Promise<ProvidersView> {
    const items = await Promise.all(
      this.llm.providers.map(async (provider, index) => {
        const circuit = await this.breaker.state(provider.name);
        return {
          name: provider.name,
          defaultModel: provider.model,
          health: circuit.open ? ('open' as const) : ('closed' as const),
          retryAt: circuit.retryAt === null ? null : new Date(circuit.retryAt).toISOString(),
          order: index + 1,
        };
      }),
    );
    return { items };
  }
}
