-- queuectl's SQLite queries. Times are integer milliseconds since the epoch.
-- /*queues*/ is replaced by a "queue IN (...)" filter, or by nothing.

-- name: schema_v1
CREATE TABLE jobs (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,  -- enqueue order, never reused
    id               TEXT    NOT NULL UNIQUE,
    command          TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    queue            TEXT    NOT NULL,
    priority         INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_retries      INTEGER NOT NULL,
    run_at           INTEGER NOT NULL,
    timeout          REAL,
    cwd              TEXT    NOT NULL,
    env              TEXT,                               -- JSON object, NULL if empty
    exit_code        INTEGER,
    last_error       TEXT,
    worker_id        TEXT,
    lease_until      INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    run_no           INTEGER NOT NULL DEFAULT 0,         -- number of the latest attempt
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER
);
-- The claim walks this index in claim order and stops at the first due row: no sort, and
-- its cost does not grow with the number of finished jobs. The state list must match the
-- claim query's literally, or SQLite will not use the partial index.
CREATE INDEX jobs_claim ON jobs (priority DESC, run_at, seq) WHERE state IN ('pending', 'failed');
CREATE INDEX jobs_due ON jobs (run_at) WHERE state IN ('pending', 'failed');
CREATE INDEX jobs_processing ON jobs (lease_until) WHERE state = 'processing';
CREATE INDEX jobs_state ON jobs (state, seq);
CREATE INDEX jobs_queue ON jobs (queue, state, seq);
CREATE TABLE attempts (
    job_id       TEXT    NOT NULL,
    number       INTEGER NOT NULL,
    worker_id    TEXT,
    host         TEXT,
    pgid         INTEGER,          -- set while the command's process group may be alive
    started_at   INTEGER,
    finished_at  INTEGER,
    exit_code    INTEGER,
    error        TEXT,
    outcome      TEXT,
    output       BLOB,
    output_total INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, number)
);
CREATE INDEX attempts_finished ON attempts (finished_at);
CREATE INDEX attempts_stray ON attempts (host) WHERE pgid IS NOT NULL;
CREATE TABLE output_chunks (
    job_id TEXT    NOT NULL,
    number INTEGER NOT NULL,
    start  INTEGER NOT NULL,                             -- byte offset in the stream
    data   BLOB    NOT NULL,
    PRIMARY KEY (job_id, number, start)
);
CREATE TABLE workers (
    id             TEXT    PRIMARY KEY,
    host           TEXT    NOT NULL,
    pid            INTEGER NOT NULL,
    pool           TEXT    NOT NULL,
    queues         TEXT,                                 -- JSON array, NULL = all queues
    started_at     INTEGER NOT NULL,
    heartbeat_at   INTEGER NOT NULL,
    stop_requested INTEGER NOT NULL DEFAULT 0,
    doorbell       INTEGER
);
CREATE TABLE config (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL                                  -- JSON
);

-- name: schema_v2
-- Listing one queue newest first: (queue, rowid) is (queue, seq). Without it SQLite sorted
-- every job of the queue. Queue and seq never change, so claims do not maintain it.
CREATE INDEX jobs_by_queue ON jobs (queue);

-- name: schema_v3
-- The host of the worker that claimed the latest attempt, set by the claim itself: a pool
-- killed before its worker recorded the command's process group still tells the next
-- pool on that host to look for the attempt's processes.
ALTER TABLE jobs ADD COLUMN host TEXT;

-- name: schema_v4
-- `worker stop` for pools still starting: a pool started before `requested_at` whose id is
-- `pool` ('*': every pool) stops, though none of its workers was registered to be asked.
CREATE TABLE pool_stops (
    pool         TEXT    PRIMARY KEY,
    requested_at INTEGER NOT NULL
);

-- name: schema_v5
-- One name for an attempt's number: a job's latest is its `attempt_number`, as an attempt's
-- own is its `number` (`attempts` is another count: the retry budget used).
ALTER TABLE jobs RENAME COLUMN run_no TO attempt_number;

-- name: schema_v6
-- Workflows (SPEC §7). A job may be claimed only while it is not held and none of its
-- dependency conditions is unmet (waiting_on counts them). The claim's indexes hold only
-- such jobs, so 10,000 jobs that wait on one cost other claims nothing.
-- "after": JSON [{"id", "on"}], NULL if none.
ALTER TABLE jobs ADD COLUMN "after" TEXT;
ALTER TABLE jobs ADD COLUMN "group" TEXT;
ALTER TABLE jobs ADD COLUMN "index" INTEGER;
ALTER TABLE jobs ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN waiting_on INTEGER NOT NULL DEFAULT 0;
-- Set once a job is waited on: only then does its end look for dependents to settle.
ALTER TABLE jobs ADD COLUMN awaited INTEGER NOT NULL DEFAULT 0;
-- Its group has a limit on running jobs (an array's): claimed through group_limits.
ALTER TABLE jobs ADD COLUMN limited INTEGER NOT NULL DEFAULT 0;
DROP INDEX jobs_claim;
CREATE INDEX jobs_claim ON jobs (priority DESC, run_at, seq)
 WHERE state IN ('pending', 'failed') AND held = 0 AND waiting_on = 0 AND limited = 0;
DROP INDEX jobs_due;
CREATE INDEX jobs_due ON jobs (run_at)
 WHERE state IN ('pending', 'failed') AND held = 0 AND waiting_on = 0 AND limited = 0;
-- The jobs of limited groups, per group: a claim looks only into the groups below their
-- limit, so a full group's waiting jobs are never walked.
CREATE INDEX jobs_claim_limited ON jobs ("group", priority DESC, run_at, seq)
 WHERE state IN ('pending', 'failed') AND held = 0 AND waiting_on = 0 AND limited = 1;
CREATE INDEX jobs_due_limited ON jobs ("group", run_at)
 WHERE state IN ('pending', 'failed') AND held = 0 AND waiting_on = 0 AND limited = 1;
-- At most max_running of a group's jobs processing at once; running counts them (+1 by
-- the claim, -1 by the end of an attempt, in their transactions).
CREATE TABLE group_limits (
    name        TEXT    PRIMARY KEY,
    max_running INTEGER NOT NULL,
    running     INTEGER NOT NULL DEFAULT 0
);
-- SQLite's one writer has checked the limit in the claim that starts the job.
CREATE TRIGGER jobs_take_group_slot AFTER UPDATE OF state ON jobs
 WHEN new.state = 'processing' AND new.limited = 1
 BEGIN UPDATE group_limits SET running = running + 1 WHERE name = new."group"; END;
