-- 0010_routing_resource_hot: every arrival updates its series' and study's routing_resource
-- rows (0005's trigger: version + n). The sweepers' index had `version > evaluated_version`
-- as its predicate, which made `version` an indexed column: no arrival's update could be
-- heap-only, and each added entries to both indexes. The predicate is now a stored column
-- that stays true while arrivals add to a pending resource, so those updates can be HOT.
DROP INDEX routing_resource_pending;
ALTER TABLE routing_resource ADD COLUMN pending boolean GENERATED ALWAYS AS (version > evaluated_version) STORED;
CREATE INDEX routing_resource_pending ON routing_resource (recheck_at NULLS FIRST) WHERE pending;
ALTER TABLE routing_resource SET (fillfactor = 80);
