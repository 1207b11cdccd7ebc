#pragma once
// The index writer's statements, prepared once per connection (index_session.cpp).
//
// The upserts return the row's id in one round trip whether they inserted, updated or left
// the row alone: INSERT … ON CONFLICT … DO UPDATE … WHERE <something differs> RETURNING
// returns nothing when nothing differs, so a second branch reads the existing row. That
// branch reads the statement's snapshot, which misses a row committed concurrently after
// it; then the statement returns no row at all and the caller asks again. The `old` CTE
// reads the values before the update (same snapshot), for the log.

namespace pacsnode::db::detail {

// $1 patient_id, $2 issuer, $3 name, $4 birth date, $5 sex, $6 attributes →
// id, updated (an existing row changed), old name, old birth date, old sex.
inline constexpr const char* kUpsertPatientName = "index_upsert_patient";
inline constexpr const char* kUpsertPatient = R"sql(
WITH old AS (
  SELECT id, patient_name, patient_birth_date, patient_sex FROM patient
  WHERE patient_id = $1 AND issuer_of_patient_id = $2),
up AS (
  INSERT INTO patient AS p (patient_id, issuer_of_patient_id, patient_name, patient_birth_date, patient_sex,
                            attributes)
  VALUES ($1, $2, $3, $4::date, $5, $6::jsonb)
  ON CONFLICT (patient_id, issuer_of_patient_id) DO UPDATE SET
    patient_name = EXCLUDED.patient_name, patient_birth_date = EXCLUDED.patient_birth_date,
    patient_sex = EXCLUDED.patient_sex, attributes = EXCLUDED.attributes, updated_at = now()
  WHERE (p.patient_name, p.patient_birth_date, p.patient_sex, p.attributes)
        IS DISTINCT FROM (EXCLUDED.patient_name, EXCLUDED.patient_birth_date, EXCLUDED.patient_sex,
                          EXCLUDED.attributes)
  RETURNING id)
SELECT up.id, old.id IS NOT NULL, old.patient_name, old.patient_birth_date::text, old.patient_sex
  FROM up LEFT JOIN old ON true
UNION ALL
SELECT old.id, false, NULL, NULL, NULL FROM old WHERE NOT EXISTS (SELECT 1 FROM up)
)sql";

// $1 patient_pk, $2 uid, $3 date, $4 time, $5 accession, $6 study id, $7 description,
// $8 referring physician, $9 attributes → id, previous patient_pk (NULL when new).
inline constexpr const char* kUpsertStudyName = "index_upsert_study";
inline constexpr const char* kUpsertStudy = R"sql(
WITH old AS (SELECT id, patient_pk FROM study WHERE study_instance_uid = $2),
up AS (
  INSERT INTO study AS s (patient_pk, study_instance_uid, study_date, study_time, accession_number, study_id,
                          study_description, referring_physician_name, attributes)
  VALUES ($1, $2, $3::date, $4::time, $5, $6, $7, $8, $9::jsonb)
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
  RETURNING id)
SELECT up.id, old.patient_pk FROM up LEFT JOIN old ON true
UNION ALL
SELECT old.id, old.patient_pk FROM old WHERE NOT EXISTS (SELECT 1 FROM up)
)sql";

// $1 study_pk, $2 uid, $3 modality, $4 series number, $5 description, $6 body part,
// $7 date, $8 time, $9 attributes → id, previous study_pk (NULL when new).
inline constexpr const char* kUpsertSeriesName = "index_upsert_series";
inline constexpr const char* kUpsertSeries = R"sql(
WITH old AS (SELECT id, study_pk FROM series WHERE series_instance_uid = $2),
up AS (
  INSERT INTO series AS se (study_pk, series_instance_uid, modality, series_number, series_description,
                            body_part_examined, series_date, series_time, attributes)
  VALUES ($1, $2, $3, $4::integer, $5, $6, $7::date, $8::time, $9::jsonb)
  ON CONFLICT (series_instance_uid) DO UPDATE SET
    study_pk = EXCLUDED.study_pk, modality = EXCLUDED.modality, series_number = EXCLUDED.series_number,
    series_description = EXCLUDED.series_description, body_part_examined = EXCLUDED.body_part_examined,
    series_date = EXCLUDED.series_date, series_time = EXCLUDED.series_time, attributes = EXCLUDED.attributes
  WHERE (se.study_pk, se.modality, se.series_number, se.series_description, se.body_part_examined,
         se.series_date, se.series_time, se.attributes)
        IS DISTINCT FROM (EXCLUDED.study_pk, EXCLUDED.modality, EXCLUDED.series_number,
                          EXCLUDED.series_description, EXCLUDED.body_part_examined, EXCLUDED.series_date,
                          EXCLUDED.series_time, EXCLUDED.attributes)
  RETURNING id)
SELECT up.id, old.study_pk FROM up LEFT JOIN old ON true
UNION ALL
SELECT old.id, old.study_pk FROM old WHERE NOT EXISTS (SELECT 1 FROM up)
)sql";

// Twelve parallel arrays, one element per instance → the SOP Instance UIDs inserted.
inline constexpr const char* kInsertInstancesName = "index_insert_instances";
inline constexpr const char* kInsertInstances = R"sql(
INSERT INTO instance (series_pk, sop_instance_uid, sop_class_uid, instance_number, content_date, content_time,
                      calling_ae_title, transfer_syntax_uid, file_path, file_size, checksum, attributes)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::integer[], $5::date[], $6::time[], $7::text[],
                     $8::text[], $9::text[], $10::bigint[], $11::text[], $12::jsonb[])
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
