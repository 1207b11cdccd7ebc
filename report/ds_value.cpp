#include "report/ds_value.hpp"

#include <cmath>
#include <cstdio>

namespace pacsnode::report {

std::optional<std::string> to_decimal_string(double value) {
  if (!std::isfinite(value) || std::fabs(value) > kMaxReportedMagnitude) return std::nullopt;
  if (value == 0) return std::string("0");  // also -0
  // %.6g of any double is at most 13 characters ("-1.23457e-308"), so the loop always ends
  // with a string; more digits are kept while they fit.
  char buffer[32];
  for (int digits = 15; digits >= 6; --digits) {
    const int n = std::snprintf(buffer, sizeof buffer, "%.*g", digits, value);
    if (n > 0 && n <= 16) return std::string(buffer, static_cast<std::size_t>(n));
  }
  return std::nullopt;  // unreachable (see above)
}

}  // namespace pacsnode::report
