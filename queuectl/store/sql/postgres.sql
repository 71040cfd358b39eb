-- queuectl's PostgreSQL queries: the same names as sqlite.sql, the same columns and units
-- (times are BIGINT milliseconds since the epoch, passed in as now, never the server's
-- now(): the caller reads the database clock once, so a test can set it).
-- Tables carry a queuectl_ prefix because the store may share a database (or a schema)
-- with an application's own "jobs" or "config" tables.
-- /*queues*/ is replaced by a "queue = ANY(...)" filter, or by nothing.
-- Parameters are psycopg's named placeholders, so no literal percent sign may appear here.
-- Flags after a name are facts about that query (:repeatable, :lookup): see queries.py.

-- name: schema_v1
CREATE TABLE queuectl_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE queuectl_jobs (
    seq              BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- enqueue order
    id               TEXT    NOT NULL UNIQUE,
    command          TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    queue            TEXT    NOT NULL,
    priority         INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_retries      INTEGER NOT NULL,
    run_at           BIGINT  NOT NULL,
    timeout          DOUBLE PRECISION,
    cwd              TEXT    NOT NULL,
    env              TEXT,                          -- JSON object, NULL if empty
    exit_code        BIGINT,                        -- Windows exit codes reach 2**32 - 1
    last_error       TEXT,
    worker_id        TEXT,
    lease_until      BIGINT,
    cancel_requested BOOLEAN NOT NULL DEFAULT false,
    run_no           INTEGER NOT NULL DEFAULT 0,    -- number of the latest attempt
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL,
    started_at       BIGINT,
    finished_at      BIGINT
);
-- The claim walks this index in claim order and stops at the first due row that no other
-- transaction has locked: no sort, and a cost that does not grow with finished jobs. The
-- state list must match the claim query's, or the planner cannot prove the partial
-- index applies.
CREATE INDEX queuectl_jobs_claim ON queuectl_jobs (priority DESC, run_at, seq)
    WHERE state IN ('pending', 'failed');
CREATE INDEX queuectl_jobs_due ON queuectl_jobs (run_at) WHERE state IN ('pending', 'failed');
CREATE INDEX queuectl_jobs_processing ON queuectl_jobs (lease_until) WHERE state = 'processing';
CREATE INDEX queuectl_jobs_state ON queuectl_jobs (state, seq);
CREATE INDEX queuectl_jobs_queue ON queuectl_jobs (queue, state, seq);
CREATE TABLE queuectl_attempts (
    job_id       TEXT    NOT NULL,
    number       INTEGER NOT NULL,
    worker_id    TEXT,
    host         TEXT,
    pgid         BIGINT,                            -- set while the process group may live
    started_at   BIGINT,
    finished_at  BIGINT,
    exit_code    BIGINT,
    error        TEXT,
    outcome      TEXT,
    output       BYTEA,
    output_total BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, number)
);
CREATE INDEX queuectl_attempts_finished ON queuectl_attempts (finished_at);
CREATE INDEX queuectl_attempts_stray ON queuectl_attempts (host) WHERE pgid IS NOT NULL;
CREATE TABLE queuectl_output_chunks (
    job_id TEXT    NOT NULL,
    number INTEGER NOT NULL,
    start  BIGINT  NOT NULL,                            -- byte offset in the stream
    data   BYTEA   NOT NULL,
    PRIMARY KEY (job_id, number, start)
);
CREATE TABLE queuectl_workers (
    id             TEXT    PRIMARY KEY,
    host           TEXT    NOT NULL,
    pid            BIGINT  NOT NULL,
    pool           TEXT    NOT NULL,
    queues         TEXT,                                -- JSON array, NULL = all queues
    started_at     BIGINT  NOT NULL,
    heartbeat_at   BIGINT  NOT NULL,
    stop_requested BOOLEAN NOT NULL DEFAULT false,
    doorbell       INTEGER                              -- SQLite's UDP doorbell: NULL here
);
CREATE TABLE queuectl_config (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL                                 -- JSON
);

-- name: schema_v2
-- Listing one queue newest first, without sorting every job of the queue.
CREATE INDEX queuectl_jobs_by_queue ON queuectl_jobs (queue, seq);

-- name: schema_v3
-- The host of the worker that claimed the latest attempt, set by the claim itself: a pool
-- killed before its worker recorded the command's process group still tells the next
-- pool on that host to look for the attempt's processes.
ALTER TABLE queuectl_jobs ADD COLUMN host TEXT;

-- name: schema_v4
-- `worker stop` for pools still starting: a pool started before `requested_at` whose id is
-- `pool` ('*': every pool) stops, though none of its workers was registered to be asked.
CREATE TABLE queuectl_pool_stops (
    pool         TEXT    PRIMARY KEY,
    requested_at BIGINT  NOT NULL
);

-- name: schema_v5
-- One name for an attempt's number: a job's latest is its `attempt_number`, as an attempt's
-- own is its `number` (`attempts` is another count: the retry budget used).
ALTER TABLE queuectl_jobs RENAME COLUMN run_no TO attempt_number;

-- name: schema_v6
-- Workflows (SPEC §7). A job may be claimed only while it is not held and none of its
-- dependency conditions is unmet (waiting_on counts them). The claim's indexes hold only
-- such jobs, so 10,000 jobs that wait on one cost other claims nothing.
-- "after": JSON [{"id", "on"}], NULL if none.
ALTER TABLE queuectl_jobs ADD COLUMN "after" TEXT;
ALTER TABLE queuectl_jobs ADD COLUMN "group" TEXT;
ALTER TABLE queuectl_jobs ADD COLUMN "index" INTEGER;
ALTER TABLE queuectl_jobs ADD COLUMN held BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE queuectl_jobs ADD COLUMN waiting_on INTEGER NOT NULL DEFAULT 0;
-- Set once a job is waited on: only then does its end look for dependents to settle.
ALTER TABLE queuectl_jobs ADD COLUMN awaited BOOLEAN NOT NULL DEFAULT false;
-- Its group has a limit on running jobs (an array's): claimed through group_limits.
ALTER TABLE queuectl_jobs ADD COLUMN limited BOOLEAN NOT NULL DEFAULT false;
DROP INDEX queuectl_jobs_claim;
CREATE INDEX queuectl_jobs_claim ON queuectl_jobs (priority DESC, run_at, seq)
 WHERE state IN ('pending', 'failed') AND NOT held AND waiting_on = 0 AND NOT limited;
DROP INDEX queuectl_jobs_due;
CREATE INDEX queuectl_jobs_due ON queuectl_jobs (run_at)
 WHERE state IN ('pending', 'failed') AND NOT held AND waiting_on = 0 AND NOT limited;
-- The jobs of limited groups, per group: a claim looks only into the groups below their
-- limit, so a full group's waiting jobs are never walked.
CREATE INDEX queuectl_jobs_claim_limited
    ON queuectl_jobs ("group", priority DESC, run_at, seq)
 WHERE state IN ('pending', 'failed') AND NOT held AND waiting_on = 0 AND limited;
CREATE INDEX queuectl_jobs_due_limited ON queuectl_jobs ("group", run_at)
 WHERE state IN ('pending', 'failed') AND NOT held AND waiting_on = 0 AND limited;
-- At most max_running of a group's jobs processing at once; running counts them (+1 by
-- the claim, -1 by the end of an attempt, in their transactions: the row's lock orders
-- the claims of one group, and each sees the count the one before it left).
CREATE TABLE queuectl_group_limits (
    name        TEXT    PRIMARY KEY,
    max_running INTEGER NOT NULL,
    running     INTEGER NOT NULL DEFAULT 0
);
-- The claim takes a slot; the end of an attempt (any move out of processing) frees it.
CREATE FUNCTION queuectl_free_group_slot() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN UPDATE queuectl_group_limits SET running = greatest(running - 1, 0)
 WHERE name = OLD."group"; RETURN NULL; END $$;
