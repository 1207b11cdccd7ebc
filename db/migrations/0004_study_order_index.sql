-- STUDY-level C-FIND answers come newest first (db/find_query.cpp):
--   ORDER BY study_date DESC NULLS LAST, study_time DESC NULLS LAST, id
-- The 0001 index (study_date, study_time) cannot produce that order (its backward scan puts
-- NULLs first), so a query matching many studies was sorted in full inside PostgreSQL
-- before the cursor returned its first row. An index in exactly that order lets the cursor
-- stream from its first row; it serves StudyDate single values and ranges as the old one
-- did, so it replaces it rather than adding a second index on the same columns.
-- (Numbered 0004: 0003 is taken by the DT matching work on another branch.)
CREATE INDEX study_newest_first ON study (study_date DESC NULLS LAST, study_time DESC NULLS LAST, id);
DROP INDEX study_date_time;
