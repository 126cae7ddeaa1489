-- Code search weighs query words by how rare they are in the project (docs/indexing.md#search):
-- IndexTerm keeps, per project and text-search lexeme, how many chunks hold it, maintained in the
-- transaction that writes or removes the chunks; ProjectIndex keeps the mean number of distinct
-- lexemes per chunk, for length normalisation.

-- AlterTable
ALTER TABLE "ProjectIndex" ADD COLUMN "termsPerChunk" DOUBLE PRECISION NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "IndexTerm" (
    "projectId" UUID NOT NULL,
    "term" TEXT NOT NULL,
    "chunks" INTEGER NOT NULL,

    CONSTRAINT "IndexTerm_pkey" PRIMARY KEY ("projectId","term")
);

-- AddForeignKey
ALTER TABLE "IndexTerm" ADD CONSTRAINT "IndexTerm_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Statistics of the indexes that exist already.
INSERT INTO "IndexTerm" ("projectId", "term", "chunks")
SELECT c."projectId", l.lexeme, count(*)::int
  FROM "IndexChunk" c, unnest(tsvector_to_array(c."searchVector")) AS l(lexeme)
 GROUP BY c."projectId", l.lexeme;

UPDATE "ProjectIndex" p
   SET "termsPerChunk" = s.mean
  FROM (SELECT "projectId", avg(length("searchVector"))::float8 AS mean
          FROM "IndexChunk" GROUP BY "projectId") s
 WHERE s."projectId" = p."projectId";
