#pragma once
// C-MOVE / C-GET identifier → SQL listing the instances to send (PS3.4 C.4.2.2.1 and
// C.4.3.2.1: a retrieve names unique keys only). Pure: builds text and parameters.
//
// The unique key of the retrieve level must be present, non-empty and free of wildcards;
// it may be a list (`uid1\uid2`) — PATIENT level takes one PatientID (qualified by
// IssuerOfPatientID when given). Unique keys of the levels above, when present and
// non-empty, narrow the match; other keys are ignored. Study Root has no PATIENT level.
#include "db/find_query.hpp"

namespace pacsnode::db {

// Rows: sop_instance_uid, sop_class_uid, transfer_syntax_uid, file_path (relative to the
// storage root); ordered by study, series number, instance number; at most `limit` rows
// (0: no limit). Throws
// pacsnode::Error(InvalidArgument) for an identifier PS3.4 refuses.
SqlQuery build_retrieve_sql(const FindRequest& request, std::size_t limit = 0);

}  // namespace pacsnode::db
