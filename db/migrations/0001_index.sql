-- 0001_index: the index of stored instances, in the four levels of the DICOM information
-- model (patient → study → series → instance). Ingest fills it; C-FIND, C-MOVE, C-GET and
-- the patient history query it.
--
-- Conventions used throughout:
--  * Surrogate bigint keys (id) so that foreign keys and joins stay narrow; the DICOM
--    identities (UIDs, PatientID + issuer) are UNIQUE constraints.
--  * String attributes are NOT NULL DEFAULT '': DICOM does not distinguish an absent value
--    from an empty one for matching (PS3.4 C.2.2.2), and NULLs would defeat the unique
--    constraint on (patient_id, issuer_of_patient_id).
--  * DA and TM attributes are date and time, NULL when absent or unparseable, so that range
--    matching ("20240101-20240131") is a plain btree range scan.
--  * Identifiers and normalised names use COLLATE "C": byte order is what DICOM matching
--    means, it lets a btree serve LIKE 'ABC%', and it is immune to glibc collation changes.
--  * attributes (jsonb): the level's other non-bulk attributes in the DICOM JSON model
--    (PS3.18 F.2: {"00100030": {"vr": "DA", "Value": ["19700101"]}}), so that C-FIND can
--    return any optional key and nothing received is lost. A value that a typed column
--    cannot hold (an unparseable date) is kept here under its tag as well.
--  * The identifying UIDs (and an instance's file path) may never be empty: an empty UID
--    would make one row of every instance that lacks it.

-- Case-insensitive wildcard search on person names ("*MÜLLER*").
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE patient (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- Patient identity is PatientID plus IssuerOfPatientID, never PatientID alone: two
  -- hospitals may hand out the same number to different people.
  patient_id           text COLLATE "C" NOT NULL,            -- (0010,0020)
  issuer_of_patient_id text COLLATE "C" NOT NULL DEFAULT '', -- (0010,0021), '' when absent
  patient_name         text NOT NULL DEFAULT '',             -- (0010,0010) as received
  -- upper() uses the database's LC_CTYPE, so non-ASCII letters fold too (é → É). Generated
  -- so that every writer normalises the same way as the query side.
  patient_name_norm    text COLLATE "C" GENERATED ALWAYS AS (upper(patient_name)) STORED,
  patient_birth_date   date,                                 -- (0010,0030)
  patient_sex          text COLLATE "C" NOT NULL DEFAULT '', -- (0010,0040)
  attributes           jsonb NOT NULL DEFAULT '{}',
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT patient_identity UNIQUE (patient_id, issuer_of_patient_id)
);
-- The unique constraint's index also serves PatientID matching (leading column).
CREATE INDEX patient_name_norm_trgm ON patient USING gin (patient_name_norm gin_trgm_ops);
CREATE INDEX patient_name_norm_btree ON patient (patient_name_norm);  -- exact and prefix
CREATE INDEX patient_birth_date ON patient (patient_birth_date);

CREATE TABLE study (
  id                        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  patient_pk                bigint NOT NULL REFERENCES patient (id) ON DELETE CASCADE,
  study_instance_uid        text COLLATE "C" NOT NULL UNIQUE CHECK (study_instance_uid <> ''),  -- (0020,000D)
  study_date                date,                              -- (0008,0020)
  study_time                time,                              -- (0008,0030)
  accession_number          text COLLATE "C" NOT NULL DEFAULT '',  -- (0008,0050)
  study_id                  text COLLATE "C" NOT NULL DEFAULT '',  -- (0020,0010)
  study_description         text NOT NULL DEFAULT '',          -- (0008,1030)
  study_description_norm    text COLLATE "C" GENERATED ALWAYS AS (upper(study_description)) STORED,
  referring_physician_name  text NOT NULL DEFAULT '',          -- (0008,0090)
  referring_physician_name_norm text COLLATE "C" GENERATED ALWAYS AS (upper(referring_physician_name)) STORED,
  -- Derived from the children by the triggers below, never written by ingest directly:
  -- C-FIND returns them (0008,0061), (0008,0062), (0020,1206), (0020,1208) and matches
  -- ModalitiesInStudy ("CT" matches a study that has CT among other modalities).
  modalities_in_study       text[] COLLATE "C" NOT NULL DEFAULT '{}',
  sop_classes_in_study      text[] COLLATE "C" NOT NULL DEFAULT '{}',
  number_of_series          integer NOT NULL DEFAULT 0,
  number_of_instances       integer NOT NULL DEFAULT 0,
  attributes                jsonb NOT NULL DEFAULT '{}',
  created_at                timestamptz NOT NULL DEFAULT now(),  -- first instance received
  updated_at                timestamptz NOT NULL DEFAULT now()   -- last instance received
);
CREATE INDEX study_patient_pk ON study (patient_pk);  -- joins and ON DELETE CASCADE
CREATE INDEX study_date_time ON study (study_date, study_time);
CREATE INDEX study_accession_number ON study (accession_number);
CREATE INDEX study_study_id ON study (study_id);
CREATE INDEX study_modalities ON study USING gin (modalities_in_study);
CREATE INDEX study_referring_physician_trgm ON study USING gin (referring_physician_name_norm gin_trgm_ops);
CREATE INDEX study_description_trgm ON study USING gin (study_description_norm gin_trgm_ops);
CREATE INDEX study_updated_at ON study (updated_at);  -- "what arrived recently"

CREATE TABLE series (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  study_pk             bigint NOT NULL REFERENCES study (id) ON DELETE CASCADE,
  series_instance_uid  text COLLATE "C" NOT NULL UNIQUE CHECK (series_instance_uid <> ''),  -- (0020,000E)
  modality             text COLLATE "C" NOT NULL DEFAULT '',  -- (0008,0060)
  series_number        integer,                               -- (0020,0011)
  series_description   text NOT NULL DEFAULT '',              -- (0008,103E)
  series_description_norm text COLLATE "C" GENERATED ALWAYS AS (upper(series_description)) STORED,
  body_part_examined   text COLLATE "C" NOT NULL DEFAULT '',  -- (0018,0015)
  series_date          date,                                  -- (0008,0021)
  series_time          time,                                  -- (0008,0031)
  number_of_instances  integer NOT NULL DEFAULT 0,            -- (0020,1209), by trigger
  attributes           jsonb NOT NULL DEFAULT '{}',
  created_at           timestamptz NOT NULL DEFAULT now(),
  -- Last instance received: routing's "series is stable after a quiet period" reads this.
  updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX series_study_pk ON series (study_pk);
CREATE INDEX series_modality ON series (modality);
CREATE INDEX series_date_time ON series (series_date, series_time);
CREATE INDEX series_updated_at ON series (updated_at);

CREATE TABLE instance (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  series_pk            bigint NOT NULL REFERENCES series (id) ON DELETE CASCADE,
  sop_instance_uid     text COLLATE "C" NOT NULL UNIQUE CHECK (sop_instance_uid <> ''),  -- (0008,0018)
  sop_class_uid        text COLLATE "C" NOT NULL CHECK (sop_class_uid <> ''),  -- (0008,0016)
  instance_number      integer,                               -- (0020,0013)
  content_date         date,                                  -- (0008,0023)
  content_time         time,                                  -- (0008,0033)
  -- How and when it arrived.
  received_at          timestamptz NOT NULL DEFAULT now(),
  calling_ae_title     text COLLATE "C" NOT NULL DEFAULT '',  -- '' for instances we made (SRs)
  transfer_syntax_uid  text COLLATE "C" NOT NULL CHECK (transfer_syntax_uid <> ''),  -- as stored on disk
  -- Relative to the storage root, so that the root can move; unique so that deleting one
  -- row can never delete another row's file.
  file_path            text COLLATE "C" NOT NULL UNIQUE CHECK (file_path <> ''),
  file_size            bigint NOT NULL CHECK (file_size >= 0),
  -- "<algorithm>:<hex digest>", e.g. "sha256:9f86…", so the algorithm can change without
  -- a migration.
  checksum             text COLLATE "C" NOT NULL,
  attributes           jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX instance_series_pk ON instance (series_pk);
CREATE INDEX instance_sop_class_uid ON instance (sop_class_uid);
CREATE INDEX instance_received_at ON instance (received_at);

-- Counts and study-level summaries are kept by statement-level triggers rather than by
-- ingest code, so that no writer (ingest, SR creation, deletion, a manual fix in psql) can
-- let them drift. Statement-level with transition tables: a batch of N instances costs one
-- UPDATE per touched series and study, not N. Writers that batch across studies should
-- insert in study order so that two concurrent batches lock study rows in the same order.
-- Instances never move between series (re-parenting is a delete and an insert), so an
-- UPDATE of instance needs no trigger.

-- Recomputes one study's summary from its children: used after deletions and modality
-- changes, where incremental bookkeeping would be error-prone.
CREATE FUNCTION refresh_study_summary(target_study_pk bigint) RETURNS void LANGUAGE sql AS $$
  UPDATE study s SET
    number_of_series = (SELECT count(*) FROM series WHERE study_pk = s.id),
    number_of_instances = (SELECT count(*) FROM instance i JOIN series se ON se.id = i.series_pk
                           WHERE se.study_pk = s.id),
    modalities_in_study = ARRAY(SELECT DISTINCT modality FROM series
                                WHERE study_pk = s.id AND modality <> '' ORDER BY 1),
    sop_classes_in_study = ARRAY(SELECT DISTINCT i.sop_class_uid FROM instance i
                                 JOIN series se ON se.id = i.series_pk
                                 WHERE se.study_pk = s.id ORDER BY 1)
  WHERE s.id = target_study_pk;
$$;

CREATE FUNCTION series_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE study s SET
    number_of_series = s.number_of_series + a.n,
    modalities_in_study = ARRAY(SELECT DISTINCT m FROM unnest(s.modalities_in_study || a.modalities) AS m
                                WHERE m <> '' ORDER BY 1),
    updated_at = now()
  FROM (SELECT study_pk, count(*) AS n, array_agg(modality) AS modalities
        FROM new_rows GROUP BY study_pk) a
  WHERE s.id = a.study_pk;
  RETURN NULL;
END $$;
CREATE TRIGGER series_after_insert AFTER INSERT ON series
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION series_after_insert();

CREATE FUNCTION series_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- A study deleted in the same statement (cascade) is simply not found.
  PERFORM refresh_study_summary(study_pk) FROM (SELECT DISTINCT study_pk FROM old_rows) touched;
  RETURN NULL;
END $$;
CREATE TRIGGER series_after_delete AFTER DELETE ON series
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION series_after_delete();

-- Row-level, and only for the columns the summary depends on: the instance trigger below
-- updates series rows on every insert, and that must not trigger a full recount.
-- (Transition tables cannot be combined with a column list.)
CREATE FUNCTION series_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM refresh_study_summary(OLD.study_pk);
  IF NEW.study_pk <> OLD.study_pk THEN
    PERFORM refresh_study_summary(NEW.study_pk);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER series_after_update AFTER UPDATE OF modality, study_pk ON series
  FOR EACH ROW WHEN (OLD.modality IS DISTINCT FROM NEW.modality OR OLD.study_pk <> NEW.study_pk)
  EXECUTE FUNCTION series_after_update();

CREATE FUNCTION instance_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE series se SET
    number_of_instances = se.number_of_instances + a.n,
    updated_at = now()
  FROM (SELECT series_pk, count(*) AS n FROM new_rows GROUP BY series_pk) a
  WHERE se.id = a.series_pk;

  UPDATE study s SET
    number_of_instances = s.number_of_instances + a.n,
    sop_classes_in_study = ARRAY(SELECT DISTINCT c FROM unnest(s.sop_classes_in_study || a.classes) AS c ORDER BY 1),
    updated_at = now()
  FROM (SELECT se.study_pk, count(*) AS n, array_agg(DISTINCT nr.sop_class_uid) AS classes
        FROM new_rows nr JOIN series se ON se.id = nr.series_pk GROUP BY se.study_pk) a
  WHERE s.id = a.study_pk;
  RETURN NULL;
END $$;
CREATE TRIGGER instance_after_insert AFTER INSERT ON instance
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION instance_after_insert();

CREATE FUNCTION instance_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE series se SET number_of_instances = se.number_of_instances - a.n
  FROM (SELECT series_pk, count(*) AS n FROM old_rows GROUP BY series_pk) a
  WHERE se.id = a.series_pk;
  -- Series deleted in the same statement (cascade) no longer join: their study is
  -- refreshed by series_after_delete instead.
  PERFORM refresh_study_summary(study_pk) FROM (
    SELECT DISTINCT se.study_pk FROM old_rows o JOIN series se ON se.id = o.series_pk
  ) touched;
  RETURN NULL;
END $$;
CREATE TRIGGER instance_after_delete AFTER DELETE ON instance
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION instance_after_delete();
