-- Progress events carry the output a processor streamed since the job's previous event (SPEC §9),
-- written with the event in the same call, so streaming adds no round trip of its own.

-- AlterTable
ALTER TABLE "JobEvent" ADD COLUMN "output" TEXT;

-- DropFunction
DROP FUNCTION "conveyor_transition_job"(UUID, TEXT, INTEGER, TEXT, INTEGER, TEXT, BOOLEAN, JSONB, TEXT, INTEGER, TIMESTAMPTZ, TIMESTAMPTZ, TEXT, JSONB);

-- CreateFunction
CREATE FUNCTION "conveyor_transition_job"(
    "p_id" UUID, "p_expected_status" TEXT, "p_expected_version" INTEGER, "p_status" TEXT, "p_progress" INTEGER,
    "p_message" TEXT, "p_set_result" BOOLEAN, "p_result" JSONB, "p_error" TEXT,
    "p_attempts" INTEGER, "p_started_at" TIMESTAMPTZ, "p_finished_at" TIMESTAMPTZ,
    "p_event_status" TEXT, "p_event_result" JSONB, "p_event_output" TEXT
) RETURNS TABLE ("job" JSONB, "event_id" BIGINT, "previous_event_id" BIGINT, "event_at" TIMESTAMPTZ)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_job "Job";
BEGIN
    -- Compare-and-set on the version the caller planned from; no row means "re-read and re-plan".
    -- A negative version stands for "as submitted": only the status is compared.
    UPDATE "Job" SET
        "status" = p_status, "progress" = p_progress, "message" = p_message,
        "result" = CASE WHEN p_set_result THEN p_result ELSE "Job"."result" END,
        "error" = p_error, "attempts" = p_attempts, "startedAt" = p_started_at,
        "finishedAt" = p_finished_at, "updatedAt" = now(), "version" = "Job"."version" + 1
    WHERE "Job"."id" = p_id AND "Job"."status" = p_expected_status
      AND (p_expected_version < 0 OR "Job"."version" = p_expected_version)
    RETURNING * INTO v_job;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext(v_job."userId"));
    SELECT max(e."id") INTO previous_event_id FROM "JobEvent" e WHERE e."userId" = v_job."userId";
    INSERT INTO "JobEvent" ("jobId", "userId", "kind", "status", "progress", "message", "result", "error", "output")
    VALUES (p_id, v_job."userId", v_job."kind", p_event_status, v_job."progress", v_job."message",
            p_event_result, v_job."error", p_event_output)
    RETURNING "JobEvent"."id", "JobEvent"."createdAt" INTO event_id, event_at;
    job := to_jsonb(v_job);
    RETURN NEXT;
END;
$$;
