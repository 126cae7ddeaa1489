-- Every lifecycle write goes through conveyor_write_jobs (the group commit) since 20261124100000.
-- The single-job functions it replaced are dropped: nothing calls them, and the old transition
-- took the row lock before the per-user advisory lock (the batch takes the advisory locks first),
-- so a stray call next to a batch could deadlock.

-- DropFunction
DROP FUNCTION IF EXISTS "conveyor_create_job"(UUID, TEXT, TEXT, TEXT, TEXT, INTEGER, JSONB, INTEGER, TEXT, TEXT, TEXT);

-- DropFunction
DROP FUNCTION IF EXISTS "conveyor_transition_job"(UUID, TEXT, INTEGER, TEXT, INTEGER, TEXT, BOOLEAN, JSONB, TEXT, INTEGER, TIMESTAMPTZ, TIMESTAMPTZ, TEXT, JSONB, TEXT);