CREATE TRIGGER queuectl_jobs_free_group_slot AFTER UPDATE OF state ON queuectl_jobs
 FOR EACH ROW WHEN (OLD.state = 'processing' AND NEW.state <> 'processing' AND OLD.limited)
 EXECUTE FUNCTION queuectl_free_group_slot();
CREATE INDEX queuectl_jobs_group ON queuectl_jobs ("group", "index", seq)
 WHERE "group" IS NOT NULL;
-- The unmet conditions, one row each: deleted when the dependency ends, which releases or
-- cancels the waiting job in the same transaction.
CREATE TABLE queuectl_dependencies (
    dep_id    TEXT NOT NULL,
    job_id    TEXT NOT NULL,
    condition TEXT NOT NULL,                             -- success, any or failure
    PRIMARY KEY (dep_id, job_id, condition)
);
CREATE INDEX queuectl_dependencies_job ON queuectl_dependencies (job_id);
-- A worker's job, for held_jobs and the worker list (not a scan of every running job).
CREATE INDEX queuectl_jobs_held_by ON queuectl_jobs (worker_id) WHERE state = 'processing';

-- name: schema_v7
-- A job's dependents are found among the jobs that have an "after", not among all jobs.
CREATE INDEX queuectl_jobs_after ON queuectl_jobs (seq) WHERE "after" IS NOT NULL;

-- name: schema_v8
-- Flow control (SPEC §8): group limits generalised into gates. A gate is a queue's
-- (`queue:Q`, while it is paused or limited), a limited group's (`group:G`) or a lock's
-- (`lock:L`, at most 1); it is open while not paused and running < max_running (NULL: no
-- limit). A job passes every gate of its own that exists; `gate` names one of them (lock >
-- group > queue), the index it waits in, or is NULL when it has none: the plain claim
-- index holds only those, as cheap as before.
CREATE TABLE queuectl_gates (
    name        TEXT    PRIMARY KEY,
    paused      BOOLEAN NOT NULL DEFAULT false,
    max_running INTEGER,
    running     INTEGER NOT NULL DEFAULT 0
);
INSERT INTO queuectl_gates (name, max_running, running)
SELECT 'group:' || name, max_running, running FROM queuectl_group_limits;
ALTER TABLE queuectl_jobs ADD COLUMN "lock" TEXT;
ALTER TABLE queuectl_jobs ADD COLUMN gate TEXT;
UPDATE queuectl_jobs SET gate = 'group:' || "group" WHERE limited;
DROP TRIGGER queuectl_jobs_free_group_slot ON queuectl_jobs;
DROP FUNCTION queuectl_free_group_slot();
ALTER TABLE queuectl_jobs DROP COLUMN limited;
DROP TABLE queuectl_group_limits;
CREATE INDEX queuectl_jobs_claim ON queuectl_jobs (priority DESC, run_at, seq)
 WHERE state IN ('pending', 'failed') AND NOT held AND waiting_on = 0 AND gate IS NULL;
CREATE INDEX queuectl_jobs_due ON queuectl_jobs (run_at)
 WHERE state IN ('pending', 'failed') AND NOT held AND waiting_on = 0 AND gate IS NULL;
-- Per gate: a claim looks only into open gates, so a paused queue's or a full limit's
-- waiting jobs are never walked.
CREATE INDEX queuectl_jobs_claim_gated ON queuectl_jobs (gate, priority DESC, run_at, seq)
 WHERE state IN ('pending', 'failed') AND NOT held AND waiting_on = 0 AND gate IS NOT NULL;
CREATE INDEX queuectl_jobs_due_gated ON queuectl_jobs (gate, run_at)
 WHERE state IN ('pending', 'failed') AND NOT held AND waiting_on = 0 AND gate IS NOT NULL;
CREATE INDEX queuectl_jobs_by_lock ON queuectl_jobs ("lock", state) WHERE "lock" IS NOT NULL;
-- The claim takes a slot of each gate in its statement; the end of an attempt (any move
-- out of processing) frees them.
CREATE FUNCTION queuectl_free_slots() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN UPDATE queuectl_gates SET running = greatest(running - 1, 0)
 WHERE name IN ('queue:' || OLD.queue, 'group:' || OLD."group", 'lock:' || OLD."lock"); RETURN NULL; END $$;
CREATE TRIGGER queuectl_jobs_free_slots AFTER UPDATE OF state ON queuectl_jobs
 FOR EACH ROW WHEN (OLD.state = 'processing' AND NEW.state <> 'processing'
                    AND OLD.gate IS NOT NULL)
 EXECUTE FUNCTION queuectl_free_slots();

-- name: schema_v9
-- Unique jobs (SPEC §8): a key is held by at most one pending, failed or processing job;
-- the index itself makes concurrent enqueues with one key safe (ON CONFLICT on it).
ALTER TABLE queuectl_jobs ADD COLUMN unique_key TEXT;
CREATE UNIQUE INDEX queuectl_jobs_unique_key ON queuectl_jobs (unique_key)
 WHERE unique_key IS NOT NULL AND state IN ('pending', 'failed', 'processing');

