-- 0007_findings: what analysis plug-ins found (routing/analyze.cpp). Each accepted result
-- becomes one report row (the SR pacsnode wrote) and one finding row per measurement, so
-- that a patient's findings can be followed from study to study (`pacsnode history
-- --finding`). One Tracking Unique Identifier per patient and (plug-in, finding, site,
-- laterality, tracking identifier), reused by every later report.

CREATE TABLE tracking_identity (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  patient_id           text COLLATE "C" NOT NULL,
  issuer_of_patient_id text COLLATE "C" NOT NULL DEFAULT '',
  plugin               text COLLATE "C" NOT NULL,
  finding              text COLLATE "C" NOT NULL,  -- "<scheme>:<value>"
  finding_site         text COLLATE "C" NOT NULL DEFAULT '',  -- "<scheme>:<value>" or ''
  laterality           text COLLATE "C" NOT NULL DEFAULT '',
  tracking_identifier  text NOT NULL,
  tracking_uid         text COLLATE "C" NOT NULL UNIQUE,
  created_at           timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT tracking_identity_key UNIQUE (patient_id, issuer_of_patient_id, plugin, finding, finding_site,
                                           laterality, tracking_identifier)
);

-- One row per Structured Report pacsnode wrote from a plug-in's result. The input key
-- (plug-in, version, level, resource, fingerprint of the analysed instances) keeps one SR
-- per version of the input: the same series analysed again writes nothing new.
CREATE TABLE analysis_report (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  plugin               text COLLATE "C" NOT NULL,
  plugin_version       text COLLATE "C" NOT NULL,
  level                text COLLATE "C" NOT NULL CHECK (level IN ('instance', 'series', 'study')),
  resource_uid         text COLLATE "C" NOT NULL,
  input_fingerprint    text COLLATE "C" NOT NULL,
  input_instances      integer NOT NULL,
  job_id               bigint,  -- the analyze job (no foreign key: jobs may be purged)
  patient_id           text COLLATE "C" NOT NULL,
  issuer_of_patient_id text COLLATE "C" NOT NULL DEFAULT '',
  study_instance_uid   text COLLATE "C" NOT NULL,
  study_date           date,
  sr_sop_class_uid     text COLLATE "C" NOT NULL,
  sr_sop_instance_uid  text COLLATE "C" NOT NULL UNIQUE,
  sr_series_instance_uid text COLLATE "C" NOT NULL,
  replaces_sop_instance_uid text COLLATE "C",  -- Predecessor Documents Sequence
  summary              text NOT NULL DEFAULT '',
  created_at           timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT analysis_report_input UNIQUE (plugin, plugin_version, level, resource_uid, input_fingerprint)
);
CREATE INDEX analysis_report_resource ON analysis_report (plugin, level, resource_uid, created_at);
CREATE INDEX analysis_report_patient ON analysis_report (patient_id, issuer_of_patient_id);

CREATE TABLE finding (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  report_pk            bigint NOT NULL REFERENCES analysis_report (id) ON DELETE CASCADE,
  tracking_uid         text COLLATE "C" NOT NULL,
  tracking_identifier  text NOT NULL,
  finding_meaning      text NOT NULL,
  laterality_meaning   text NOT NULL DEFAULT '',
  concept              text COLLATE "C" NOT NULL,  -- "<scheme>:<value>"
  concept_meaning      text NOT NULL,
  derivation_meaning   text NOT NULL DEFAULT '',
  value                double precision NOT NULL,
  unit                 text COLLATE "C" NOT NULL,  -- UCUM code
  unit_meaning         text NOT NULL DEFAULT ''
);
CREATE INDEX finding_report_pk ON finding (report_pk);
CREATE INDEX finding_tracking_uid ON finding (tracking_uid);

-- The tail of an analysis plug-in's output (stdout and stderr, last attempt), for `jobs show`.
ALTER TABLE job ADD COLUMN output_tail text NOT NULL DEFAULT '';
