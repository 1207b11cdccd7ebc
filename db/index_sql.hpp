#pragma once
// The index writer's statements, prepared once per connection (index_session.cpp).
//
// The upserts take one array per column, one element per distinct patient, study or
// series of the batch, so that each level costs one statement (and one run of the count
// triggers) per batch. INSERT … ON CONFLICT DO UPDATE … WHERE <something differs> locks
// every conflicting row but returns only those it inserted or changed; the second branch
// adds the unchanged ones from the `old` CTE, which also gives the values before an update
// for the log. `old` reads the statement's snapshot, so a row another writer committed
// after it started is missing from the result: the *_ids statements read those. Input is
// sorted so that rows lock in the same order in every writer.

namespace pacsnode::db::detail {

// Arrays: $1 patient_id, $2 issuer, $3 name, $4 birth date, $5 sex, $6 attributes →
// id, patient_id, issuer, updated (an existing row changed), old name, old birth date, old sex
// (NULL unless updated).
inline constexpr const char* kUpsertPatientsName = "index_upsert_patients";
inline constexpr const char* kUpsertPatients = R"sql(
WITH input AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::date[], $5::text[], $6::jsonb[])
    AS t(patient_id, issuer, name, birth_date, sex, attributes)),
old AS (
  SELECT p.id, p.patient_id, p.issuer_of_patient_id, p.patient_name, p.patient_birth_date, p.patient_sex
  FROM patient p JOIN input i ON p.patient_id = i.patient_id AND p.issuer_of_patient_id = i.issuer),
up AS (
  INSERT INTO patient AS p (patient_id, issuer_of_patient_id, patient_name, patient_birth_date, patient_sex,
                            attributes)
  SELECT patient_id, issuer, name, birth_date, sex, attributes FROM input ORDER BY patient_id, issuer
  ON CONFLICT (patient_id, issuer_of_patient_id) DO UPDATE SET
    patient_name = EXCLUDED.patient_name, patient_birth_date = EXCLUDED.patient_birth_date,
    patient_sex = EXCLUDED.patient_sex, attributes = EXCLUDED.attributes, updated_at = now()
  WHERE (p.patient_name, p.patient_birth_date, p.patient_sex, p.attributes)
        IS DISTINCT FROM (EXCLUDED.patient_name, EXCLUDED.patient_birth_date, EXCLUDED.patient_sex,
                          EXCLUDED.attributes)
  RETURNING id, patient_id, issuer_of_patient_id)
SELECT up.id, up.patient_id, up.issuer_of_patient_id, old.id IS NOT NULL, old.patient_name,
       old.patient_birth_date::text, old.patient_sex
FROM up LEFT JOIN old ON old.patient_id = up.patient_id AND old.issuer_of_patient_id = up.issuer_of_patient_id
UNION ALL
SELECT old.id, old.patient_id, old.issuer_of_patient_id, false, NULL, NULL, NULL FROM old
WHERE NOT EXISTS (SELECT 1 FROM up WHERE up.patient_id = old.patient_id
                                     AND up.issuer_of_patient_id = old.issuer_of_patient_id)
)sql";

// Arrays: $1 patient_id, $2 issuer → id, patient_id, issuer.
inline constexpr const char* kPatientIdsName = "index_patient_ids";
inline constexpr const char* kPatientIds = R"sql(
SELECT p.id, p.patient_id, p.issuer_of_patient_id
FROM patient p JOIN unnest($1::text[], $2::text[]) AS i(patient_id, issuer)
  ON p.patient_id = i.patient_id AND p.issuer_of_patient_id = i.issuer
)sql";

// Arrays: $1 patient_pk, $2 uid, $3 date, $4 time, $5 accession, $6 study id,
// $7 description, $8 referring physician, $9 attributes → id, uid, previous patient_pk
// (NULL when new).
inline constexpr const char* kUpsertStudiesName = "index_upsert_studies";
inline constexpr const char* kUpsertStudies = R"sql(
WITH input AS (
  SELECT * FROM unnest($1::bigint[], $2::text[], $3::date[], $4::time[], $5::text[], $6::text[], $7::text[],
                       $8::text[], $9::jsonb[])
    AS t(patient_pk, uid, d_date, d_time, accession, study_id, description, referring, attributes)),
old AS (SELECT s.id, s.study_instance_uid, s.patient_pk FROM study s JOIN input i ON s.study_instance_uid = i.uid),
up AS (
  INSERT INTO study AS s (patient_pk, study_instance_uid, study_date, study_time, accession_number, study_id,
                          study_description, referring_physician_name, attributes)
  SELECT patient_pk, uid, d_date, d_time, accession, study_id, description, referring, attributes
  FROM input ORDER BY uid
  ON CONFLICT (study_instance_uid) DO UPDATE SET
    patient_pk = EXCLUDED.patient_pk, study_date = EXCLUDED.study_date, study_time = EXCLUDED.study_time,
    accession_number = EXCLUDED.accession_number, study_id = EXCLUDED.study_id,
    study_description = EXCLUDED.study_description,
    referring_physician_name = EXCLUDED.referring_physician_name, attributes = EXCLUDED.attributes
  WHERE (s.patient_pk, s.study_date, s.study_time, s.accession_number, s.study_id, s.study_description,
         s.referring_physician_name, s.attributes)
        IS DISTINCT FROM (EXCLUDED.patient_pk, EXCLUDED.study_date, EXCLUDED.study_time, EXCLUDED.accession_number,
                          EXCLUDED.study_id, EXCLUDED.study_description, EXCLUDED.referring_physician_name,
                          EXCLUDED.attributes)
  RETURNING id, study_instance_uid)
