#pragma once
// How DICOM values become index column values: DA/TM strings to SQL date/time text, a raw
// value kept in a level's DICOM JSON attributes, and array literals for bulk statements.
// Pure functions, no database.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.hpp"
#include "db/array_literal.hpp"

namespace pacsnode::db::detail {

// "YYYYMMDD" (or the ACR-NEMA "YYYY.MM.DD") → "YYYY-MM-DD"; nullopt when empty or not a
// valid calendar date. Surrounding spaces are ignored.
std::optional<std::string> dicom_date_to_sql(std::string_view da);
// "HH[MM[SS[.F{1,6}]]]" (or the ACR-NEMA "HH:MM[:SS[.F]]") → "HH:MM:SS[.FFFFFF]"; nullopt
// when empty or out of range. A leap second (SS = 60) is rejected: PostgreSQL's time type
// would carry it into the next minute.
std::optional<std::string> dicom_time_to_sql(std::string_view tm);

// `object` is a DICOM JSON model object ("" counts as "{}"); returns it with
// "<tag>": {"vr": vr, "Value": [raw]} added. Does not validate `object`: PostgreSQL does.
std::string with_raw_attribute(std::string_view object, std::string_view tag, std::string_view vr,
                               std::string_view raw);

// Converts a DA/TM field for the index: the SQL value, or nullopt and (when the DICOM value
// was present but unparseable) the raw value added to `attributes` under `tag`.
std::optional<std::string> date_column(std::string_view da, std::string_view tag, std::string& attributes);
std::optional<std::string> time_column(std::string_view tm, std::string_view tag, std::string& attributes);

// JSON string literals: base/json.hpp.
using pacsnode::json_string;

}  // namespace pacsnode::db::detail
