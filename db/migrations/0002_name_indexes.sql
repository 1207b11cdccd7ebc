-- Person names are matched (db/find_query.cpp) on an expression of the upper-cased column:
-- the alphabetic group with trailing empty components stripped,
--   rtrim(split_part(<name>_norm, '=', 1), '^ ')
-- The indexes of 0001 were on the bare column, which that expression cannot use, so every
-- PatientName query read the whole patient table. These indexes are on the expression
-- itself: btree for exact and prefix matches (`SMITH*`: LIKE with a fixed prefix under
-- COLLATE "C"), trigram for the rest (`*SMITH*`).
CREATE INDEX patient_name_alpha_btree ON patient ((rtrim(split_part(patient_name_norm, '=', 1), '^ ')));
CREATE INDEX patient_name_alpha_trgm ON patient
  USING gin ((rtrim(split_part(patient_name_norm, '=', 1), '^ ')) gin_trgm_ops);
CREATE INDEX study_referring_physician_alpha_trgm ON study
  USING gin ((rtrim(split_part(referring_physician_name_norm, '=', 1), '^ ')) gin_trgm_ops);
DROP INDEX patient_name_norm_trgm;
DROP INDEX patient_name_norm_btree;
DROP INDEX study_referring_physician_trgm;
