-- The documented bulk path for the Query/Retrieve benchmark: fills pacsnode's index with
-- header-only rows straight in SQL, without files (loading 1,000,000 instances through
-- C-STORE takes about half an hour on the benchmark machine). Instances loaded this way
-- have file paths that do not exist: C-FIND sees them like any other; a C-MOVE of them
-- fails (0xB000) — the benchmark moves a study it stored through C-STORE instead.
-- Load it while the node is running and query before restarting it: the start-up
-- reconciliation (scp/reconcile.cpp) deletes every index row whose file is missing, i.e. all
-- of these.
--
-- psql variables: studies (default 100000), series_per_study (1), instances_per_series
-- (10), studies_per_patient (2). Run against the node's database, e.g.
--   psql -h <data_dir>/pg -U pacsnode -d pacsnode -v studies=100000 -f bench/qr_bulk_load.sql
-- Patient names are drawn from common surnames so that SMITH* matches about 1 % of
-- patients (and *SMITH* 3 %: ARROWSMITH, GOLDSMITH); study dates spread over ten
-- years.
\set ON_ERROR_STOP on
\if :{?studies} \else \set studies 100000 \endif
\if :{?series_per_study} \else \set series_per_study 1 \endif
\if :{?instances_per_series} \else \set instances_per_series 10 \endif
\if :{?studies_per_patient} \else \set studies_per_patient 2 \endif

BEGIN;
-- Header-only rows are not arrivals for routing (migration 0005): no firings, no jobs.
SET LOCAL pacsnode.routing = 'off';
CREATE TEMP TABLE surnames (k int PRIMARY KEY, name text) ON COMMIT DROP;
INSERT INTO surnames
SELECT row_number() OVER () - 1, n FROM unnest(ARRAY[
  'SMITH','JOHNSON','WILLIAMS','BROWN','JONES','GARCIA','MILLER','DAVIS','RODRIGUEZ','MARTINEZ',
  'HERNANDEZ','LOPEZ','GONZALEZ','WILSON','ANDERSON','THOMAS','TAYLOR','MOORE','JACKSON','MARTIN',
  'LEE','PEREZ','THOMPSON','WHITE','HARRIS','SANCHEZ','CLARK','RAMIREZ','LEWIS','ROBINSON',
  'WALKER','YOUNG','ALLEN','KING','WRIGHT','SCOTT','TORRES','NGUYEN','HILL','FLORES',
  'GREEN','ADAMS','NELSON','BAKER','HALL','RIVERA','CAMPBELL','MITCHELL','CARTER','ROBERTS',
  'MULLER','SCHMIDT','SCHNEIDER','FISCHER','WEBER','MEYER','WAGNER','BECKER','SCHULZ','HOFFMANN',
  'MARTIN','BERNARD','DUBOIS','THOMAS','ROBERT','RICHARD','PETIT','DURAND','LEROY','MOREAU',
  'ROSSI','RUSSO','FERRARI','ESPOSITO','BIANCHI','ROMANO','COLOMBO','RICCI','MARINO','GRECO',
  'SILVA','SANTOS','OLIVEIRA','SOUZA','PEREIRA','COSTA','CARVALHO','ALMEIDA','RIBEIRO','ALVES',
  'ARROWSMITH','GOLDSMITH','KOWALSKI','NOWAK','WISNIEWSKI','TANAKA','SUZUKI','SATO','KIM','PARK'
]) AS n;

INSERT INTO patient (patient_id, patient_name, patient_birth_date, patient_sex)
SELECT 'BP' || lpad(g::text, 7, '0'),
       (SELECT name FROM surnames WHERE k = (g * 7919) % 100) || '^' ||
         (ARRAY['JOHN','MARY','ANNA','PETER','LUCA','YUKI','OMAR','SARA'])[1 + g % 8],
       DATE '1930-01-01' + (g * 37 % 30000),
       (ARRAY['M','F','O'])[1 + g % 3]
FROM generate_series(1, (:studies + :studies_per_patient - 1) / :studies_per_patient) g;

INSERT INTO study (patient_pk, study_instance_uid, study_date, study_time, accession_number, study_id,
                   study_description)
SELECT p.id, '1.2.826.0.1.3680043.10.1337.7.' || g, DATE '2015-01-01' + (g * 1543 % 3650),
       TIME '07:00' + (g % 600) * INTERVAL '1 minute', 'BA' || g, (g % 1000)::text, 'Bulk study ' || (g % 50)
FROM generate_series(1, :studies) g
JOIN patient p ON p.patient_id = 'BP' || lpad((1 + (g - 1) / :studies_per_patient)::text, 7, '0');

INSERT INTO series (study_pk, series_instance_uid, modality, series_number, series_description)
SELECT st.id, st.study_instance_uid || '.' || s, (ARRAY['CT','MR','CR','US','PT','DX'])[1 + (st.id + s) % 6], s,
       'Bulk series ' || s
FROM study st CROSS JOIN generate_series(1, :series_per_study) s
WHERE st.study_instance_uid LIKE '1.2.826.0.1.3680043.10.1337.7.%'
ORDER BY st.id;

INSERT INTO instance (series_pk, sop_instance_uid, sop_class_uid, instance_number, transfer_syntax_uid,
                      file_path, file_size, checksum)
SELECT se.id, se.series_instance_uid || '.' || i, '1.2.840.10008.5.1.4.1.1.2', i, '1.2.840.10008.1.2.1',
       'bulk/' || se.series_instance_uid || '.' || i || '.dcm', 0, 'none:'
FROM series se CROSS JOIN generate_series(1, :instances_per_series) i
WHERE se.series_instance_uid LIKE '1.2.826.0.1.3680043.10.1337.7.%'
ORDER BY se.study_pk, se.id, i;
COMMIT;
ANALYZE;
