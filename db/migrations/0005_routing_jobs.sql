-- 0005_routing_jobs: routing's shared state — when series and studies are complete
-- (stability), which instances still await their instance-level rules, and the durable job
-- queue the firings feed (forward, analyze). Everything here is shared by every pacsnode
-- process on the database: a firing happens once, whichever node received the instances,
-- and a job runs on whichever node claims it (db/stability.cpp, db/job_queue.cpp).

-- Arrivals per series and per study, kept by the trigger below in the same transaction as
-- the index rows, so that nothing acknowledged can escape routing. Keyed by UID rather than
-- by index row: `db reindex` empties and refills the index, and a rebuilt series must not
-- start its versions again at 1 (the job idempotency key would then swallow new firings).
CREATE TABLE routing_resource (
  level             text COLLATE "C" NOT NULL CHECK (level IN ('series', 'study')),
  uid               text COLLATE "C" NOT NULL,
  study_uid         text COLLATE "C" NOT NULL,  -- the study itself at study level
  -- Content version: instances arrived so far. Every arrival adds one.
  version           bigint NOT NULL DEFAULT 0,
  -- Every rule of the level has looked at this version (fired or not): nothing pending.
  evaluated_version bigint NOT NULL DEFAULT 0,
  first_arrival     timestamptz NOT NULL,
  last_arrival      timestamptz NOT NULL,  -- the quiet period runs from here
  -- The first arrival after the resource was last fully evaluated: max_wait of a rule that
  -- has never looked at the resource runs from here.
  pending_since     timestamptz NOT NULL,
  -- When the sweeper should look again (the earliest time a rule may be due); NULL: as
  -- soon as possible (set by every arrival).
  recheck_at        timestamptz,
  PRIMARY KEY (level, uid)
);
-- What the sweepers scan: only resources with something pending.
CREATE INDEX routing_resource_pending ON routing_resource (recheck_at NULLS FIRST)
  WHERE version > evaluated_version;

-- Per rule and resource: the version the rule last looked at, and how often it fired
-- (matched). Rows appear when a rule first looks at a resource.
CREATE TABLE routing_rule_state (
  level             text COLLATE "C" NOT NULL,
  uid               text COLLATE "C" NOT NULL,
  rule              text COLLATE "C" NOT NULL,
  evaluated_version bigint NOT NULL,
  firings           integer NOT NULL DEFAULT 0,
  last_fired_at     timestamptz,
  -- The first arrival after this rule last looked (NULL: none since): its max_wait for an
  -- amendment runs from here. Set by the arrival trigger.
  pending_since     timestamptz,
  PRIMARY KEY (level, uid, rule)
);

-- One row per indexed instance until the instance-level rules have looked at it: written in
-- the index transaction, consumed in the transaction that creates its jobs.
CREATE TABLE routing_instance_event (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  sop_instance_uid text COLLATE "C" NOT NULL,
  series_uid       text COLLATE "C" NOT NULL,
  study_uid        text COLLATE "C" NOT NULL,
  arrived_at       timestamptz NOT NULL DEFAULT now()
);

-- The arrival bookkeeping. Statement-level, like the count triggers of 0001: one upsert per
-- batch. Rows are upserted in (level, uid) order so that concurrent writers lock them in
-- the same order; a sweeper holding a resource row (FOR UPDATE) makes the writer wait until
-- its firing has committed, so an arrival is never lost between a sweeper's read of the
-- version and its mark. `SET pacsnode.routing = 'off'` (db reindex) skips all of it.
CREATE FUNCTION routing_after_instance_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(current_setting('pacsnode.routing', true), '') = 'off' THEN
    RETURN NULL;
  END IF;
  -- The touched series and studies are recomputed from new_rows in each statement: each
  -- statement takes a fresh snapshot, so the rule-state update below sees a firing that a
  -- sweeper committed while this transaction waited for the resource row's lock.
  INSERT INTO routing_resource AS r (level, uid, study_uid, version, first_arrival, last_arrival, pending_since)
  SELECT level, uid, study_uid, n, now(), now(), now() FROM (
    SELECT 'series' AS level, se.series_instance_uid AS uid, st.study_instance_uid AS study_uid, count(*) AS n
    FROM new_rows nr JOIN series se ON se.id = nr.series_pk JOIN study st ON st.id = se.study_pk
    GROUP BY se.series_instance_uid, st.study_instance_uid
    UNION ALL
    SELECT 'study', st.study_instance_uid, st.study_instance_uid, count(*)
    FROM new_rows nr JOIN series se ON se.id = nr.series_pk JOIN study st ON st.id = se.study_pk
    GROUP BY st.study_instance_uid) arrived
  ORDER BY level, uid
  ON CONFLICT (level, uid) DO UPDATE SET
    version = r.version + EXCLUDED.version,
    last_arrival = now(),
    pending_since = CASE WHEN r.version = r.evaluated_version THEN now() ELSE r.pending_since END,
    recheck_at = NULL;

  UPDATE routing_rule_state s SET pending_since = now()
  FROM (
    SELECT 'series' AS level, se.series_instance_uid AS uid
    FROM new_rows nr JOIN series se ON se.id = nr.series_pk
    UNION
    SELECT 'study', st.study_instance_uid
    FROM new_rows nr JOIN series se ON se.id = nr.series_pk JOIN study st ON st.id = se.study_pk) touched
  WHERE s.level = touched.level AND s.uid = touched.uid AND s.pending_since IS NULL;

  INSERT INTO routing_instance_event (sop_instance_uid, series_uid, study_uid)
  SELECT nr.sop_instance_uid, se.series_instance_uid, st.study_instance_uid
  FROM new_rows nr JOIN series se ON se.id = nr.series_pk JOIN study st ON st.id = se.study_pk;
  RETURN NULL;