-- name: schema_v10
-- Schedules (SPEC §8). fired_through: every tick up to this moment has been handled (by the
-- pool that moved it, under the schedule's row lock); next_fire_at is NULL while paused, so
-- the pools' look for due schedules is one read of a small index. A tick's row is its
-- idempotency key: a tick is enqueued (or skipped) at most once, whatever the pools do.
CREATE TABLE queuectl_schedules (
    name          TEXT    PRIMARY KEY,
    expression    TEXT    NOT NULL,
    zone          TEXT    NOT NULL,
    spec          TEXT    NOT NULL,               -- its jobs' JSON job object, validated
    overlap       TEXT    NOT NULL,               -- skip | allow
    catch_up      TEXT    NOT NULL,               -- latest | none | all
    paused        BOOLEAN NOT NULL DEFAULT false,
    created_at    BIGINT  NOT NULL,
    fired_through BIGINT  NOT NULL,
    next_fire_at  BIGINT ,
    last_job      TEXT
);
CREATE INDEX queuectl_schedules_due ON queuectl_schedules (next_fire_at) WHERE next_fire_at IS NOT NULL;
CREATE TABLE queuectl_schedule_ticks (
    schedule TEXT    NOT NULL,
    tick     BIGINT  NOT NULL,
    job      TEXT,                                -- NULL: skipped
    outcome  TEXT    NOT NULL,                    -- enqueued | skipped
    reason   TEXT,                                -- overlap | missed
    at       BIGINT  NOT NULL,
    PRIMARY KEY (schedule, tick)
);
ALTER TABLE queuectl_jobs ADD COLUMN schedule TEXT;
CREATE INDEX queuectl_jobs_schedule ON queuectl_jobs (schedule, seq) WHERE schedule IS NOT NULL;

-- name: schema_v11
-- The failure policy (SPEC §9): comma-separated exit codes, ranges and words; at most one
-- of the two is set. '' is an empty no_retry_on, NULL one not set.
ALTER TABLE queuectl_jobs ADD COLUMN retry_on TEXT;
ALTER TABLE queuectl_jobs ADD COLUMN no_retry_on TEXT;

-- name: schema_v12
-- Accounting (SPEC §9): what each attempt's command used, NULL where the OS could not
-- tell, and the signal that ended it. The job log reads queuectl_attempts_finished backwards.
ALTER TABLE queuectl_attempts ADD COLUMN cpu_user DOUBLE PRECISION;
ALTER TABLE queuectl_attempts ADD COLUMN cpu_system DOUBLE PRECISION;
ALTER TABLE queuectl_attempts ADD COLUMN max_rss BIGINT;
ALTER TABLE queuectl_attempts ADD COLUMN "signal" INTEGER;

-- name: schema_v13
-- Hooks (SPEC §9): the job's commands, copied at enqueue (config's for one it sets none).
-- The trigger records the duty to run one in the transaction that ends the job, whichever
-- statement does it (finish, cancel, fail-fast, recovery), with what its environment
-- tells; a pool takes a duty by deleting it, so it is run at most once.
ALTER TABLE queuectl_jobs ADD COLUMN on_success TEXT;
ALTER TABLE queuectl_jobs ADD COLUMN on_failure TEXT;
CREATE TABLE queuectl_hook_duties (
    seq        BIGSERIAL PRIMARY KEY,
    job_id     TEXT    NOT NULL,
    command    TEXT    NOT NULL,
    cwd        TEXT    NOT NULL,
    env        TEXT,                                     -- the job's, JSON; NULL if empty
    state      TEXT    NOT NULL,
    exit_code  INTEGER,
    attempt    INTEGER NOT NULL,
    last_error TEXT,
    created_at BIGINT  NOT NULL
);
CREATE FUNCTION queuectl_hook_duty() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO queuectl_hook_duties (job_id, command, cwd, env, state, exit_code, attempt, last_error, created_at) VALUES (NEW.id, CASE NEW.state WHEN 'completed' THEN NEW.on_success ELSE NEW.on_failure END, NEW.cwd, NEW.env, NEW.state, NEW.exit_code, NEW.attempt_number, NEW.last_error, NEW.updated_at); RETURN NULL; END $$;
CREATE TRIGGER queuectl_jobs_hook_duty AFTER UPDATE OF state ON queuectl_jobs
 FOR EACH ROW WHEN (NEW.state <> OLD.state
                    AND (NEW.state = 'completed' AND NEW.on_success IS NOT NULL
                         OR NEW.state IN ('dead', 'canceled') AND NEW.on_failure IS NOT NULL))
 EXECUTE FUNCTION queuectl_hook_duty();

-- name: insert_job
INSERT INTO queuectl_jobs (id, command, state, queue, priority, max_retries, run_at, timeout,
                           cwd, env, "after", "group", "index", "lock", unique_key, schedule,
                           retry_on, no_retry_on, on_success, on_failure, gate, created_at,
                           updated_at)
VALUES (%(id)s, %(command)s, 'pending', %(queue)s, %(priority)s, %(max_retries)s, %(run_at)s,
        %(timeout)s, %(cwd)s, %(env)s, %(after)s, %(group)s, %(index)s, %(lock)s,
        %(unique_key)s, %(schedule)s, %(retry_on)s, %(no_retry_on)s, %(on_success)s,
        %(on_failure)s,
        CASE WHEN %(lock)s::text IS NOT NULL THEN 'lock:' || %(lock)s::text
            WHEN EXISTS (SELECT 1 FROM queuectl_gates WHERE name = 'group:' || %(group)s::text)
            THEN 'group:' || %(group)s::text
            WHEN EXISTS (SELECT 1 FROM queuectl_gates WHERE name = 'queue:' || %(queue)s::text)
            THEN 'queue:' || %(queue)s::text END,
        %(now)s, %(now)s)
ON CONFLICT (unique_key)
 WHERE unique_key IS NOT NULL AND state IN ('pending', 'failed', 'processing') DO NOTHING

-- name: unique_holders :repeatable :lookup
SELECT unique_key, id FROM queuectl_jobs
 WHERE unique_key = ANY(%(keys)s::text[]) AND state IN ('pending', 'failed', 'processing')

-- name: unique_clashes
SELECT j.id, j.unique_key, h.id AS holder
  FROM queuectl_jobs j JOIN queuectl_jobs h
    ON h.unique_key = j.unique_key AND h.id <> j.id
   AND h.state IN ('pending', 'failed', 'processing')
 WHERE j.id = ANY(%(ids)s::text[])

-- name: existing_ids :repeatable :lookup
SELECT id FROM queuectl_jobs WHERE id = ANY(%(ids)s::text[])

-- name: claim
-- A CTE, never "seq IN (SELECT ... LIMIT 1 FOR UPDATE SKIP LOCKED)": the planner may run
-- such a subquery more than once and update more rows than the LIMIT (PG bug #15715).
-- The best claimable job of no gate, or the first of each open gate's jobs whose other
-- gates look open too, looked for from the plain candidate's priority up (one below it
-- cannot come first: a gate of low-priority jobs costs one empty probe). It is claimed
-- only if every gate of its own is open once locked: the rows are locked in name order
-- (no deadlock), a lock waits for the claim in flight of the same gate to commit and then
-- returns the row as that claim left it; the slots are taken in the same statement, all
-- of them or none.
WITH plain AS (
    SELECT seq, priority, run_at FROM queuectl_jobs
     WHERE state IN ('pending', 'failed') AND NOT held AND waiting_on = 0 AND gate IS NULL
       AND run_at <= %(now)s /*queues*/
     ORDER BY priority DESC, run_at, seq
     LIMIT 1
       FOR UPDATE SKIP LOCKED),
