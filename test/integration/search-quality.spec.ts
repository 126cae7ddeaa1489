import type { OpenedDatabase } from '../../src/database/prisma-client.factory';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { openMigrated } from '../support/migrated-database';
import { EVAL_QUERIES } from '../support/search-eval';
import {
  describeScores,
  evaluateBullmq,
  evaluateMcpSdk,
  evaluateUndici,
} from '../support/search-eval-run';
import { MCP_QUERIES, MCP_SDK_VERSION } from '../support/search-eval-mcp';
import { UNDICI_QUERIES, UNDICI_VERSION } from '../support/search-eval-undici';

/**
 * Retrieval quality, lexical search only (docs/indexing.md#measured). The bullmq set's floor is
 * its first measurement (Recall@10 0.933, MRR 0.790, answers by symbol); the undici set's are the
 * targets of the plain-language search: file-level Recall@10 0.9 and MRR@10 0.75, chunk-level
 * (the hit's lines overlap the answer's) Recall@10 0.8.
 */
describe('retrieval quality on real codebases', () => {
  let db: TestDatabase;
  let opened: OpenedDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
    opened = await openMigrated(db.url);
  });

  afterAll(async () => {
    await opened?.close();
    await db?.drop();
  });

  it(`answers the ${EVAL_QUERIES.length} bullmq queries at or above the first measurement`, async () => {
    const scores = await evaluateBullmq(opened.prisma);
    console.log(describeScores('bullmq', scores));
    expect(scores.files).toBeGreaterThan(100);
    expect(EVAL_QUERIES.length).toBeGreaterThanOrEqual(25);
    expect(scores.chunk.recallAt10).toBeGreaterThanOrEqual(28 / 30);
    expect(scores.chunk.mrrAt10).toBeGreaterThanOrEqual(0.79);
  });

  it(`answers the ${UNDICI_QUERIES.length} plain-language questions on undici at the targets`, async () => {
    const scores = await evaluateUndici(opened.prisma);
    console.log(describeScores('undici', scores));
    // The answers' line numbers are undici's at this version: an upgrade must fail here.
    expect(scores.version).toBe(UNDICI_VERSION);
    expect(scores.files).toBeGreaterThanOrEqual(80);
    expect(UNDICI_QUERIES.length).toBeGreaterThanOrEqual(30);
    expect(scores.file.recallAt10).toBeGreaterThanOrEqual(0.9);
    expect(scores.file.mrrAt10).toBeGreaterThanOrEqual(0.75);
    expect(scores.chunk.recallAt10).toBeGreaterThanOrEqual(0.8);
  });

  it(`reports the held-out MCP SDK check (${MCP_QUERIES.length} questions, never tuned on)`, async () => {
    const scores = await evaluateMcpSdk(opened.prisma);
    console.log(describeScores('MCP SDK (held out)', scores));
    expect(scores.version).toBe(MCP_SDK_VERSION);
    expect(scores.files).toBeGreaterThanOrEqual(80);
  });
});