CREATE TRIGGER jobs_free_group_slot AFTER UPDATE OF state ON jobs
 WHEN old.state = 'processing' AND new.state != 'processing' AND old.limited = 1
 BEGIN UPDATE group_limits SET running = max(running - 1, 0) WHERE name = old."group"; END;
CREATE INDEX jobs_group ON jobs ("group", "index", seq) WHERE "group" IS NOT NULL;
-- The unmet conditions, one row each: deleted when the dependency ends, which releases or
-- cancels the waiting job in the same transaction.
CREATE TABLE dependencies (
    dep_id    TEXT NOT NULL,
    job_id    TEXT NOT NULL,
    condition TEXT NOT NULL,                             -- success, any or failure
    PRIMARY KEY (dep_id, job_id, condition)
);
CREATE INDEX dependencies_job ON dependencies (job_id);
-- A worker's job, for held_jobs and the worker list (not a scan of every running job).
CREATE INDEX jobs_held_by ON jobs (worker_id) WHERE state = 'processing';

-- name: schema_v7
-- A job's dependents are found among the jobs that have an "after", not among all jobs.
CREATE INDEX jobs_after ON jobs (seq) WHERE "after" IS NOT NULL;

-- name: schema_v8
-- Flow control (SPEC §8): group limits generalised into gates. A gate is a queue's
-- (`queue:Q`, while it is paused or limited), a limited group's (`group:G`) or a lock's
-- (`lock:L`, at most 1); it is open while not paused and running < max_running (NULL: no
-- limit). A job passes every gate of its own that exists; `gate` names one of them (lock >
-- group > queue), the index it waits in, or is NULL when it has none: the plain claim
-- index holds only those, as cheap as before.
CREATE TABLE gates (
    name        TEXT    PRIMARY KEY,
    paused      INTEGER NOT NULL DEFAULT 0,
    max_running INTEGER,
    running     INTEGER NOT NULL DEFAULT 0
);
INSERT INTO gates (name, max_running, running)
SELECT 'group:' || name, max_running, running FROM group_limits;
ALTER TABLE jobs ADD COLUMN "lock" TEXT;
ALTER TABLE jobs ADD COLUMN gate TEXT;
UPDATE jobs SET gate = 'group:' || "group" WHERE limited = 1;
DROP TRIGGER jobs_take_group_slot;
DROP TRIGGER jobs_free_group_slot;
DROP INDEX jobs_claim;
DROP INDEX jobs_due;
DROP INDEX jobs_claim_limited;
DROP INDEX jobs_due_limited;
ALTER TABLE jobs DROP COLUMN limited;
DROP TABLE group_limits;
CREATE INDEX jobs_claim ON jobs (priority DESC, run_at, seq)
 WHERE state IN ('pending', 'failed') AND held = 0 AND waiting_on = 0 AND gate IS NULL;
CREATE INDEX jobs_due ON jobs (run_at)
 WHERE state IN ('pending', 'failed') AND held = 0 AND waiting_on = 0 AND gate IS NULL;
-- Per gate: a claim looks only into open gates, so a paused queue's or a full limit's
-- waiting jobs are never walked.
CREATE INDEX jobs_claim_gated ON jobs (gate, priority DESC, run_at, seq)
 WHERE state IN ('pending', 'failed') AND held = 0 AND waiting_on = 0 AND gate IS NOT NULL;
CREATE INDEX jobs_due_gated ON jobs (gate, run_at)
 WHERE state IN ('pending', 'failed') AND held = 0 AND waiting_on = 0 AND gate IS NOT NULL;
CREATE INDEX jobs_by_lock ON jobs ("lock", state) WHERE "lock" IS NOT NULL;
-- SQLite's one writer has checked every gate in the claim that starts the job; each gate
-- of the job counts it from then until the attempt ends (any move out of processing).
CREATE TRIGGER jobs_take_slots AFTER UPDATE OF state ON jobs
 WHEN new.state = 'processing' AND new.gate IS NOT NULL
 BEGIN UPDATE gates SET running = running + 1
        WHERE name IN ('queue:' || new.queue, 'group:' || new."group", 'lock:' || new."lock"); END;
CREATE TRIGGER jobs_free_slots AFTER UPDATE OF state ON jobs
 WHEN old.state = 'processing' AND new.state != 'processing' AND old.gate IS NOT NULL
 BEGIN UPDATE gates SET running = max(running - 1, 0)
        WHERE name IN ('queue:' || old.queue, 'group:' || old."group", 'lock:' || old."lock"); END;

-- name: schema_v9
-- Unique jobs (SPEC §8): a key is held by at most one pending, failed or processing job;
-- the index itself makes concurrent enqueues with one key safe (ON CONFLICT on it).
ALTER TABLE jobs ADD COLUMN unique_key TEXT;
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key)
 WHERE unique_key IS NOT NULL AND state IN ('pending', 'failed', 'processing');