gated AS (
    SELECT j.seq, j.priority, j.run_at
      FROM queuectl_gates g,
           LATERAL (SELECT seq, priority, run_at FROM queuectl_jobs
                     WHERE gate = g.name AND state IN ('pending', 'failed') AND NOT held
                       AND waiting_on = 0 AND run_at <= %(now)s /*queues*/
                       AND priority >= coalesce((SELECT priority FROM plain), -2147483648)
                       AND NOT EXISTS (SELECT 1 FROM queuectl_gates o
                                  WHERE o.name IN ('queue:' || queuectl_jobs.queue, 'group:' || queuectl_jobs."group",
                                                   'lock:' || queuectl_jobs."lock")
                                    AND (o.paused OR o.running >= o.max_running))
                     ORDER BY priority DESC, run_at, seq
                     LIMIT 1
                       FOR UPDATE SKIP LOCKED) j
     WHERE NOT g.paused AND (g.max_running IS NULL OR g.running < g.max_running)),
next AS (
    SELECT j.seq, j.gate, ARRAY['queue:' || j.queue, 'group:' || j."group",
                                'lock:' || j."lock"] AS gates
      FROM queuectl_jobs j
     WHERE j.seq = (SELECT seq FROM (SELECT * FROM plain UNION ALL SELECT * FROM gated) c
                     ORDER BY priority DESC, run_at, seq
                     LIMIT 1)),
passed AS (
    SELECT g.name, NOT g.paused AND (g.max_running IS NULL OR g.running < g.max_running) AS open
      FROM queuectl_gates g, next
     WHERE next.gate IS NOT NULL AND g.name = ANY(next.gates)
     ORDER BY g.name
       FOR UPDATE OF g),
admitted AS (
    SELECT seq FROM next WHERE NOT EXISTS (SELECT 1 FROM passed WHERE NOT passed.open)),
slots AS (
    UPDATE queuectl_gates g SET running = g.running + 1
      FROM passed
     WHERE g.name = passed.name AND EXISTS (SELECT 1 FROM admitted)
    RETURNING g.name)
UPDATE queuectl_jobs j
   SET state = 'processing', worker_id = %(worker_id)s, attempts = j.attempts + 1,
       attempt_number = j.attempt_number + 1, lease_until = %(lease_until)s,
       started_at = %(now)s, updated_at = %(now)s, cancel_requested = false,
       host = (SELECT w.host FROM queuectl_workers w WHERE w.id = %(worker_id)s)
  FROM admitted
 WHERE j.seq = admitted.seq
RETURNING j.*

-- name: set_group_limit
INSERT INTO queuectl_gates (name, max_running) VALUES ('group:' || %(group)s, %(max_running)s)
ON CONFLICT (name) DO UPDATE SET max_running = excluded.max_running

-- name: group_limit :repeatable :lookup
SELECT max_running, running FROM queuectl_gates WHERE name = 'group:' || %(group)s

-- name: gate :repeatable :lookup
SELECT name, paused, max_running, running FROM queuectl_gates WHERE name = %(name)s

-- name: gates :repeatable
SELECT name, paused, max_running, running FROM queuectl_gates ORDER BY name

-- name: read_gates
-- An enqueue, edit or requeue chooses its jobs' gates from the gates table: this waits for a
-- pause, resume or limit change in flight (SHARE ROW EXCLUSIVE, lock_gates) and keeps the
-- next one out until the jobs are stored, so none is stored with a gate that is gone or
-- without one that came. Enqueues do not wait for each other (ROW EXCLUSIVE is shared).
LOCK TABLE queuectl_gates IN ROW EXCLUSIVE MODE

-- name: lock_gates
-- Waits for the claims in flight (each holds ROW EXCLUSIVE on the gates until it commits)
-- and keeps new ones out, so that a gate's running jobs are counted exactly.
LOCK TABLE queuectl_gates IN SHARE ROW EXCLUSIVE MODE

-- name: pause_queue :repeatable
-- Only `paused` is set: a limit set meanwhile by another operator stays. Its running jobs
-- are counted afresh (none took a slot while the queue had no gate), after gate_queue: each
-- one counted then frees its slot when it ends.
INSERT INTO queuectl_gates (name, paused, running)
VALUES ('queue:' || %(queue)s, true,
        (SELECT count(*) FROM queuectl_jobs WHERE queue = %(queue)s AND state = 'processing'))
ON CONFLICT (name) DO UPDATE SET paused = true, running = excluded.running

-- name: limit_queue :repeatable
-- Only `max_running` is set, its running jobs counted afresh as by pause_queue.
INSERT INTO queuectl_gates (name, max_running, running)
VALUES ('queue:' || %(queue)s, %(max_running)s,
        (SELECT count(*) FROM queuectl_jobs WHERE queue = %(queue)s AND state = 'processing'))
ON CONFLICT (name) DO UPDATE SET max_running = excluded.max_running, running = excluded.running

-- name: unlimit_queue :repeatable :lookup
-- Only `max_running` is cleared; a row only if the queue has a gate.
UPDATE queuectl_gates SET max_running = NULL WHERE name = 'queue:' || %(queue)s
RETURNING paused, max_running

-- name: resume_queue :lookup
-- A row only if the queue was paused.
UPDATE queuectl_gates SET paused = false WHERE name = 'queue:' || %(queue)s AND paused
RETURNING paused, max_running

-- name: gate_queue
-- The jobs that may still be claimed, and those processing: the end of an attempt frees a
-- slot of each gate of a job whose `gate` is set, so a running job's must be, as its slot
-- is counted. A finished job's stays as it is (a requeue chooses its gate afresh).
UPDATE queuectl_jobs SET gate = 'queue:' || %(queue)s
 WHERE queue = %(queue)s AND state IN ('pending', 'failed', 'processing') AND gate IS NULL

-- name: drop_queue_gate :repeatable
DELETE FROM queuectl_gates WHERE name = 'queue:' || %(queue)s

-- name: ungate_queue :repeatable :lookup
UPDATE queuectl_jobs SET gate = NULL
 WHERE queue = %(queue)s AND state IN ('pending', 'failed', 'processing')
   AND gate = 'queue:' || %(queue)s

-- name: add_lock :repeatable
INSERT INTO queuectl_gates (name, max_running) VALUES ('lock:' || %(lock)s, 1)
ON CONFLICT (name) DO NOTHING

-- name: lock_holders :repeatable :lookup
SELECT id FROM queuectl_jobs
 WHERE "lock" = %(lock)s AND state = 'processing' ORDER BY started_at, id

-- name: processing_in_queue :repeatable :lookup
SELECT id FROM queuectl_jobs
 WHERE queue = %(queue)s AND state = 'processing' ORDER BY started_at, id

-- name: processing_in_group :repeatable :lookup
SELECT id FROM queuectl_jobs
 WHERE "group" = %(group)s AND state = 'processing' ORDER BY started_at, id

