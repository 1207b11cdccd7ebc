#pragma once
// DCMTK status and codes as the report builder's errors. For report/*.cpp.
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmsr/dsrcodvl.h>

#include <string>

#include "plugins/contract.hpp"
#include "report/input_check.hpp"

namespace pacsnode::report::detail {

// A DCMTK refusal is the input's fault: invalid(what: DCMTK's text).
inline void check(const OFCondition& status, const std::string& what) {
  if (status.bad()) invalid(what + ": " + status.text());
}

// The code as DCMTK's coded entry, checked ("where (value, scheme, "meaning")" if refused).
inline DSRCodedEntryValue coded(const plugins::Code& code, const std::string& where) {
  DSRCodedEntryValue value;
  check(value.setCode(code.value, code.scheme, code.meaning, DSRTypes::CVT_Short, OFTrue),
        where + " (" + code.value + ", " + code.scheme + ", \"" + code.meaning + "\")");
  return value;
}

}  // namespace pacsnode::report::detail