SELECT up.id, up.study_instance_uid, old.patient_pk FROM up LEFT JOIN old USING (study_instance_uid)
UNION ALL
SELECT old.id, old.study_instance_uid, old.patient_pk FROM old
WHERE NOT EXISTS (SELECT 1 FROM up WHERE up.study_instance_uid = old.study_instance_uid)
)sql";

// Array $1 uids → id, uid.
inline constexpr const char* kStudyIdsName = "index_study_ids";
inline constexpr const char* kStudyIds = R"sql(
SELECT id, study_instance_uid FROM study WHERE study_instance_uid = ANY($1::text[])
)sql";

// Arrays: $1 study_pk, $2 uid, $3 modality, $4 series number, $5 description, $6 body
// part, $7 date, $8 time, $9 attributes → id, uid, previous study_pk (NULL when new).
inline constexpr const char* kUpsertSeriesName = "index_upsert_series";
inline constexpr const char* kUpsertSeries = R"sql(
WITH input AS (
  SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::integer[], $5::text[], $6::text[], $7::date[],
                       $8::time[], $9::jsonb[])
    AS t(study_pk, uid, modality, number, description, body_part, d_date, d_time, attributes)),
old AS (SELECT se.id, se.series_instance_uid, se.study_pk FROM series se JOIN input i ON se.series_instance_uid = i.uid),
up AS (
  INSERT INTO series AS se (study_pk, series_instance_uid, modality, series_number, series_description,
                            body_part_examined, series_date, series_time, attributes)
  SELECT study_pk, uid, modality, number, description, body_part, d_date, d_time, attributes FROM input ORDER BY uid
  ON CONFLICT (series_instance_uid) DO UPDATE SET
    study_pk = EXCLUDED.study_pk, modality = EXCLUDED.modality, series_number = EXCLUDED.series_number,
    series_description = EXCLUDED.series_description, body_part_examined = EXCLUDED.body_part_examined,
    series_date = EXCLUDED.series_date, series_time = EXCLUDED.series_time, attributes = EXCLUDED.attributes
  WHERE (se.study_pk, se.modality, se.series_number, se.series_description, se.body_part_examined,
         se.series_date, se.series_time, se.attributes)
        IS DISTINCT FROM (EXCLUDED.study_pk, EXCLUDED.modality, EXCLUDED.series_number,
                          EXCLUDED.series_description, EXCLUDED.body_part_examined, EXCLUDED.series_date,
                          EXCLUDED.series_time, EXCLUDED.attributes)
  RETURNING id, series_instance_uid)
SELECT up.id, up.series_instance_uid, old.study_pk FROM up LEFT JOIN old USING (series_instance_uid)
UNION ALL
SELECT old.id, old.series_instance_uid, old.study_pk FROM old
WHERE NOT EXISTS (SELECT 1 FROM up WHERE up.series_instance_uid = old.series_instance_uid)
)sql";

// Array $1 uids → id, uid.
inline constexpr const char* kSeriesIdsName = "index_series_ids";
inline constexpr const char* kSeriesIds = R"sql(
SELECT id, series_instance_uid FROM series WHERE series_instance_uid = ANY($1::text[])
)sql";

// Thirteen parallel arrays, one element per instance → the SOP Instance UIDs inserted.
inline constexpr const char* kInsertInstancesName = "index_insert_instances";
inline constexpr const char* kInsertInstances = R"sql(
INSERT INTO instance (series_pk, sop_instance_uid, sop_class_uid, instance_number, content_date, content_time,
                      calling_ae_title, transfer_syntax_uid, file_path, file_size, checksum, attributes,
                      called_ae_title)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::integer[], $5::date[], $6::time[], $7::text[],
                     $8::text[], $9::text[], $10::bigint[], $11::text[], $12::jsonb[], $13::text[])
ON CONFLICT (sop_instance_uid) DO NOTHING
RETURNING sop_instance_uid
)sql";

// $1 SOP Instance UIDs → the deleted rows' UIDs and file paths.
inline constexpr const char* kDeleteInstancesName = "index_delete_instances";
inline constexpr const char* kDeleteInstances = R"sql(
DELETE FROM instance WHERE sop_instance_uid = ANY($1::text[]) RETURNING sop_instance_uid, file_path
)sql";

// $1 SOP Instance UIDs → uid, file_path, checksum of those indexed.
inline constexpr const char* kFindInstancesName = "index_find_instances";
inline constexpr const char* kFindInstances = R"sql(
SELECT sop_instance_uid, file_path, checksum FROM instance WHERE sop_instance_uid = ANY($1::text[])
)sql";

}  // namespace pacsnode::db::detail