-- name: next_run_at :repeatable :lookup
SELECT min(run_at) AS run_at FROM (
    SELECT min(run_at) AS run_at FROM queuectl_jobs
     WHERE state IN ('pending', 'failed') AND NOT held AND waiting_on = 0 AND gate IS NULL
       /*queues*/
    UNION ALL
    SELECT (SELECT min(run_at) FROM queuectl_jobs
             WHERE gate = g.name AND state IN ('pending', 'failed') AND NOT held
               AND waiting_on = 0 /*queues*/
               AND NOT EXISTS (SELECT 1 FROM queuectl_gates o
                                  WHERE o.name IN ('queue:' || queuectl_jobs.queue, 'group:' || queuectl_jobs."group",
                                                   'lock:' || queuectl_jobs."lock")
                                    AND (o.paused OR o.running >= o.max_running)))
      FROM queuectl_gates g
     WHERE NOT g.paused AND (g.max_running IS NULL OR g.running < g.max_running)) due

-- name: record_start :repeatable
INSERT INTO queuectl_attempts (job_id, number, worker_id, host, pgid, started_at)
VALUES (%(job_id)s, %(number)s, %(worker_id)s, %(host)s, %(pgid)s, %(started_at)s)
ON CONFLICT (job_id, number) DO UPDATE SET host = excluded.host, pgid = excluded.pgid

-- name: touch_worker :lookup
UPDATE queuectl_workers SET heartbeat_at = %(now)s WHERE id = %(worker_id)s
RETURNING stop_requested

-- name: extend_lease :lookup
UPDATE queuectl_jobs SET lease_until = %(lease_until)s
 WHERE id = %(job_id)s AND state = 'processing' AND worker_id = %(worker_id)s
   AND attempt_number = %(attempt_number)s
RETURNING cancel_requested

-- name: job_flags :repeatable :lookup
SELECT cancel_requested FROM queuectl_jobs
 WHERE id = %(job_id)s AND state = 'processing' AND worker_id = %(worker_id)s
   AND attempt_number = %(attempt_number)s

-- name: stop_requested :repeatable :lookup
SELECT stop_requested FROM queuectl_workers WHERE id = %(worker_id)s

-- name: append_output
INSERT INTO queuectl_output_chunks (job_id, number, start, data)
VALUES (%(job_id)s, %(number)s, %(start)s, %(data)s)
ON CONFLICT (job_id, number, start) DO UPDATE SET data = excluded.data

-- name: trim_output :lookup
DELETE FROM queuectl_output_chunks
 WHERE job_id = %(job_id)s AND number = %(number)s
   AND start + octet_length(data) <= %(keep_from)s

-- name: finish_job
-- Naming the gates' table as an UPDATE's target takes its ROW EXCLUSIVE lock as the
-- statement starts, before the job's row lock, as the claim does. Taken after it (by the
-- trigger that frees the job's slots) the lock could wait for a pause, resume or limit
-- change, which holds the gates' lock and then waits for the job's row (gate_queue): a
-- deadlock.
WITH gates_first AS (UPDATE queuectl_gates SET running = running WHERE false)
UPDATE queuectl_jobs
   SET state = %(state)s, attempts = %(attempts)s, run_at = %(run_at)s,
       exit_code = %(exit_code)s, last_error = %(last_error)s, finished_at = %(finished_at)s,
       worker_id = NULL, lease_until = NULL, cancel_requested = false, updated_at = %(now)s
 WHERE id = %(job_id)s AND state = 'processing' AND worker_id = %(worker_id)s
   AND attempt_number = %(attempt_number)s
RETURNING awaited, gate

-- name: upsert_attempt
-- A process group kept but never recorded is 0: its host finds the processes by their tags.
INSERT INTO queuectl_attempts (job_id, number, worker_id, host, pgid, started_at,
                               finished_at, exit_code, error, outcome, output, output_total,
                               cpu_user, cpu_system, max_rss, "signal")
VALUES (%(job_id)s, %(number)s, %(worker_id)s, %(host)s, CASE WHEN %(keep_pgid)s THEN 0 END,
        %(started_at)s, %(finished_at)s, %(exit_code)s, %(error)s, %(outcome)s, %(output)s,
        %(output_total)s, %(cpu_user)s, %(cpu_system)s, %(max_rss)s, %(signal)s)
ON CONFLICT (job_id, number) DO UPDATE
   SET finished_at = excluded.finished_at, exit_code = excluded.exit_code,
       error = excluded.error, outcome = excluded.outcome, output = excluded.output,
       output_total = excluded.output_total, cpu_user = excluded.cpu_user,
       cpu_system = excluded.cpu_system, max_rss = excluded.max_rss,
       "signal" = excluded."signal",
       host = coalesce(queuectl_attempts.host, excluded.host),
       pgid = CASE WHEN %(keep_pgid)s THEN coalesce(queuectl_attempts.pgid, 0) END

-- name: drop_chunks :lookup
DELETE FROM queuectl_output_chunks WHERE job_id = %(job_id)s AND number = %(number)s

-- name: expired_jobs :repeatable :lookup
SELECT * FROM queuectl_jobs
 WHERE state = 'processing' AND lease_until < %(now)s
 ORDER BY lease_until
 LIMIT %(limit)s

-- name: held_jobs :repeatable :lookup
SELECT * FROM queuectl_jobs WHERE state = 'processing' AND worker_id = %(worker_id)s

-- name: stray_attempts :repeatable :lookup
SELECT job_id, number, worker_id, pgid FROM queuectl_attempts
 WHERE host = %(host)s AND pgid IS NOT NULL

-- name: forget_pgid :repeatable :lookup
UPDATE queuectl_attempts SET pgid = NULL WHERE job_id = %(job_id)s AND number = %(number)s

-- name: chunks :repeatable :lookup
SELECT start, data FROM queuectl_output_chunks
 WHERE job_id = %(job_id)s AND number = %(number)s AND start + octet_length(data) > %(start)s
 ORDER BY start

-- name: states_of :lookup
-- Locks the rows (in one order, so two such transactions cannot deadlock): the states read
-- here stay true until the transaction that checked them commits.
SELECT id, state FROM queuectl_jobs WHERE id = ANY(%(ids)s::text[]) ORDER BY id FOR UPDATE

-- name: cancel_waiting :lookup
UPDATE queuectl_jobs SET state = 'canceled', finished_at = %(now)s, updated_at = %(now)s
 WHERE id = ANY(%(ids)s::text[]) AND state IN ('pending', 'failed')
RETURNING id

-- name: cancel_running :lookup
UPDATE queuectl_jobs SET cancel_requested = true, updated_at = %(now)s
 WHERE id = ANY(%(ids)s::text[]) AND state = 'processing'

-- name: requeue :lookup
UPDATE queuectl_jobs
   SET state = 'pending', attempts = 0, run_at = %(now)s, finished_at = NULL, waiting_on = 0,
       updated_at = %(now)s,
       -- the gates of its queue and group may have come or gone since it was enqueued
       gate = CASE WHEN "lock" IS NOT NULL THEN 'lock:' || "lock"
                   WHEN EXISTS (SELECT 1 FROM queuectl_gates WHERE name = 'group:' || "group")
                   THEN 'group:' || "group"
                   WHEN EXISTS (SELECT 1 FROM queuectl_gates WHERE name = 'queue:' || queue)
                   THEN 'queue:' || queue END
 WHERE id = ANY(%(ids)s::text[]) AND state IN ('completed', 'dead', 'canceled')
