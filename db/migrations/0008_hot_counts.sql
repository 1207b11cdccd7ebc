-- 0008_hot_counts: every indexed instance updates its series and study rows (the count
-- triggers of 0001). An UPDATE that changes no indexed column can be a heap-only tuple
-- (HOT) update — the new row version goes on the same page and no index is touched — but
-- `updated_at` was indexed on both tables, so every instance inserted a new entry into
-- every index of its series (6) and of its study (11, three of them trigram GINs).
-- Measured on 2,000 instances: 94 % of those updates were not HOT. No query reads these
-- two indexes ("what arrived recently" is instance_received_at's), so they go, and the
-- pages keep room for the new row versions of updates.
DROP INDEX study_updated_at;
DROP INDEX series_updated_at;
ALTER TABLE study SET (fillfactor = 80);
ALTER TABLE series SET (fillfactor = 80);
