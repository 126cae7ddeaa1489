-- Token usage (docs/usage.md): every generation's tokens per user, UTC day, provider and model.
-- conveyor_write_jobs adds a `done` write's `usage` (set by kinds that account LLM tokens) to the
-- user's row in the same transaction as the job's own write: no second round trip per job.

-- CreateTable
CREATE TABLE "TokenUsage" (
    "userId" TEXT NOT NULL,
    "day" DATE NOT NULL,
    "provider" TEXT NOT NULL,
    "model" TEXT NOT NULL,
    "inputTokens" BIGINT NOT NULL DEFAULT 0,
    "outputTokens" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "TokenUsage_pkey" PRIMARY KEY ("userId","day","provider","model")
);

-- CreateIndex
CREATE INDEX "TokenUsage_day_idx" ON "TokenUsage"("day");

-- CreateFunction
CREATE OR REPLACE FUNCTION "conveyor_write_jobs"("p_items" JSONB)
RETURNS TABLE ("idx" INTEGER, "job" JSONB, "event_id" BIGINT, "previous_event_id" BIGINT, "event_at" TIMESTAMPTZ)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_item JSONB;
    v_job "Job";
    v_key INTEGER;
    v_event_status TEXT;
    v_event_result JSONB;
    v_event_output TEXT;
BEGIN
    -- A job's user never changes, so a transition's user can be read before the locks.
    FOR v_key IN
        SELECT DISTINCT hashtext(u."userId") AS k FROM (
            SELECT i ->> 'userId' AS "userId" FROM jsonb_array_elements(p_items) i
             WHERE i ->> 'op' = 'create'
            UNION ALL
            SELECT j."userId" FROM "Job" j
             WHERE j."id" IN (SELECT (i ->> 'id')::uuid FROM jsonb_array_elements(p_items) i
                               WHERE i ->> 'op' = 'transition')
        ) u ORDER BY k
    LOOP
        PERFORM pg_advisory_xact_lock(v_key);
    END LOOP;

    FOR i IN 0 .. jsonb_array_length(p_items) - 1 LOOP
        v_item := p_items -> i;
        IF v_item ->> 'op' = 'create' THEN
            INSERT INTO "Job" ("id", "kind", "userId", "projectId", "requestId", "status", "priority",
                               "progress", "message", "params", "attempts", "maxAttempts",
                               "idempotencyKey", "idempotencyHash", "parentId", "childKey", "updatedAt")
            VALUES ((v_item ->> 'id')::uuid, v_item ->> 'kind', v_item ->> 'userId',
                    v_item ->> 'projectId', v_item ->> 'requestId', 'queued',
                    (v_item ->> 'priority')::int, 0, v_item ->> 'message', v_item -> 'params', 0,
                    (v_item ->> 'maxAttempts')::int, v_item ->> 'idempotencyKey',
                    v_item ->> 'idempotencyHash', (v_item ->> 'parentId')::uuid,
                    v_item ->> 'childKey', now())
            ON CONFLICT DO NOTHING
            RETURNING * INTO v_job;
            IF NOT FOUND THEN
                idx := i; job := NULL; event_id := NULL; previous_event_id := NULL; event_at := NULL;
                RETURN NEXT;
                CONTINUE;
            END IF;
            v_event_status := 'created';
            v_event_result := NULL;
            v_event_output := NULL;
        ELSE
            UPDATE "Job" SET
                "status" = v_item ->> 'status', "progress" = (v_item ->> 'progress')::int,
                "message" = v_item ->> 'message',
                "result" = CASE WHEN (v_item ->> 'setResult')::boolean
                                THEN NULLIF(v_item -> 'result', 'null'::jsonb) ELSE "Job"."result" END,
                "error" = v_item ->> 'error', "attempts" = (v_item ->> 'attempts')::int,
                "startedAt" = (v_item ->> 'startedAt')::timestamptz,
                "finishedAt" = (v_item ->> 'finishedAt')::timestamptz,
                "updatedAt" = now(), "version" = "Job"."version" + 1
            WHERE "Job"."id" = (v_item ->> 'id')::uuid
              AND "Job"."status" = v_item ->> 'expectedStatus'
              AND ((v_item ->> 'expectedVersion')::int < 0
                   OR "Job"."version" = (v_item ->> 'expectedVersion')::int)
            RETURNING * INTO v_job;
            IF NOT FOUND THEN
                CONTINUE;
            END IF;
            -- The job's user is locked above, so its usage rows are written in user order too.
            IF jsonb_typeof(v_item -> 'usage') = 'object' THEN
                INSERT INTO "TokenUsage" ("userId", "day", "provider", "model", "inputTokens",
                                          "outputTokens")
                VALUES (v_job."userId", (COALESCE(v_job."finishedAt", now()) AT TIME ZONE 'UTC')::date,
                        v_item -> 'usage' ->> 'provider', v_item -> 'usage' ->> 'model',
                        COALESCE((v_item -> 'usage' ->> 'inputTokens')::bigint, 0),
                        COALESCE((v_item -> 'usage' ->> 'outputTokens')::bigint, 0))
                ON CONFLICT ("userId", "day", "provider", "model") DO UPDATE SET
                    "inputTokens" = "TokenUsage"."inputTokens" + EXCLUDED."inputTokens",
                    "outputTokens" = "TokenUsage"."outputTokens" + EXCLUDED."outputTokens";
            END IF;
            v_event_status := v_item ->> 'eventStatus';
            v_event_result := NULLIF(v_item -> 'eventResult', 'null'::jsonb);
            v_event_output := v_item ->> 'eventOutput';
        END IF;
        SELECT max(e."id") INTO previous_event_id FROM "JobEvent" e WHERE e."userId" = v_job."userId";
        INSERT INTO "JobEvent" ("jobId", "userId", "kind", "status", "progress", "message", "result",
                                "error", "output", "parentId")
        VALUES (v_job."id", v_job."userId", v_job."kind", v_event_status, v_job."progress",
                v_job."message", v_event_result,
                CASE WHEN v_event_status = 'created' THEN NULL ELSE v_job."error" END, v_event_output,
                v_job."parentId")
        RETURNING "JobEvent"."id", "JobEvent"."createdAt" INTO event_id, event_at;
        idx := i;
        job := to_jsonb(v_job);
        RETURN NEXT;
    END LOOP;
END;
$$;
