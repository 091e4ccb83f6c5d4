
-- Issue 18. The detection engine's incidents, one row each, keyed by the engine's id (a hash of the
-- rule, the server, the group and the first event: the same records give the same id in replay and
-- in collect, so storing an alert again — after a restart, by a second writer — updates the row).
-- state is the operators': open until an admin acknowledges or resolves it on the dashboard; the
-- writer never sets it (its UPDATE grant leaves the column out). detect_state is the engine's
-- (open: still going; closed: quiet for the rule's close_after).
CREATE TABLE pgwarden_repo.incidents (
  id text PRIMARY KEY,
  rule text NOT NULL,
  severity text NOT NULL,
  state text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'acknowledged', 'resolved')),
  detect_state text NOT NULL CHECK (detect_state IN ('open', 'closed')),
  first_ts timestamptz,
  last_ts timestamptz,
  count bigint NOT NULL,
  server text,
  user_name text,
  database_name text,
  client_addr text,
  application text,
  -- the rule's group values ({"user": …}), as the alert carries them
  group_values jsonb NOT NULL DEFAULT '{}',
  summary text NOT NULL,
  tags text[] NOT NULL DEFAULT '{}',
  -- the responses the engine described for it (what a responder would do), as the alert carries them
  responses jsonb NOT NULL DEFAULT '[]',
  stored_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  state_by text,
  state_at timestamptz,
  -- the count when an admin last set the state: an incident acknowledged or resolved that goes on
  -- growing (the same attack, still going) shows how many events came since, and the writer,
  -- which may not touch the state, cannot hide them
  count_at_state bigint
);
-- The engine's count and times only move forward, whoever updates the row: the upsert does so
-- already (GREATEST, LEAST), and this holds it against a writer login going to the table itself,
-- which could otherwise lower the count below count_at_state and hide what came after an admin
-- acknowledged or resolved the incident (the writer may update these columns, for the upsert).
CREATE FUNCTION pgwarden_repo.incidents_forward() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  NEW.count := GREATEST(OLD.count, NEW.count);
  NEW.first_ts := LEAST(OLD.first_ts, NEW.first_ts);
  NEW.last_ts := GREATEST(OLD.last_ts, NEW.last_ts);
  RETURN NEW;
END $fn$;
REVOKE ALL ON FUNCTION pgwarden_repo.incidents_forward() FROM PUBLIC;
CREATE TRIGGER incidents_forward BEFORE UPDATE ON pgwarden_repo.incidents
  FOR EACH ROW EXECUTE FUNCTION pgwarden_repo.incidents_forward();
-- The Incidents page: newest first within a time range, by the last event's time (an incident of
-- untimed records: by when it was stored); the Overview counts the open ones.
CREATE INDEX incidents_seen ON pgwarden_repo.incidents ((COALESCE(last_ts, stored_at)));
CREATE INDEX incidents_open ON pgwarden_repo.incidents (rule) WHERE state = 'open';

-- The records behind each incident (the alert's first and latest events), by the events' own key
-- without the time: input, position and server (COALESCE: a server-less event, as the events'
-- unique index takes it). Joined to events within the incident's first and last time.
CREATE TABLE pgwarden_repo.incident_events (
  incident_id text NOT NULL REFERENCES pgwarden_repo.incidents (id) ON DELETE CASCADE,
  server text,
  source_input text NOT NULL,
  source_position bigint NOT NULL
);
CREATE UNIQUE INDEX incident_events_key ON pgwarden_repo.incident_events (incident_id, source_input, source_position, (COALESCE(server, '')));

-- What admins did on the dashboard: comments, acknowledgements and resolutions, with who and when.
CREATE TABLE pgwarden_repo.incident_comments (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  incident_id text NOT NULL REFERENCES pgwarden_repo.incidents (id) ON DELETE CASCADE,
  ts timestamptz NOT NULL DEFAULT pg_catalog.now(),
  user_name text NOT NULL,
  -- comment, or the state it set (acknowledged, resolved, open)
  action text NOT NULL CHECK (action IN ('comment', 'open', 'acknowledged', 'resolved')),
  body text NOT NULL DEFAULT ''
);
CREATE INDEX incident_comments_incident ON pgwarden_repo.incident_comments (incident_id, ts);
