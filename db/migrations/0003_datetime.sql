-- C-FIND matching of DT (date-time) keys kept in the attributes jsonb (db/find_query.cpp):
-- a DT value YYYY[MM[DD[HH[MM[SS[.F{1,6}]]]]]][&ZZXX] stands for an interval, from its first
-- to its last microsecond; these give either end as an instant, honouring the UTC offset.
-- A value without an offset is taken as UTC (documented in the README). NULL for text that
-- is not a DT.
CREATE FUNCTION dicom_dt(value text, upper_end boolean) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  m text[];
  digits text;
  t timestamp;
  unit interval;
BEGIN
  m := regexp_match(value, '^(\d{4}(?:\d{2}){0,5})(?:\.(\d{1,6}))?([+-]\d{4})?$');
  IF m IS NULL OR (m[2] IS NOT NULL AND length(m[1]) <> 14) THEN
    RETURN NULL;
  END IF;
  digits := m[1];
  unit := CASE length(digits)
            WHEN 4 THEN interval '1 year' WHEN 6 THEN interval '1 month' WHEN 8 THEN interval '1 day'
            WHEN 10 THEN interval '1 hour' WHEN 12 THEN interval '1 minute' ELSE interval '1 second' END;
  BEGIN
    t := to_timestamp(CASE length(digits) WHEN 4 THEN digits || '0101000000' WHEN 6 THEN digits || '01000000'
                      ELSE rpad(digits, 14, '0') END, 'YYYYMMDDHH24MISS')::timestamp;
  EXCEPTION WHEN others THEN
    RETURN NULL;
  END;
  IF m[2] IS NOT NULL THEN
    t := t + (rpad(m[2], 6, '0') || ' microseconds')::interval;
    unit := ('1' || repeat('0', 6 - length(m[2])) || ' microseconds')::interval;
  END IF;
  IF upper_end THEN
    t := t + unit - interval '1 microsecond';
  END IF;
  -- ±HHMM east of UTC: the instant is the local time minus the offset.
  RETURN (t - coalesce((substr(m[3], 1, 1) || substr(m[3], 2, 2) || ' hours ' || substr(m[3], 1, 1) ||
                        substr(m[3], 4, 2) || ' minutes')::interval, interval '0'))::timestamp AT TIME ZONE 'UTC';
END $$;