RETURNING id

-- name: dead_ids :repeatable :lookup
SELECT id FROM queuectl_jobs WHERE state = 'dead' ORDER BY seq FOR UPDATE

-- name: group_members :repeatable :lookup
SELECT id, state, "group" FROM queuectl_jobs
 WHERE "group" = ANY(%(groups)s::text[])
 ORDER BY "group", "index", seq

-- name: insert_dependency
INSERT INTO queuectl_dependencies (dep_id, job_id, condition)
VALUES (%(dep_id)s, %(job_id)s, %(condition)s)
ON CONFLICT DO NOTHING

-- name: mark_awaited :lookup
UPDATE queuectl_jobs SET awaited = true WHERE id = ANY(%(ids)s::text[]) AND NOT awaited

-- name: count_waiting :lookup
UPDATE queuectl_jobs j
   SET waiting_on = (SELECT count(*) FROM queuectl_dependencies d WHERE d.job_id = j.id)
 WHERE j.id = ANY(%(ids)s::text[])

-- name: lock_dependents :lookup
-- In one order: two jobs ending at once that share dependents must not deadlock.
SELECT id FROM queuectl_jobs
 WHERE id IN (SELECT job_id FROM queuectl_dependencies WHERE dep_id = %(dep_id)s)
 ORDER BY id FOR UPDATE

-- name: release_dependents :lookup
WITH met AS (
    SELECT job_id, count(*) AS n FROM queuectl_dependencies
     WHERE dep_id = %(dep_id)s AND condition = ANY(%(accepted)s::text[])
     GROUP BY job_id)
UPDATE queuectl_jobs j SET waiting_on = j.waiting_on - met.n, updated_at = %(now)s
  FROM met
 WHERE j.id = met.job_id
RETURNING j.id, j.waiting_on

-- name: doomed_dependents :repeatable :lookup
SELECT DISTINCT job_id FROM queuectl_dependencies
 WHERE dep_id = %(dep_id)s AND NOT condition = ANY(%(accepted)s::text[])

-- name: forget_dependency :repeatable :lookup
DELETE FROM queuectl_dependencies WHERE dep_id = %(dep_id)s

-- name: forget_waits :repeatable :lookup
DELETE FROM queuectl_dependencies WHERE job_id = ANY(%(ids)s::text[])

-- name: cancel_doomed
UPDATE queuectl_jobs
   SET state = 'canceled', last_error = %(last_error)s, finished_at = %(now)s, waiting_on = 0,
       updated_at = %(now)s
 WHERE id = ANY(%(ids)s::text[]) AND state IN ('pending', 'failed')
RETURNING id

-- name: edit_job
UPDATE queuectl_jobs
   SET command = %(command)s, queue = %(queue)s, priority = %(priority)s,
       max_retries = %(max_retries)s, run_at = %(run_at)s, timeout = %(timeout)s,
       cwd = %(cwd)s, env = %(env)s, "group" = %(group)s, "lock" = %(lock)s,
       retry_on = %(retry_on)s, no_retry_on = %(no_retry_on)s, on_success = %(on_success)s,
       on_failure = %(on_failure)s, updated_at = %(now)s,
       gate = CASE WHEN %(lock)s::text IS NOT NULL THEN 'lock:' || %(lock)s::text
            WHEN EXISTS (SELECT 1 FROM queuectl_gates WHERE name = 'group:' || %(group)s::text)
            THEN 'group:' || %(group)s::text
            WHEN EXISTS (SELECT 1 FROM queuectl_gates WHERE name = 'queue:' || %(queue)s::text)
            THEN 'queue:' || %(queue)s::text END
 WHERE id = %(id)s AND state IN ('pending', 'failed')

-- name: set_held
UPDATE queuectl_jobs SET held = %(held)s, updated_at = %(now)s
 WHERE id = ANY(%(ids)s::text[]) AND state IN ('pending', 'failed')

-- name: purge_attempts :lookup
DELETE FROM queuectl_attempts WHERE job_id IN (
    SELECT id FROM queuectl_jobs WHERE state = ANY(%(states)s::text[])
                                   AND finished_at < %(before)s)

-- name: purge_chunks :lookup
DELETE FROM queuectl_output_chunks WHERE job_id IN (
    SELECT id FROM queuectl_jobs WHERE state = ANY(%(states)s::text[])
                                   AND finished_at < %(before)s)

-- name: purge_jobs :lookup
DELETE FROM queuectl_jobs WHERE state = ANY(%(states)s::text[]) AND finished_at < %(before)s

-- name: get_job :repeatable :lookup
SELECT * FROM queuectl_jobs WHERE id = %(job_id)s

-- name: list_jobs :repeatable :lookup
SELECT * FROM queuectl_jobs /*filters*/
 ORDER BY seq DESC
 LIMIT %(limit)s OFFSET %(offset)s

-- name: attempts :repeatable :lookup
SELECT * FROM queuectl_attempts WHERE job_id = %(job_id)s ORDER BY number

-- name: counts :repeatable :lookup
SELECT queue, state, count(*) AS n FROM queuectl_jobs GROUP BY queue, state

-- name: group_counts :repeatable :lookup
SELECT state, count(*) AS n FROM queuectl_jobs WHERE "group" = %(group)s GROUP BY state

-- name: groups :repeatable :lookup
SELECT "group", state, count(*) AS n FROM queuectl_jobs
 WHERE "group" IS NOT NULL
 GROUP BY "group", state

-- name: dependents :repeatable :lookup
-- Every job whose "after" names the job, met or not (the dependencies table keeps only
-- the unmet): a walk of the jobs that have an "after" (its index), as a job's page opens.
SELECT id FROM queuectl_jobs
 WHERE "after" IS NOT NULL
   AND "after"::jsonb @> jsonb_build_array(jsonb_build_object('id', %(job_id)s::text))
 ORDER BY seq
 LIMIT %(limit)s

-- name: job_states :repeatable :lookup
SELECT id, state FROM queuectl_jobs WHERE id = ANY(%(ids)s::text[])

-- name: finished_attempts :repeatable :lookup
SELECT j.queue, a.outcome, a.started_at, a.finished_at, a.cpu_user, a.cpu_system, a.max_rss
  FROM queuectl_attempts a JOIN queuectl_jobs j ON j.id = a.job_id
 WHERE a.finished_at >= %(since)s AND a.outcome IS NOT NULL

-- name: attempt_log :repeatable :lookup
-- The job log, newest first: a backward walk of queuectl_attempts_finished that stops after :limit
-- matching rows. Outputs are left out (NULL), as the log does not show them.
SELECT a.job_id, a.number, a.worker_id, a.host, NULL AS pgid, a.started_at, a.finished_at,
       a.exit_code, a.error, a.outcome, NULL AS output, a.output_total, a.cpu_user,
       a.cpu_system, a.max_rss, a."signal", j.queue, j."group"
  FROM queuectl_attempts a JOIN queuectl_jobs j ON j.id = a.job_id
 /*filters*/
 ORDER BY a.finished_at DESC
 LIMIT %(limit)s

