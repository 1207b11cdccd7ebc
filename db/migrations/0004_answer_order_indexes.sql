-- C-FIND answers come in a fixed order (db/find_query.cpp), and a query matching many rows
-- should stream from its first row rather than be sorted in full inside PostgreSQL before
-- the cursor returns anything. These indexes are in exactly those orders.
--
-- STUDY level: newest first,
--   ORDER BY study_date DESC NULLS LAST, study_time DESC NULLS LAST, id
-- The 0001 index (study_date, study_time) cannot produce that order (its backward scan puts
-- NULLs first). This one serves StudyDate single values and ranges as the old one did, so
-- it replaces it rather than adding a second index on the same columns.
CREATE INDEX study_newest_first ON study (study_date DESC NULLS LAST, study_time DESC NULLS LAST, id);
DROP INDEX study_date_time;

-- PATIENT level: by name, ORDER BY patient_name_norm, patient_id, id. Name matching uses
-- the 0002 expression indexes; this one only gives the order.
CREATE INDEX patient_name_order ON patient (patient_name_norm, patient_id, id);