-- name: schema_v10
-- Schedules (SPEC §8). fired_through: every tick up to this moment has been handled (by the
-- pool that moved it, under the schedule's row lock); next_fire_at is NULL while paused, so
-- the pools' look for due schedules is one read of a small index. A tick's row is its
-- idempotency key: a tick is enqueued (or skipped) at most once, whatever the pools do.
CREATE TABLE schedules (
    name          TEXT    PRIMARY KEY,
    expression    TEXT    NOT NULL,
    zone          TEXT    NOT NULL,
    spec          TEXT    NOT NULL,               -- its jobs' JSON job object, validated
    overlap       TEXT    NOT NULL,               -- skip | allow
    catch_up      TEXT    NOT NULL,               -- latest | none | all
    paused        INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    fired_through INTEGER NOT NULL,
    next_fire_at  INTEGER,
    last_job      TEXT
);
CREATE INDEX schedules_due ON schedules (next_fire_at) WHERE next_fire_at IS NOT NULL;
CREATE TABLE schedule_ticks (
    schedule TEXT    NOT NULL,
    tick     INTEGER NOT NULL,
    job      TEXT,                                -- NULL: skipped
    outcome  TEXT    NOT NULL,                    -- enqueued | skipped
    reason   TEXT,                                -- overlap | missed
    at       INTEGER NOT NULL,
    PRIMARY KEY (schedule, tick)
);
ALTER TABLE jobs ADD COLUMN schedule TEXT;
CREATE INDEX jobs_schedule ON jobs (schedule, seq) WHERE schedule IS NOT NULL;

-- name: schema_v11
-- The failure policy (SPEC §9): comma-separated exit codes, ranges and words; at most one
-- of the two is set. '' is an empty no_retry_on, NULL one not set.
ALTER TABLE jobs ADD COLUMN retry_on TEXT;
ALTER TABLE jobs ADD COLUMN no_retry_on TEXT;

-- name: schema_v12
-- Accounting (SPEC §9): what each attempt's command used, NULL where the OS could not
-- tell, and the signal that ended it. The job log reads attempts_finished backwards.
ALTER TABLE attempts ADD COLUMN cpu_user REAL;
ALTER TABLE attempts ADD COLUMN cpu_system REAL;
ALTER TABLE attempts ADD COLUMN max_rss INTEGER;
ALTER TABLE attempts ADD COLUMN "signal" INTEGER;

-- name: schema_v13
-- Hooks (SPEC §9): the job's commands, copied at enqueue (config's for one it sets none).
-- The trigger records the duty to run one in the transaction that ends the job, whichever
-- statement does it (finish, cancel, fail-fast, recovery), with what its environment
-- tells; a pool takes a duty by deleting it, so it is run at most once.
ALTER TABLE jobs ADD COLUMN on_success TEXT;
ALTER TABLE jobs ADD COLUMN on_failure TEXT;
CREATE TABLE hook_duties (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id     TEXT    NOT NULL,
    command    TEXT    NOT NULL,
    cwd        TEXT    NOT NULL,
    env        TEXT,                                     -- the job's, JSON; NULL if empty
    state      TEXT    NOT NULL,
    exit_code  INTEGER,
    attempt    INTEGER NOT NULL,
    last_error TEXT,
    created_at INTEGER NOT NULL
);
CREATE TRIGGER jobs_hook_duty AFTER UPDATE OF state ON jobs
 WHEN new.state != old.state AND (new.state = 'completed' AND new.on_success IS NOT NULL
                                  OR new.state IN ('dead', 'canceled') AND new.on_failure IS NOT NULL)
 BEGIN INSERT INTO hook_duties (job_id, command, cwd, env, state, exit_code, attempt, last_error, created_at) VALUES (new.id, CASE new.state WHEN 'completed' THEN new.on_success ELSE new.on_failure END, new.cwd, new.env, new.state, new.exit_code, new.attempt_number, new.last_error, new.updated_at); END;

-- name: insert_job
INSERT INTO jobs (id, command, state, queue, priority, max_retries, run_at, timeout, cwd, env,
                  "after", "group", "index", "lock", unique_key, schedule, retry_on,
                  no_retry_on, on_success, on_failure, gate, created_at, updated_at)
VALUES (:id, :command, 'pending', :queue, :priority, :max_retries, :run_at, :timeout, :cwd,
        :env, :after, :group, :index, :lock, :unique_key, :schedule, :retry_on, :no_retry_on,
        :on_success, :on_failure,
        CASE WHEN :lock IS NOT NULL THEN 'lock:' || :lock
            WHEN EXISTS (SELECT 1 FROM gates WHERE name = 'group:' || :group)
            THEN 'group:' || :group
            WHEN EXISTS (SELECT 1 FROM gates WHERE name = 'queue:' || :queue)
            THEN 'queue:' || :queue END,
        :now, :now)
ON CONFLICT (unique_key)
 WHERE unique_key IS NOT NULL AND state IN ('pending', 'failed', 'processing') DO NOTHING

-- name: unique_holders
SELECT unique_key, id FROM jobs INDEXED BY jobs_unique_key
 WHERE unique_key IN (SELECT value FROM json_each(:keys))
   AND unique_key IS NOT NULL AND state IN ('pending', 'failed', 'processing')

-- name: unique_clashes
SELECT j.id, j.unique_key, h.id AS holder
  FROM jobs j JOIN jobs h
    ON h.unique_key = j.unique_key AND h.id <> j.id
   AND h.state IN ('pending', 'failed', 'processing')
 WHERE j.id IN (SELECT value FROM json_each(:ids))

-- name: existing_ids
SELECT id FROM jobs WHERE id IN (SELECT value FROM json_each(:ids))

