import { Global, Module, type DynamicModule } from '@nestjs/common';
import { LlmCache } from './llm-cache.service';
import { LlmCircuitBreaker } from './llm-circuit-breaker.service';
import { LlmService } from './llm.service';
import { ProvidersController } from './providers.controller';

/** The LLM provider layer, shared by the kinds that call a model (code generation, indexing). */
@Global()
@Module({})
export class LlmModule {
  static forRoot(api: boolean): DynamicModule {
    const providers = [LlmService, LlmCircuitBreaker, LlmCache];
    return {
      module: LlmModule,
      providers,
      controllers: api ? [ProvidersController] : [],
      exports: providers,
    };
  }
}