END $$;
CREATE TRIGGER routing_after_instance_insert AFTER INSERT ON instance
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION routing_after_instance_insert();

-- The job queue. One row per action of a firing; its life is the state machine of
-- db/job_states.cpp, and every change of state is one statement of db/job_queue.cpp that
-- names the state it leaves.
CREATE TABLE job (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind             text COLLATE "C" NOT NULL,  -- 'forward', 'analyze', …
  target           text COLLATE "C" NOT NULL,  -- the peer's or plug-in's name
  level            text COLLATE "C" NOT NULL CHECK (level IN ('instance', 'series', 'study')),
  study_uid        text COLLATE "C" NOT NULL,
  series_uid       text COLLATE "C" NOT NULL DEFAULT '',  -- '' at study level
  sop_instance_uid text COLLATE "C" NOT NULL DEFAULT '',  -- '' above instance level
  resource_uid     text COLLATE "C" NOT NULL,  -- the UID at `level`
  rule             text COLLATE "C" NOT NULL,
  -- The resource's content version the firing saw (the arrival event's id at instance level).
  content_version  bigint NOT NULL,
  firing           integer NOT NULL DEFAULT 1 CHECK (firing >= 1),  -- > 1: an amendment
  priority         integer NOT NULL DEFAULT 0,  -- higher first
  state            text COLLATE "C" NOT NULL DEFAULT 'queued'
                   CHECK (state IN ('queued', 'running', 'done', 'failed', 'dead', 'cancelled')),
  attempts         integer NOT NULL DEFAULT 0,
  max_attempts     integer NOT NULL CHECK (max_attempts >= 1),
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  lease_owner      text,
  lease_expires_at timestamptz,
  last_error       text NOT NULL DEFAULT '',
  note             text NOT NULL DEFAULT '',  -- e.g. why nobody runs it
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),  -- last change of state
  started_at       timestamptz,                         -- last claim
  finished_at      timestamptz,                         -- done, dead or cancelled
  -- The idempotency key: the same firing never becomes two jobs.
  CONSTRAINT job_idempotency UNIQUE (rule, level, resource_uid, content_version, kind, target),
  CHECK ((state = 'running') = (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL))
);
CREATE INDEX job_claimable ON job (priority DESC, next_attempt_at, id) WHERE state IN ('queued', 'failed');
CREATE INDEX job_leases ON job (lease_expires_at) WHERE state = 'running';
CREATE INDEX job_state ON job (state, id);
CREATE INDEX job_resource ON job (resource_uid);

-- Every change of state of a job, with the attempt and the error: `pacsnode jobs show`.
CREATE TABLE job_event (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id     bigint NOT NULL REFERENCES job (id) ON DELETE CASCADE,
  at         timestamptz NOT NULL DEFAULT now(),
  event      text COLLATE "C" NOT NULL,
  from_state text COLLATE "C" NOT NULL,
  to_state   text COLLATE "C" NOT NULL,
  attempt    integer NOT NULL,
  owner      text NOT NULL DEFAULT '',  -- the node that made the change ('' for the CLI)
  error      text NOT NULL DEFAULT ''
);
CREATE INDEX job_event_job ON job_event (job_id, id);

-- Per-instance outcomes of a forward job: a retry re-sends only what the peer has not
-- acknowledged (outcome 'sent' or 'warning', both answered by a C-STORE-RSP).
CREATE TABLE job_instance (
  job_id           bigint NOT NULL REFERENCES job (id) ON DELETE CASCADE,
  sop_instance_uid text COLLATE "C" NOT NULL,
  outcome          text COLLATE "C" NOT NULL CHECK (outcome IN ('sent', 'warning', 'failed')),
  status           integer,  -- the peer's C-STORE-RSP status; NULL when it never answered
  error            text NOT NULL DEFAULT '',
  attempt          integer NOT NULL,
  at               timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (job_id, sop_instance_uid)
);

-- Destinations that keep failing are backed off on their own, shared by all nodes: no job
-- for the target is claimed before blocked_until, so one dead PACS costs the others nothing.
CREATE TABLE job_target (
  kind          text COLLATE "C" NOT NULL,
  target        text COLLATE "C" NOT NULL,
  failures      integer NOT NULL DEFAULT 0,  -- consecutive
  blocked_until timestamptz,
  last_error    text NOT NULL DEFAULT '',
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kind, target)
);

-- A job that becomes claimable now wakes the dispatchers of every node (LISTEN
-- pacsnode_jobs); jobs waiting for their retry time are found by the dispatchers' poll.
-- Identical notifications of one transaction are delivered once.
CREATE FUNCTION job_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('pacsnode_jobs', '');
  RETURN NULL;
END $$;
CREATE TRIGGER job_notify_insert AFTER INSERT ON job
  FOR EACH ROW WHEN (NEW.state = 'queued') EXECUTE FUNCTION job_notify();
CREATE TRIGGER job_notify_update AFTER UPDATE OF state ON job
  FOR EACH ROW WHEN (NEW.state = 'queued' AND OLD.state <> 'queued') EXECUTE FUNCTION job_notify();