-- name: claim
-- The best claimable job of no gate (the first entry of jobs_claim), or the first of each
-- open gate's jobs (jobs_claim_gated) whose other gates are open too. A gate's jobs are
-- looked at only from the plain candidate's priority up: those below it cannot come first,
-- so a gate of low-priority jobs costs a claim one empty index probe.
WITH plain AS (
    SELECT seq, priority, run_at FROM jobs INDEXED BY jobs_claim
     WHERE state IN ('pending', 'failed') AND held = 0 AND waiting_on = 0
       AND gate IS NULL AND run_at <= :now /*queues*/
     ORDER BY priority DESC, run_at, seq
     LIMIT 1)
UPDATE jobs
   SET state = 'processing', worker_id = :worker_id, attempts = attempts + 1,
       attempt_number = attempt_number + 1, lease_until = :lease_until, started_at = :now,
       updated_at = :now, cancel_requested = 0,
       host = (SELECT host FROM workers WHERE id = :worker_id)
 WHERE seq = (SELECT seq FROM (
                SELECT * FROM plain
                UNION ALL
                SELECT j.seq, j.priority, j.run_at FROM gates g JOIN jobs j
                    ON j.seq = (SELECT seq FROM jobs INDEXED BY jobs_claim_gated
                                 WHERE gate = g.name AND state IN ('pending', 'failed')
                                   AND held = 0 AND waiting_on = 0 AND gate IS NOT NULL
                                   AND run_at <= :now /*queues*/
                                   AND priority >= coalesce((SELECT priority FROM plain),
                                                            -9223372036854775808)
                                   AND NOT EXISTS (SELECT 1 FROM gates o
                                  WHERE o.name IN ('queue:' || jobs.queue, 'group:' || jobs."group",
                                                   'lock:' || jobs."lock")
                                    AND (o.paused OR o.running >= o.max_running))
                                 ORDER BY priority DESC, run_at, seq
                                 LIMIT 1)
                 WHERE g.paused = 0 AND (g.max_running IS NULL OR g.running < g.max_running))
               ORDER BY priority DESC, run_at, seq
               LIMIT 1)
RETURNING *

-- name: set_group_limit
INSERT INTO gates (name, max_running) VALUES ('group:' || :group, :max_running)
ON CONFLICT (name) DO UPDATE SET max_running = excluded.max_running

-- name: group_limit
SELECT max_running, running FROM gates WHERE name = 'group:' || :group

-- name: gate
SELECT name, paused, max_running, running FROM gates WHERE name = :name

-- name: gates
SELECT name, paused, max_running, running FROM gates ORDER BY name

-- name: read_gates
-- (PostgreSQL waits here for a pause, resume or limit change in flight; SQLite's one writer
-- needs no lock.)
SELECT 1 FROM gates LIMIT 0

