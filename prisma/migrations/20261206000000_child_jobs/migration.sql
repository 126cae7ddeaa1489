-- Child jobs (docs/child-jobs.md): a job may be a step of another. Its row names its parent and
-- its key among the parent's steps (unique per parent, which makes a step durable: a parent that
-- runs again finds it by key), and its events carry the parent's id.
-- conveyor_write_jobs now writes both on create, and the parent's id on every event.

-- AlterTable
ALTER TABLE "Job" ADD COLUMN "parentId" UUID,
ADD COLUMN "childKey" TEXT;

-- AlterTable
ALTER TABLE "JobEvent" ADD COLUMN "parentId" UUID;

-- CreateIndex
CREATE UNIQUE INDEX "Job_parentId_childKey_key" ON "Job"("parentId", "childKey");

-- AddForeignKey
ALTER TABLE "Job" ADD CONSTRAINT "Job_parentId_fkey" FOREIGN KEY ("parentId") REFERENCES "Job"("id") ON DELETE CASCADE ON UPDATE CASCADE;

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
