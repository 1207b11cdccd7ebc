#pragma once
// HTTP media types (RFC 9110 §8.3.1) and Accept headers (§12.5.1), read tolerantly as
// DICOMweb clients write them (PS3.18 §8.7): parameters quoted or not
// (`type=application/dicom` is common although '/' is not a token character),
// case-insensitive type, subtype and parameter names, q-values, `*/*` and `type/*`.
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pacsnode::http {

struct MediaType {
  std::string type;     // lower case; "*" in an Accept range
  std::string subtype;  // lower case; "*" in an Accept range
  // Names in lower case, values unquoted and unescaped, in the order written; an Accept
  // entry's "q" is not among them (it is `q`).
  std::vector<std::pair<std::string, std::string>> params;
  double q = 1;

  // The first parameter called `name` (case-insensitive), unquoted.
  std::optional<std::string> param(std::string_view name) const;
  // "type/subtype", without parameters.
  std::string essence() const;
  // "type/subtype; name=value; ..." with values quoted where they need it (q not written):
  // what a Content-Type header carries.
  std::string to_string() const;
};

// One media type ("multipart/related; type=\"application/dicom\"; boundary=x"). A "q"
// parameter stays an ordinary parameter here. Throws Error(InvalidArgument) naming what is
// wrong: no '/', a type or subtype that is not a token, a parameter without '=', an
// unterminated quoted string, text after the last parameter.
MediaType parse_media_type(std::string_view text);

// An Accept header's media ranges, by descending q, then descending specificity (type/sub
// with parameters, type/sub, type/*, */*), then as written. Commas inside quoted strings do
// not split; empty elements are skipped; a bare "*" reads as "*/*"; q=0 entries are kept
// (they exclude). An empty or blank header is "*/*". Elements that cannot be parsed are
// dropped; throws Error(InvalidArgument) only when nothing usable is left.
std::vector<MediaType> parse_accept(std::string_view header);

// The result of negotiation: which offer, and the Accept entry that accepted it (so that
// the caller can read e.g. its "transfer-syntax" parameter).
struct Negotiated {
  std::size_t index;  // into the offers
  MediaType offer;
  MediaType accepted;
};

// Picks the offer the client prefers. An offer's quality is the q of the most specific
// Accept entry that matches it (type and subtype equal or wildcards; each parameter the
// offer states that the entry also states must agree, case-insensitively, so
// `multipart/related; type="application/dicom"; transfer-syntax=*` matches the offer
// `multipart/related; type=application/dicom`). Highest quality wins, then the more specific
// matching entry, then the earlier offer. nullopt when no offer has a quality above 0: the
// caller answers 406.
std::optional<Negotiated> negotiate(std::span<const MediaType> accept, std::span<const MediaType> offers);
// The same from the header's text and offers written as media types. Offers that do not
// parse are a bug in the caller: Error(Internal).
std::optional<Negotiated> negotiate(std::string_view accept_header, std::span<const std::string_view> offers);
std::optional<Negotiated> negotiate(std::string_view accept_header, std::initializer_list<std::string_view> offers);

// True when `range` (an Accept entry) covers `offer` by the rules above, whatever the q.
bool matches(const MediaType& range, const MediaType& offer);

}  // namespace pacsnode::http
