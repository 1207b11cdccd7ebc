-- 0009_lz4_attributes: the attributes of an instance (its DICOM JSON, a vendor's private
-- header included) are often over the 2 KB at which PostgreSQL compresses a value in the
-- row. Its default method, pglz, was the most expensive function of the server while
-- instances arrived (0.8 % of the machine's CPU at 4 associations, 6 % of PostgreSQL's);
-- lz4 compresses several times faster and reads back faster for C-FIND and DICOMweb
-- answers. Only values written from now on use it; existing rows stay readable as they
-- are. A server built without lz4 keeps pglz.
DO $$
BEGIN
  ALTER TABLE patient ALTER COLUMN attributes SET COMPRESSION lz4;
  ALTER TABLE study ALTER COLUMN attributes SET COMPRESSION lz4;
  ALTER TABLE series ALTER COLUMN attributes SET COMPRESSION lz4;
  ALTER TABLE instance ALTER COLUMN attributes SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
  RAISE NOTICE 'lz4 is not available on this server: attributes stay compressed with pglz';
END $$;