-- name: throughput :repeatable :lookup
SELECT (finished_at / %(bucket_ms)s::bigint) * %(bucket_ms)s::bigint AS bucket, outcome,
       count(*) AS n
  FROM queuectl_attempts
 WHERE finished_at >= %(since)s AND outcome IS NOT NULL
 GROUP BY bucket, outcome
 ORDER BY bucket, outcome

-- name: attempt_counts :repeatable :lookup
SELECT outcome, count(*) AS n FROM queuectl_attempts WHERE outcome IS NOT NULL GROUP BY outcome

-- name: run_times :lookup
SELECT count(*) AS n, coalesce(sum(finished_at - started_at), 0)::bigint AS total_ms,
       coalesce(sum(cpu_user), 0) AS cpu_user, coalesce(sum(cpu_system), 0) AS cpu_system
       /*buckets*/
  FROM queuectl_attempts
 WHERE outcome IS NOT NULL AND started_at IS NOT NULL

-- name: register_worker :repeatable
INSERT INTO queuectl_workers (id, host, pid, pool, queues, started_at, heartbeat_at,
                              stop_requested, doorbell)
VALUES (%(id)s, %(host)s, %(pid)s, %(pool)s, %(queues)s, %(started_at)s, %(heartbeat_at)s,
        false, %(doorbell)s)
ON CONFLICT (id) DO UPDATE
   SET host = excluded.host, pid = excluded.pid, pool = excluded.pool,
       queues = excluded.queues, started_at = excluded.started_at,
       heartbeat_at = excluded.heartbeat_at, stop_requested = false,
       doorbell = excluded.doorbell

-- name: deregister_worker :repeatable :lookup
DELETE FROM queuectl_workers WHERE id = %(worker_id)s

-- name: list_workers :repeatable :lookup
SELECT w.*, (SELECT j.id FROM queuectl_jobs j
              WHERE j.state = 'processing' AND j.worker_id = w.id LIMIT 1) AS job_id
  FROM queuectl_workers w
 ORDER BY w.started_at, w.id

-- name: request_stop :lookup
UPDATE queuectl_workers SET stop_requested = true WHERE id = ANY(%(ids)s::text[])

-- name: request_pool_stop :repeatable
INSERT INTO queuectl_pool_stops (pool, requested_at) VALUES (%(pool)s, %(now)s)
ON CONFLICT (pool) DO UPDATE
   SET requested_at = greatest(queuectl_pool_stops.requested_at, excluded.requested_at)

-- name: pool_stop_requested :repeatable :lookup
SELECT 1 AS asked FROM queuectl_pool_stops
 WHERE pool IN (%(pool)s, '*') AND requested_at >= %(since)s

-- name: doorbells :lookup
-- Kept for parity with SQLite; this backend wakes workers with NOTIFY, not UDP doorbells.
SELECT doorbell FROM queuectl_workers WHERE host = %(host)s AND doorbell IS NOT NULL

-- name: config_values :repeatable :lookup
SELECT key, value FROM queuectl_config

-- name: config_set :repeatable
INSERT INTO queuectl_config (key, value) VALUES (%(key)s, %(value)s)
ON CONFLICT (key) DO UPDATE SET value = excluded.value

-- name: config_unset :repeatable :lookup
DELETE FROM queuectl_config WHERE key = %(key)s

-- name: add_schedule
INSERT INTO queuectl_schedules (name, expression, zone, spec, overlap, catch_up, created_at,
                       fired_through, next_fire_at)
VALUES (%(name)s, %(expression)s, %(zone)s, %(spec)s, %(overlap)s, %(catch_up)s, %(now)s, %(now)s,
        %(next_fire_at)s)

-- name: schedules :repeatable :lookup
SELECT * FROM queuectl_schedules ORDER BY name

-- name: get_schedule :repeatable :lookup
SELECT * FROM queuectl_schedules WHERE name = %(name)s

-- name: due_schedules :repeatable :lookup
SELECT * FROM queuectl_schedules WHERE next_fire_at <= %(now)s ORDER BY next_fire_at

-- name: lock_schedule :repeatable :lookup
-- The row lock makes pools that fire one schedule at once take turns: the second sees the
-- fired_through the first committed.
SELECT * FROM queuectl_schedules WHERE name = %(name)s FOR UPDATE

-- name: insert_tick
INSERT INTO queuectl_schedule_ticks (schedule, tick, job, outcome, reason, at)
VALUES (%(schedule)s, %(tick)s, %(job)s, %(outcome)s, %(reason)s, %(now)s)
ON CONFLICT (schedule, tick) DO NOTHING

-- name: prune_ticks :repeatable
-- The newest ticks are what `schedule show` tells; older ones are below fired_through,
-- which no pool goes back behind.
DELETE FROM queuectl_schedule_ticks
 WHERE schedule = %(schedule)s AND tick < (SELECT tick FROM queuectl_schedule_ticks
                                         WHERE schedule = %(schedule)s
                                         ORDER BY tick DESC LIMIT 1 OFFSET %(keep)s)

-- name: advance_schedule
UPDATE queuectl_schedules
   SET fired_through = %(fired_through)s, next_fire_at = %(next_fire_at)s,
       last_job = coalesce(%(last_job)s, last_job)
 WHERE name = %(name)s

-- name: set_last_job
UPDATE queuectl_schedules SET last_job = %(last_job)s WHERE name = %(name)s

-- name: pause_schedule
UPDATE queuectl_schedules SET paused = %(paused)s, next_fire_at = NULL WHERE name = %(name)s

-- name: resume_schedule
UPDATE queuectl_schedules
   SET paused = %(paused)s, fired_through = %(now)s, next_fire_at = %(next_fire_at)s
 WHERE name = %(name)s

-- name: remove_schedule
DELETE FROM queuectl_schedules WHERE name = %(name)s

-- name: forget_ticks :repeatable
DELETE FROM queuectl_schedule_ticks WHERE schedule = %(schedule)s

-- name: schedule_ticks :repeatable :lookup
SELECT * FROM queuectl_schedule_ticks WHERE schedule = %(schedule)s AND outcome = %(outcome)s
 ORDER BY tick DESC LIMIT %(limit)s

-- name: hook_duties_waiting :repeatable
SELECT EXISTS (SELECT 1 FROM queuectl_hook_duties) AS waiting

