import { Module } from '@nestjs/common';
import { EmbeddingsService } from '../llm/embeddings.service';
import { CodeIndexRepository } from './code-index.repository';

/** The code index store and the embeddings client, shared by the indexing kind and search. */
@Module({
  providers: [CodeIndexRepository, EmbeddingsService],
  exports: [CodeIndexRepository, EmbeddingsService],
})
export class CodeIndexModule {}