-- name: lock_gates
-- (PostgreSQL waits here for the claims in flight; SQLite's one writer needs no lock.)
SELECT 1 FROM gates LIMIT 0

-- name: pause_queue
-- Only `paused` is set: a limit set meanwhile by another operator stays. Its running jobs
-- are counted afresh (none took a slot while the queue had no gate), after gate_queue: each
-- one counted then frees its slot when it ends.
INSERT INTO gates (name, paused, running)
VALUES ('queue:' || :queue, 1,
        (SELECT count(*) FROM jobs INDEXED BY jobs_queue
          WHERE queue = :queue AND state = 'processing'))
ON CONFLICT (name) DO UPDATE SET paused = 1, running = excluded.running

-- name: limit_queue
-- Only `max_running` is set, its running jobs counted afresh as by pause_queue.
INSERT INTO gates (name, max_running, running)
VALUES ('queue:' || :queue, :max_running,
        (SELECT count(*) FROM jobs INDEXED BY jobs_queue
          WHERE queue = :queue AND state = 'processing'))
ON CONFLICT (name) DO UPDATE SET max_running = excluded.max_running, running = excluded.running

-- name: unlimit_queue
-- Only `max_running` is cleared; a row only if the queue has a gate.
UPDATE gates SET max_running = NULL WHERE name = 'queue:' || :queue
RETURNING paused, max_running

-- name: resume_queue
-- A row only if the queue was paused.
UPDATE gates SET paused = 0 WHERE name = 'queue:' || :queue AND paused = 1
RETURNING paused, max_running

-- name: gate_queue
-- The jobs that may still be claimed, and those processing: the end of an attempt frees a
-- slot of each gate of a job whose `gate` is set, so a running job's must be, as its slot
-- is counted. A finished job's stays as it is (a requeue chooses its gate afresh).
UPDATE jobs SET gate = 'queue:' || :queue
 WHERE queue = :queue AND state IN ('pending', 'failed', 'processing') AND gate IS NULL

-- name: drop_queue_gate
DELETE FROM gates WHERE name = 'queue:' || :queue

-- name: ungate_queue
UPDATE jobs SET gate = NULL
 WHERE queue = :queue AND state IN ('pending', 'failed', 'processing')
   AND gate = 'queue:' || :queue

-- name: add_lock
INSERT INTO gates (name, max_running) VALUES ('lock:' || :lock, 1) ON CONFLICT (name) DO NOTHING

-- name: lock_holders
SELECT id FROM jobs INDEXED BY jobs_by_lock
 WHERE "lock" = :lock AND state = 'processing' ORDER BY started_at, id

-- name: processing_in_queue
SELECT id FROM jobs INDEXED BY jobs_queue
 WHERE queue = :queue AND state = 'processing' ORDER BY started_at, id

-- name: processing_in_group
SELECT id FROM jobs INDEXED BY jobs_group
 WHERE "group" = :group AND state = 'processing' ORDER BY started_at, id

-- name: next_run_at
SELECT min(run_at) AS run_at FROM (
    SELECT min(run_at) AS run_at FROM jobs INDEXED BY jobs_due
     WHERE state IN ('pending', 'failed') AND held = 0 AND waiting_on = 0 AND gate IS NULL
       /*queues*/
    UNION ALL
    SELECT (SELECT min(run_at) FROM jobs INDEXED BY jobs_due_gated
             WHERE gate = g.name AND state IN ('pending', 'failed') AND held = 0
               AND waiting_on = 0 AND gate IS NOT NULL /*queues*/
               AND NOT EXISTS (SELECT 1 FROM gates o
                                  WHERE o.name IN ('queue:' || jobs.queue, 'group:' || jobs."group",
                                                   'lock:' || jobs."lock")
                                    AND (o.paused OR o.running >= o.max_running)))
      FROM gates g WHERE g.paused = 0 AND (g.max_running IS NULL OR g.running < g.max_running))

-- name: record_start
INSERT INTO attempts (job_id, number, worker_id, host, pgid, started_at)
VALUES (:job_id, :number, :worker_id, :host, :pgid, :started_at)
ON CONFLICT (job_id, number) DO UPDATE SET host = excluded.host, pgid = excluded.pgid

-- name: touch_worker
UPDATE workers SET heartbeat_at = :now WHERE id = :worker_id RETURNING stop_requested

-- name: extend_lease
UPDATE jobs SET lease_until = :lease_until
 WHERE id = :job_id AND state = 'processing' AND worker_id = :worker_id
   AND attempt_number = :attempt_number
RETURNING cancel_requested

-- name: job_flags
SELECT cancel_requested FROM jobs
 WHERE id = :job_id AND state = 'processing' AND worker_id = :worker_id
   AND attempt_number = :attempt_number

-- name: stop_requested
SELECT stop_requested FROM workers WHERE id = :worker_id

-- name: append_output
INSERT OR REPLACE INTO output_chunks (job_id, number, start, data)
VALUES (:job_id, :number, :start, :data)

-- name: trim_output
DELETE FROM output_chunks
 WHERE job_id = :job_id AND number = :number AND start + length(data) <= :keep_from

-- name: finish_job
UPDATE jobs
   SET state = :state, attempts = :attempts, run_at = :run_at, exit_code = :exit_code,
       last_error = :last_error, finished_at = :finished_at, worker_id = NULL,
       lease_until = NULL, cancel_requested = 0, updated_at = :now
 WHERE id = :job_id AND state = 'processing' AND worker_id = :worker_id
   AND attempt_number = :attempt_number
RETURNING awaited, gate

-- name: upsert_attempt
-- A process group kept but never recorded is 0: its host finds the processes by their tags.
INSERT INTO attempts (job_id, number, worker_id, host, pgid, started_at, finished_at,
                      exit_code, error, outcome, output, output_total, cpu_user, cpu_system,
                      max_rss, "signal")
VALUES (:job_id, :number, :worker_id, :host, CASE WHEN :keep_pgid THEN 0 END, :started_at,
        :finished_at, :exit_code, :error, :outcome, :output, :output_total, :cpu_user,
        :cpu_system, :max_rss, :signal)
ON CONFLICT (job_id, number) DO UPDATE
   SET finished_at = excluded.finished_at, exit_code = excluded.exit_code,
       error = excluded.error, outcome = excluded.outcome, output = excluded.output,
       output_total = excluded.output_total, cpu_user = excluded.cpu_user,
       cpu_system = excluded.cpu_system, max_rss = excluded.max_rss,
       "signal" = excluded."signal", host = coalesce(attempts.host, excluded.host),
       pgid = CASE WHEN :keep_pgid THEN coalesce(attempts.pgid, 0) END

-- name: drop_chunks
DELETE FROM output_chunks WHERE job_id = :job_id AND number = :number

-- name: expired_jobs
SELECT * FROM jobs INDEXED BY jobs_processing
 WHERE state = 'processing' AND lease_until < :now
 ORDER BY lease_until
 LIMIT :limit

-- name: held_jobs
SELECT * FROM jobs INDEXED BY jobs_held_by
 WHERE state = 'processing' AND worker_id = :worker_id

-- name: stray_attempts
SELECT job_id, number, worker_id, pgid FROM attempts
 WHERE host = :host AND pgid IS NOT NULL

-- name: forget_pgid
UPDATE attempts SET pgid = NULL WHERE job_id = :job_id AND number = :number

-- name: chunks
SELECT start, data FROM output_chunks
 WHERE job_id = :job_id AND number = :number AND start + length(data) > :start
 ORDER BY start

-- name: states_of
SELECT id, state FROM jobs WHERE id IN (SELECT value FROM json_each(:ids))

-- name: job_states
SELECT id, state FROM jobs WHERE id IN (SELECT value FROM json_each(:ids))

-- name: cancel_waiting
UPDATE jobs SET state = 'canceled', finished_at = :now, updated_at = :now
 WHERE id IN (SELECT value FROM json_each(:ids)) AND state IN ('pending', 'failed')
RETURNING id

-- name: cancel_running
UPDATE jobs SET cancel_requested = 1, updated_at = :now
 WHERE id IN (SELECT value FROM json_each(:ids)) AND state = 'processing'

-- name: requeue
UPDATE jobs
   SET state = 'pending', attempts = 0, run_at = :now, finished_at = NULL, waiting_on = 0,
       updated_at = :now,
       -- the gates of its queue and group may have come or gone since it was enqueued
       gate = CASE WHEN "lock" IS NOT NULL THEN 'lock:' || "lock"
                   WHEN EXISTS (SELECT 1 FROM gates WHERE name = 'group:' || "group")
                   THEN 'group:' || "group"
                   WHEN EXISTS (SELECT 1 FROM gates WHERE name = 'queue:' || queue)
                   THEN 'queue:' || queue END
 WHERE id IN (SELECT value FROM json_each(:ids)) AND state IN ('completed', 'dead', 'canceled')
RETURNING id

-- name: dead_ids
SELECT id FROM jobs INDEXED BY jobs_state WHERE state = 'dead' ORDER BY seq

-- name: group_members
SELECT id, state, "group" FROM jobs INDEXED BY jobs_group
 WHERE "group" IN (SELECT value FROM json_each(:groups))
 ORDER BY "group", "index", seq

-- name: insert_dependency
INSERT OR IGNORE INTO dependencies (dep_id, job_id, condition)
VALUES (:dep_id, :job_id, :condition)

-- name: mark_awaited
UPDATE jobs SET awaited = 1 WHERE id IN (SELECT value FROM json_each(:ids)) AND awaited = 0

-- name: count_waiting
UPDATE jobs SET waiting_on = (SELECT count(*) FROM dependencies d WHERE d.job_id = jobs.id)
 WHERE id IN (SELECT value FROM json_each(:ids))

-- name: lock_dependents
-- (PostgreSQL locks them in one order here; SQLite's one writer needs no lock.)
SELECT job_id FROM dependencies WHERE dep_id = :dep_id LIMIT 0

-- name: release_dependents
UPDATE jobs
   SET waiting_on = waiting_on - (SELECT count(*) FROM dependencies d
                                   WHERE d.dep_id = :dep_id AND d.job_id = jobs.id
                                     AND d.condition IN (SELECT value FROM json_each(:accepted))),
       updated_at = :now
 WHERE id IN (SELECT job_id FROM dependencies
               WHERE dep_id = :dep_id AND condition IN (SELECT value FROM json_each(:accepted)))
RETURNING id, waiting_on

-- name: doomed_dependents
SELECT DISTINCT job_id FROM dependencies
 WHERE dep_id = :dep_id AND condition NOT IN (SELECT value FROM json_each(:accepted))

-- name: forget_dependency
DELETE FROM dependencies WHERE dep_id = :dep_id

-- name: forget_waits
DELETE FROM dependencies WHERE job_id IN (SELECT value FROM json_each(:ids))

-- name: cancel_doomed
UPDATE jobs SET state = 'canceled', last_error = :last_error, finished_at = :now,
                waiting_on = 0, updated_at = :now
 WHERE id IN (SELECT value FROM json_each(:ids)) AND state IN ('pending', 'failed')
RETURNING id

-- name: edit_job
UPDATE jobs
   SET command = :command, queue = :queue, priority = :priority,
       max_retries = :max_retries, run_at = :run_at, timeout = :timeout,
       cwd = :cwd, env = :env, "group" = :group, "lock" = :lock, retry_on = :retry_on,
       no_retry_on = :no_retry_on, on_success = :on_success, on_failure = :on_failure,
       updated_at = :now,
       gate = CASE WHEN :lock IS NOT NULL THEN 'lock:' || :lock
            WHEN EXISTS (SELECT 1 FROM gates WHERE name = 'group:' || :group)
            THEN 'group:' || :group
            WHEN EXISTS (SELECT 1 FROM gates WHERE name = 'queue:' || :queue)
            THEN 'queue:' || :queue END
 WHERE id = :id AND state IN ('pending', 'failed')

-- name: set_held
UPDATE jobs SET held = :held, updated_at = :now
 WHERE id IN (SELECT value FROM json_each(:ids)) AND state IN ('pending', 'failed')

-- name: purge_attempts
DELETE FROM attempts WHERE job_id IN (
    SELECT id FROM jobs WHERE state IN (SELECT value FROM json_each(:states))
                          AND finished_at < :before)

-- name: purge_chunks
DELETE FROM output_chunks WHERE job_id IN (
    SELECT id FROM jobs WHERE state IN (SELECT value FROM json_each(:states))
                          AND finished_at < :before)

-- name: purge_jobs
DELETE FROM jobs WHERE state IN (SELECT value FROM json_each(:states)) AND finished_at < :before

-- name: get_job
SELECT * FROM jobs WHERE id = :job_id

-- name: list_jobs
SELECT * FROM jobs /*filters*/
 ORDER BY seq DESC
 LIMIT :limit OFFSET :offset

-- name: attempts
SELECT * FROM attempts WHERE job_id = :job_id ORDER BY number

-- name: counts
SELECT queue, state, count(*) AS n FROM jobs GROUP BY queue, state

-- name: group_counts
SELECT state, count(*) AS n FROM jobs INDEXED BY jobs_group WHERE "group" = :group
 GROUP BY state

-- name: groups
SELECT "group", state, count(*) AS n FROM jobs INDEXED BY jobs_group
 WHERE "group" IS NOT NULL
 GROUP BY "group", state

-- name: dependents
-- Every job whose "after" names the job, met or not (the dependencies table keeps only
-- the unmet): a walk of the jobs that have an "after" (its index), as a job's page opens.
SELECT id FROM jobs INDEXED BY jobs_after
 WHERE "after" IS NOT NULL
   AND EXISTS (SELECT 1 FROM json_each(jobs."after") WHERE json_extract(value, '$.id') = :job_id)
 ORDER BY seq
 LIMIT :limit

-- name: finished_attempts
SELECT j.queue, a.outcome, a.started_at, a.finished_at, a.cpu_user, a.cpu_system, a.max_rss
  FROM attempts a JOIN jobs j ON j.id = a.job_id
 WHERE a.finished_at >= :since AND a.outcome IS NOT NULL

-- name: attempt_log
-- The job log, newest first: a backward walk of attempts_finished that stops after :limit
-- matching rows. Outputs are left out (NULL), as the log does not show them.
SELECT a.job_id, a.number, a.worker_id, a.host, NULL AS pgid, a.started_at, a.finished_at,
       a.exit_code, a.error, a.outcome, NULL AS output, a.output_total, a.cpu_user,
       a.cpu_system, a.max_rss, a."signal", j.queue, j."group"
  FROM attempts a INDEXED BY attempts_finished JOIN jobs j ON j.id = a.job_id
 /*filters*/
 ORDER BY a.finished_at DESC
 LIMIT :limit

-- name: throughput
SELECT (finished_at / :bucket_ms) * :bucket_ms AS bucket, outcome, count(*) AS n
  FROM attempts
 WHERE finished_at >= :since AND outcome IS NOT NULL
 GROUP BY bucket, outcome
 ORDER BY bucket, outcome

-- name: attempt_counts
SELECT outcome, count(*) AS n FROM attempts WHERE outcome IS NOT NULL GROUP BY outcome

-- name: run_times
SELECT count(*) AS n, coalesce(sum(finished_at - started_at), 0) AS total_ms,
       coalesce(sum(cpu_user), 0) AS cpu_user, coalesce(sum(cpu_system), 0) AS cpu_system
       /*buckets*/
  FROM attempts
 WHERE outcome IS NOT NULL AND started_at IS NOT NULL

-- name: register_worker
INSERT OR REPLACE INTO workers (id, host, pid, pool, queues, started_at, heartbeat_at,
                                stop_requested, doorbell)
VALUES (:id, :host, :pid, :pool, :queues, :started_at, :heartbeat_at, 0, :doorbell)

-- name: deregister_worker
DELETE FROM workers WHERE id = :worker_id

-- name: list_workers
SELECT w.*, (SELECT j.id FROM jobs j INDEXED BY jobs_held_by
              WHERE j.state = 'processing' AND j.worker_id = w.id LIMIT 1) AS job_id
  FROM workers w
 ORDER BY w.started_at, w.id

-- name: request_stop
UPDATE workers SET stop_requested = 1 WHERE id IN (SELECT value FROM json_each(:ids))

-- name: request_pool_stop
INSERT INTO pool_stops (pool, requested_at) VALUES (:pool, :now)
ON CONFLICT (pool) DO UPDATE SET requested_at = max(requested_at, excluded.requested_at)

-- name: pool_stop_requested
SELECT 1 AS asked FROM pool_stops
 WHERE pool IN (:pool, '*') AND requested_at >= :since

-- name: doorbells
SELECT doorbell FROM workers WHERE host = :host AND doorbell IS NOT NULL

-- name: config_values
SELECT key, value FROM config

-- name: config_set
INSERT OR REPLACE INTO config (key, value) VALUES (:key, :value)

-- name: config_unset
DELETE FROM config WHERE key = :key

-- name: add_schedule
INSERT INTO schedules (name, expression, zone, spec, overlap, catch_up, created_at,
                       fired_through, next_fire_at)
VALUES (:name, :expression, :zone, :spec, :overlap, :catch_up, :now, :now,
        :next_fire_at)

-- name: schedules
SELECT * FROM schedules ORDER BY name

-- name: get_schedule
SELECT * FROM schedules WHERE name = :name

-- name: due_schedules
SELECT * FROM schedules WHERE next_fire_at <= :now ORDER BY next_fire_at

-- name: lock_schedule
-- (BEGIN IMMEDIATE already holds the one write lock: pools that fire one schedule at once
-- take turns, and the second sees the fired_through the first committed.)
SELECT * FROM schedules WHERE name = :name

-- name: insert_tick
INSERT INTO schedule_ticks (schedule, tick, job, outcome, reason, at)
VALUES (:schedule, :tick, :job, :outcome, :reason, :now)
ON CONFLICT (schedule, tick) DO NOTHING

-- name: prune_ticks
-- The newest ticks are what `schedule show` tells; older ones are below fired_through,
-- which no pool goes back behind.
DELETE FROM schedule_ticks
 WHERE schedule = :schedule AND tick < (SELECT tick FROM schedule_ticks
                                         WHERE schedule = :schedule
                                         ORDER BY tick DESC LIMIT 1 OFFSET :keep)

-- name: advance_schedule
UPDATE schedules
   SET fired_through = :fired_through, next_fire_at = :next_fire_at,
       last_job = coalesce(:last_job, last_job)
 WHERE name = :name

-- name: set_last_job
UPDATE schedules SET last_job = :last_job WHERE name = :name

-- name: pause_schedule
UPDATE schedules SET paused = :paused, next_fire_at = NULL WHERE name = :name

-- name: resume_schedule
UPDATE schedules
   SET paused = :paused, fired_through = :now, next_fire_at = :next_fire_at
 WHERE name = :name

-- name: remove_schedule
DELETE FROM schedules WHERE name = :name

-- name: forget_ticks
DELETE FROM schedule_ticks WHERE schedule = :schedule

-- name: schedule_ticks
SELECT * FROM schedule_ticks WHERE schedule = :schedule AND outcome = :outcome
 ORDER BY tick DESC LIMIT :limit

-- name: hook_duties_waiting
SELECT EXISTS (SELECT 1 FROM hook_duties) AS waiting

-- name: take_hook_duties
-- Deleted as they are taken: a pool that dies while it runs them never runs them again.
DELETE FROM hook_duties WHERE seq IN (SELECT seq FROM hook_duties ORDER BY seq LIMIT :limit)
RETURNING *

-- name: export_jobs
-- A page of an export, in enqueue order (the primary key's).
SELECT * FROM jobs
 WHERE seq > :after AND (:states IS NULL OR state IN (SELECT value FROM json_each(:states)))
   AND (:group IS NULL OR "group" = :group)
 ORDER BY seq LIMIT :limit

-- name: export_attempts
SELECT job_id, number, worker_id, host, started_at, finished_at, exit_code, error, outcome,
       CASE WHEN :with_output THEN output END AS output, output_total, cpu_user, cpu_system,
       max_rss, "signal", NULL AS pgid
  FROM attempts WHERE job_id IN (SELECT value FROM json_each(:ids))
 ORDER BY job_id, number

-- name: export_waits
SELECT job_id, dep_id, condition FROM dependencies
 WHERE job_id IN (SELECT value FROM json_each(:ids)) ORDER BY job_id, dep_id, condition

-- name: export_hook_duties
SELECT * FROM hook_duties WHERE job_id IN (SELECT value FROM json_each(:ids)) ORDER BY seq

-- name: export_ticks
SELECT * FROM schedule_ticks WHERE schedule = :schedule ORDER BY tick

-- name: import_job
-- Its gate is chosen once the settings are in (regate_jobs).
INSERT INTO jobs (id, command, state, queue, priority, attempts, max_retries, run_at, timeout,
                  cwd, env, exit_code, last_error, created_at, updated_at, started_at,
                  finished_at, "after", "group", "index", held, "lock", unique_key, schedule,
                  retry_on, no_retry_on, on_success, on_failure, attempt_number, awaited,
                  waiting_on)
VALUES (:id, :command, :state, :queue, :priority, :attempts, :max_retries, :run_at, :timeout,
        :cwd, :env, :exit_code, :last_error, :created_at, :updated_at, :started_at,
        :finished_at, :after, :group, :index, :held, :lock, :unique_key, :schedule,
        :retry_on, :no_retry_on, :on_success, :on_failure, :attempt_number, :awaited,
        :waiting_on)

-- name: import_attempt
INSERT INTO attempts (job_id, number, worker_id, host, started_at, finished_at, exit_code,
                      error, outcome, output, output_total, cpu_user, cpu_system, max_rss,
                      "signal")
VALUES (:job_id, :number, :worker_id, :host, :started_at, :finished_at, :exit_code, :error,
        :outcome, :output, :output_total, :cpu_user, :cpu_system, :max_rss, :signal)

-- name: import_hook_duty
INSERT INTO hook_duties (job_id, command, cwd, env, state, exit_code, attempt, last_error,
                         created_at)
VALUES (:job_id, :command, :cwd, :env, :state, :exit_code, :attempt, :last_error, :created_at)

-- name: import_schedule
INSERT INTO schedules (name, expression, zone, spec, overlap, catch_up, paused, created_at,
                       fired_through, next_fire_at, last_job)
VALUES (:name, :expression, :zone, :spec, :overlap, :catch_up, :paused, :created_at,
        :fired_through, :next_fire_at, :last_job)

-- name: import_gate
INSERT INTO gates (name, paused, max_running) VALUES (:name, :paused, :max_running)
ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, max_running = excluded.max_running

-- name: drop_queue_gates
DELETE FROM gates WHERE substr(name, 1, 6) = 'queue:'

-- name: config_clear
DELETE FROM config

-- name: regate_jobs
-- Each live job's gate as insert_job chooses it, after an import changed the gates. Only
-- the rows whose gate changes are written (PostgreSQL: locked), so that running jobs whose
-- gates stay as they were are not held up.
UPDATE jobs AS j SET gate = n.gate
  FROM (SELECT id, CASE WHEN "lock" IS NOT NULL THEN 'lock:' || "lock"
                        WHEN EXISTS (SELECT 1 FROM gates WHERE name = 'group:' || live."group")
                        THEN 'group:' || "group"
                        WHEN EXISTS (SELECT 1 FROM gates WHERE name = 'queue:' || live.queue)
                        THEN 'queue:' || queue END AS gate
          FROM jobs live WHERE state IN ('pending', 'failed', 'processing')) AS n
 WHERE j.id = n.id AND j.gate IS NOT n.gate

-- name: recount_gates
-- The processing jobs through each gate, as the end of each attempt will free its slots.
UPDATE gates
   SET running = (SELECT count(*) FROM jobs
                   WHERE state = 'processing' AND gate IS NOT NULL
                     AND gates.name IN ('queue:' || queue, 'group:' || "group", 'lock:' || "lock"))

-- name: awaited_by_waits
UPDATE jobs SET awaited = 1
 WHERE id IN (SELECT dep_id FROM dependencies) AND awaited = 0

-- name: broken_wait
-- A condition on a job that is not in the store or has ended (an import's: the store's own
-- are deleted as their job ends).
SELECT d.job_id, d.dep_id, j.state FROM dependencies d LEFT JOIN jobs j ON j.id = d.dep_id
 WHERE j.id IS NULL OR j.state NOT IN ('pending', 'failed', 'processing')
 LIMIT 1

-- name: prune_lock_gates
-- The gates of locks that no live job takes: an end leaves its lock's gate behind, and a
-- claim looks into every open gate. (An enqueue, requeue or edit that takes the lock makes
-- its gate again.)
DELETE FROM gates
 WHERE substr(name, 1, 5) = 'lock:' AND running = 0
   AND NOT EXISTS (SELECT 1 FROM jobs INDEXED BY jobs_by_lock
                    WHERE "lock" = substr(gates.name, 6)
                      AND state IN ('pending', 'failed', 'processing'))

-- name: jobs_of
SELECT * FROM jobs WHERE id IN (SELECT value FROM json_each(:ids)) ORDER BY seq
