#include "report/coding_schemes.hpp"

#include <algorithm>
#include <array>

namespace pacsnode::report {
namespace {

// PS3.16 Table 8-1 "Coding Schemes" (the designators a measurement report is likely to
// meet; a designator missing here is merely declared, which is always allowed).
constexpr std::array<std::string_view, 58> kStandard = {
    "ACR",     "ASTM-sigpurpose", "ATC",       "BARI",     "C4",        "C5",     "CAS",     "CD2",
    "CPT",     "DC",              "DCM",       "DCMUID",   "FMA",       "HL7",    "HPC",     "I10",
    "I10P",    "I11",             "I9",        "I9C",      "IBSI",      "ICD10",  "ICD10PCS", "ICDO3",
    "ISO3166_1", "ISO639_1",      "ISO639_2",  "ISO_OID",  "ITIS_TSN",  "LN",     "MA",      "MDC",
    "MDNS",    "MGI",             "MSH",       "NCBITaxon", "NCDR",     "NCIt",   "NDC",     "NEU",
    "NICIP",   "NYUMCCG",         "ORPHA",     "PATHLEX",  "POS",       "PUBCHEM_CID", "RADLEX", "RFC3066",
    "RFC5646", "RO",              "RXNORM",    "SCT",      "SNM3",      "SRT",    "UBERON",  "UCUM",
    "UMLS",    "UPC"};

}  // namespace

bool is_private_scheme(std::string_view designator) {
  return designator == "L" || designator.substr(0, 2) == "99";
}

bool is_standard_scheme(std::string_view designator) {
  return std::find(kStandard.begin(), kStandard.end(), designator) != kStandard.end();
}

bool needs_declaration(std::string_view designator) {
  return is_private_scheme(designator) || !is_standard_scheme(designator);
}

std::string declared_scheme_name(std::string_view designator) {
  if (designator == kPrivateScheme) return std::string(kPrivateSchemeName);
  if (is_private_scheme(designator)) return "private codes " + std::string(designator);
  return "coding scheme " + std::string(designator);
}

}  // namespace pacsnode::report
