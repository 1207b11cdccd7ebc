#pragma once
// Internal to routing/: how rules read DICOM values — as numbers, dates, times, date-times or
// text, chosen by VR — and the intervals that date and time literals stand for.
#include <cstdint>
#include <optional>
#include <string_view>

namespace pacsnode::routing::detail {

enum class ValueKind { Text, Number, Date, Time, DateTime, Binary };

// Number: DS, IS, US, SS, UL, SL, UV, SV, FL, FD. Date: DA. Time: TM. DateTime: DT.
// Binary: OB, OW, OF, OD, OL, OV, UN, SQ (no text to compare). Everything else, and "" (an
// unknown VR), is text.
ValueKind kind_of_vr(std::string_view vr);

// A decimal number as DS and IS write it ("+007.50", "-1e3", surrounding spaces allowed).
std::optional<double> parse_number(std::string_view text);

// The instants a value of reduced precision stands for, inclusive: "2024" (DA) is
// [2024-01-01, 2024-12-31]; "07" (TM) is [07:00:00.000000, 07:59:59.999999]. Dates count
// days from 1970-01-01, times microseconds from midnight, date-times microseconds from
// 1970-01-01T00:00Z.
struct Interval {
  std::int64_t first = 0;
  std::int64_t last = 0;
};

// DA: YYYY, YYYYMM or YYYYMMDD; also the ACR-NEMA form YYYY.MM.DD.
std::optional<Interval> parse_date(std::string_view text);
// TM: HH, HHMM, HHMMSS, HHMMSS.F to HHMMSS.FFFFFF; also HH:MM and HH:MM:SS[.F].
std::optional<Interval> parse_time(std::string_view text);
// DT: YYYY[MM[DD[HH[MM[SS[.F{1,6}]]]]]] with an optional UTC offset &ZZXX (-1200 to +1400)
// applied; without one the value is taken as UTC (as C-FIND matching does, db/find_query).
std::optional<Interval> parse_datetime(std::string_view text);

}  // namespace pacsnode::routing::detail
