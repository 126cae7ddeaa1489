-- One round trip per job write instead of an interactive transaction of six to eight.
-- Each function appends the job's event under a per-user advisory lock held until commit, so a
-- user's events commit in id order; the previous event id is read in a later statement than the
-- lock, which in a volatile function sees every commit made before the lock was granted.

-- CreateFunction
CREATE FUNCTION "conveyor_create_job"(
    "p_id" UUID, "p_kind" TEXT, "p_user_id" TEXT, "p_project_id" TEXT, "p_request_id" TEXT,
    "p_priority" INTEGER, "p_params" JSONB, "p_max_attempts" INTEGER,
    "p_idempotency_key" TEXT, "p_idempotency_hash" TEXT, "p_message" TEXT
) RETURNS TABLE ("job" JSONB, "event_id" BIGINT, "previous_event_id" BIGINT, "event_at" TIMESTAMPTZ)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_job "Job";
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext(p_user_id));
    INSERT INTO "Job" ("id", "kind", "userId", "projectId", "requestId", "status", "priority",
                       "progress", "message", "params", "attempts", "maxAttempts",
                       "idempotencyKey", "idempotencyHash", "updatedAt")
    VALUES (p_id, p_kind, p_user_id, p_project_id, p_request_id, 'queued', p_priority, 0, p_message,
            p_params, 0, p_max_attempts, p_idempotency_key, p_idempotency_hash, now())
    RETURNING * INTO v_job;
    SELECT max(e."id") INTO previous_event_id FROM "JobEvent" e WHERE e."userId" = p_user_id;
    INSERT INTO "JobEvent" ("jobId", "userId", "kind", "status", "progress", "message")
    VALUES (p_id, p_user_id, p_kind, 'created', 0, p_message)
    RETURNING "JobEvent"."id", "JobEvent"."createdAt" INTO event_id, event_at;
    job := to_jsonb(v_job);
    RETURN NEXT;
END;
$$;

-- CreateFunction
CREATE FUNCTION "conveyor_transition_job"(
    "p_id" UUID, "p_expected_status" TEXT, "p_status" TEXT, "p_progress" INTEGER,
    "p_message" TEXT, "p_set_result" BOOLEAN, "p_result" JSONB, "p_error" TEXT,
    "p_attempts" INTEGER, "p_started_at" TIMESTAMPTZ, "p_finished_at" TIMESTAMPTZ,
    "p_event_status" TEXT, "p_event_result" JSONB
) RETURNS TABLE ("job" JSONB, "event_id" BIGINT, "previous_event_id" BIGINT, "event_at" TIMESTAMPTZ)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_job "Job";
BEGIN
    -- Compare-and-set on the status the caller planned from; no row means "re-read and re-plan".
    UPDATE "Job" SET
        "status" = p_status, "progress" = p_progress, "message" = p_message,
        "result" = CASE WHEN p_set_result THEN p_result ELSE "Job"."result" END,
        "error" = p_error, "attempts" = p_attempts, "startedAt" = p_started_at,
        "finishedAt" = p_finished_at, "updatedAt" = now()
    WHERE "Job"."id" = p_id AND "Job"."status" = p_expected_status
    RETURNING * INTO v_job;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext(v_job."userId"));
    SELECT max(e."id") INTO previous_event_id FROM "JobEvent" e WHERE e."userId" = v_job."userId";
    INSERT INTO "JobEvent" ("jobId", "userId", "kind", "status", "progress", "message", "result", "error")
    VALUES (p_id, v_job."userId", v_job."kind", p_event_status, v_job."progress", v_job."message",
            p_event_result, v_job."error")
    RETURNING "JobEvent"."id", "JobEvent"."createdAt" INTO event_id, event_at;
    job := to_jsonb(v_job);
    RETURN NEXT;
END;
$$;