-- name: take_hook_duties
-- Deleted as they are taken: a pool that dies while it runs them never runs them again.
-- SKIP LOCKED: pools that take at once take different duties, none waits for another. A
-- CTE, not "seq IN (SELECT ...)", as claim says.
WITH taken AS (
    SELECT seq FROM queuectl_hook_duties ORDER BY seq LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
DELETE FROM queuectl_hook_duties d USING taken WHERE d.seq = taken.seq
RETURNING d.*

-- name: export_jobs :repeatable :lookup
-- A page of an export, in enqueue order (the primary key's).
SELECT * FROM queuectl_jobs
 WHERE seq > %(after)s
   AND (%(states)s::text[] IS NULL OR state = ANY(%(states)s::text[]))
   AND (%(group)s::text IS NULL OR "group" = %(group)s)
 ORDER BY seq LIMIT %(limit)s

-- name: export_attempts :repeatable :lookup
SELECT job_id, number, worker_id, host, started_at, finished_at, exit_code, error, outcome,
       CASE WHEN %(with_output)s THEN output END AS output, output_total, cpu_user,
       cpu_system, max_rss, "signal", NULL AS pgid
  FROM queuectl_attempts WHERE job_id = ANY(%(ids)s::text[])
 ORDER BY job_id, number

-- name: export_waits :repeatable :lookup
SELECT job_id, dep_id, condition FROM queuectl_dependencies
 WHERE job_id = ANY(%(ids)s::text[]) ORDER BY job_id, dep_id, condition

-- name: export_hook_duties :repeatable :lookup
SELECT * FROM queuectl_hook_duties WHERE job_id = ANY(%(ids)s::text[]) ORDER BY seq

-- name: export_ticks :repeatable :lookup
SELECT * FROM queuectl_schedule_ticks WHERE schedule = %(schedule)s ORDER BY tick

-- name: import_job
-- Its gate is chosen once the settings are in (regate_jobs).
INSERT INTO queuectl_jobs (id, command, state, queue, priority, attempts, max_retries, run_at,
                  timeout, cwd, env, exit_code, last_error, created_at, updated_at, started_at,
                  finished_at, "after", "group", "index", held, "lock", unique_key, schedule,
                  retry_on, no_retry_on, on_success, on_failure, attempt_number, awaited,
                  waiting_on)
VALUES (%(id)s, %(command)s, %(state)s, %(queue)s, %(priority)s, %(attempts)s,
        %(max_retries)s, %(run_at)s, %(timeout)s, %(cwd)s, %(env)s, %(exit_code)s,
        %(last_error)s, %(created_at)s, %(updated_at)s, %(started_at)s, %(finished_at)s,
        %(after)s, %(group)s, %(index)s, %(held)s, %(lock)s, %(unique_key)s, %(schedule)s,
        %(retry_on)s, %(no_retry_on)s, %(on_success)s, %(on_failure)s, %(attempt_number)s,
        %(awaited)s, %(waiting_on)s)

-- name: import_attempt
INSERT INTO queuectl_attempts (job_id, number, worker_id, host, started_at, finished_at,
                      exit_code, error, outcome, output, output_total, cpu_user, cpu_system,
                      max_rss, "signal")
VALUES (%(job_id)s, %(number)s, %(worker_id)s, %(host)s, %(started_at)s, %(finished_at)s,
        %(exit_code)s, %(error)s, %(outcome)s, %(output)s, %(output_total)s, %(cpu_user)s,
        %(cpu_system)s, %(max_rss)s, %(signal)s)

-- name: import_hook_duty
INSERT INTO queuectl_hook_duties (job_id, command, cwd, env, state, exit_code, attempt,
                                  last_error, created_at)
VALUES (%(job_id)s, %(command)s, %(cwd)s, %(env)s, %(state)s, %(exit_code)s, %(attempt)s,
        %(last_error)s, %(created_at)s)

-- name: import_schedule
INSERT INTO queuectl_schedules (name, expression, zone, spec, overlap, catch_up, paused,
                                created_at, fired_through, next_fire_at, last_job)
VALUES (%(name)s, %(expression)s, %(zone)s, %(spec)s, %(overlap)s, %(catch_up)s, %(paused)s,
        %(created_at)s, %(fired_through)s, %(next_fire_at)s, %(last_job)s)

-- name: import_gate
INSERT INTO queuectl_gates (name, paused, max_running)
VALUES (%(name)s, %(paused)s, %(max_running)s)
ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, max_running = excluded.max_running

-- name: drop_queue_gates
DELETE FROM queuectl_gates WHERE left(name, 6) = 'queue:'

-- name: config_clear
DELETE FROM queuectl_config

-- name: regate_jobs
-- Each live job's gate as insert_job chooses it, after an import changed the gates. Only
-- the rows whose gate changes are written (PostgreSQL: locked), so that running jobs whose
-- gates stay as they were are not held up.
UPDATE queuectl_jobs AS j SET gate = n.gate
  FROM (SELECT id, CASE WHEN "lock" IS NOT NULL THEN 'lock:' || "lock"
                        WHEN EXISTS (SELECT 1 FROM queuectl_gates WHERE name = 'group:' || live."group")
                        THEN 'group:' || "group"
                        WHEN EXISTS (SELECT 1 FROM queuectl_gates WHERE name = 'queue:' || live.queue)
                        THEN 'queue:' || queue END AS gate
          FROM queuectl_jobs live WHERE state IN ('pending', 'failed', 'processing')) AS n
 WHERE j.id = n.id AND j.gate IS DISTINCT FROM n.gate

-- name: recount_gates
-- The processing jobs through each gate, as the end of each attempt will free its slots.
UPDATE queuectl_gates g
   SET running = (SELECT count(*) FROM queuectl_jobs
                   WHERE state = 'processing' AND gate IS NOT NULL
                     AND g.name IN ('queue:' || queue, 'group:' || "group", 'lock:' || "lock"))

-- name: awaited_by_waits
UPDATE queuectl_jobs SET awaited = true
 WHERE id IN (SELECT dep_id FROM queuectl_dependencies) AND NOT awaited

-- name: broken_wait
-- A condition on a job that is not in the store or has ended (an import's: the store's own
-- are deleted as their job ends).
SELECT d.job_id, d.dep_id, j.state
  FROM queuectl_dependencies d LEFT JOIN queuectl_jobs j ON j.id = d.dep_id
 WHERE j.id IS NULL OR j.state NOT IN ('pending', 'failed', 'processing')
 LIMIT 1

-- name: prune_lock_gates :repeatable
-- The gates of locks that no live job takes: an end leaves its lock's gate behind, and a
-- claim looks into every open gate. Run after lock_gates, which waits for the enqueues in
-- flight (add_lock holds ROW EXCLUSIVE on the gates until commit) and keeps new ones out,
-- so that this statement's snapshot sees every job that takes a lock. (An enqueue,
-- requeue or edit that takes the lock makes its gate again.)
DELETE FROM queuectl_gates g
 WHERE left(g.name, 5) = 'lock:' AND g.running = 0
   AND NOT EXISTS (SELECT 1 FROM queuectl_jobs
                    WHERE "lock" = substr(g.name, 6)
                      AND state IN ('pending', 'failed', 'processing'))

-- name: jobs_of :repeatable :lookup
SELECT * FROM queuectl_jobs WHERE id = ANY(%(ids)s::text[]) ORDER BY seq
