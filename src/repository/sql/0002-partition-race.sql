
-- Two writers adding the same day's partition at once: the second waited on the advisory lock,
-- but an advisory lock does not refresh the catalog, so it did not see the first one's table
-- and failed with "tuple concurrently updated". Locking the parent table instead serialises the
-- writers that add partitions (COPY into events is not blocked) and refreshes the catalog.
CREATE OR REPLACE FUNCTION pgwarden_repo.ensure_partition(day date) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  name text := 'events_' || pg_catalog.to_char(day, 'YYYYMMDD');
BEGIN
  IF pg_catalog.to_regclass(pg_catalog.format('pgwarden_repo.%I', name)) IS NULL THEN
    LOCK TABLE pgwarden_repo.events IN SHARE UPDATE EXCLUSIVE MODE;
    EXECUTE pg_catalog.format(
      'CREATE TABLE IF NOT EXISTS pgwarden_repo.%I PARTITION OF pgwarden_repo.events FOR VALUES FROM (%L) TO (%L)',
      name, (day::timestamp AT TIME ZONE 'UTC'), ((day + 1)::timestamp AT TIME ZONE 'UTC'));
  END IF;
  RETURN name;
END
$fn$;
REVOKE ALL ON FUNCTION pgwarden_repo.ensure_partition(date) FROM PUBLIC;
