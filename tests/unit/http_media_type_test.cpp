// Media types and Accept negotiation as DICOMweb clients (OHIF, dicomweb-client, curl)
// write them.
#include <doctest/doctest.h>

#include "base/error.hpp"
#include "http/media_type.hpp"

using pacsnode::Error;
using pacsnode::ErrorCode;
using namespace pacsnode::http;

namespace {

ErrorCode code_of(std::string_view text) {
  try {
    parse_media_type(text);
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::Internal;  // "did not throw": never what a test expects
}

}  // namespace

TEST_CASE("media type: type, subtype and parameters, quoted or not") {
  MediaType m = parse_media_type("Multipart/Related; Type=\"application/dicom\"; boundary=Ab-12");
  CHECK(m.type == "multipart");
  CHECK(m.subtype == "related");
  CHECK(m.essence() == "multipart/related");
  REQUIRE(m.params.size() == 2);
  CHECK(m.params[0].first == "type");
  CHECK(m.params[0].second == "application/dicom");
  CHECK(m.param("TYPE") == "application/dicom");
  CHECK(m.param("boundary") == "Ab-12");  // values keep their case: boundaries are case-sensitive
  CHECK_FALSE(m.param("charset"));

  // OHIF with omitQuotationForMultipartRequest: '/' unquoted, not a token character.
  MediaType u = parse_media_type("multipart/related;type=application/octet-stream;transfer-syntax=*");
  CHECK(u.param("type") == "application/octet-stream");
  CHECK(u.param("transfer-syntax") == "*");

  MediaType q = parse_media_type(R"(text/plain ; x = "a \"b\"; c, d" ;  y=2 ;)");
  CHECK(q.param("x") == R"(a "b"; c, d)");
  CHECK(q.param("y") == "2");
  CHECK(q.params.size() == 2);

  // In a Content-Type, q is an ordinary parameter.
  MediaType withq = parse_media_type("application/dicom; q=0.5");
  CHECK(withq.q == 1);
  CHECK(withq.param("q") == "0.5");
}

TEST_CASE("media type: garbage is refused with a reason") {
  for (const char* bad : {"", "   ", "application", "/dicom", "application/", "a/b; x", "a/b; x=\"open", "a/b c",
                          "*/json", "a b/c", "a/b; =v", "a/b, c/d", "a/b; x=\"v\"w"}) {
    INFO(bad);
    CHECK(code_of(bad) == ErrorCode::InvalidArgument);
  }
  try {
    parse_media_type("a/b; charset");
    FAIL("no throw");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("charset") != std::string::npos);
  }
}

TEST_CASE("media type: to_string quotes what needs it and reads back") {
  MediaType m{"multipart", "related", {{"type", "application/dicom"}, {"boundary", "abc"}, {"x", "say \"hi\""}}, 1};
  std::string text = m.to_string();
  CHECK(text == R"(multipart/related; type="application/dicom"; boundary=abc; x="say \"hi\"")");
  MediaType back = parse_media_type(text);
  CHECK(back.params == m.params);
}

TEST_CASE("Accept: OHIF's and the standard's lists") {
  auto list = parse_accept(R"(multipart/related; type="application/dicom"; transfer-syntax=*, application/dicom+json;q=0.9, */*)");
  REQUIRE(list.size() == 3);
  // q first, then specificity: */* (q=1) before application/dicom+json (q=0.9).
  CHECK(list[0].essence() == "multipart/related");
  CHECK(list[0].param("type") == "application/dicom");
  CHECK(list[0].param("transfer-syntax") == "*");
  CHECK(list[1].essence() == "*/*");
  CHECK(list[2].essence() == "application/dicom+json");
  CHECK(list[2].q == doctest::Approx(0.9));
  CHECK(list[2].params.empty());  // q is not a parameter

  for (const char* frames : {"multipart/related; type=application/octet-stream; transfer-syntax=*",
                             "multipart/related; type=\"application/octet-stream\"; transfer-syntax=*",
                             "multipart/related;type=\"application/octet-stream\";transfer-syntax=\"*\""}) {
    INFO(frames);
    auto f = parse_accept(frames);
    REQUIRE(f.size() == 1);
    CHECK(f[0].param("type") == "application/octet-stream");
    CHECK(f[0].param("transfer-syntax") == "*");
  }
}

TEST_CASE("Accept: commas inside quotes, empty elements, order by q then specificity") {
  auto list = parse_accept(R"(text/*;q=0.5, , */*;q=0.1,text/html, a/b; p="x, y";q=0.3, text/html;level=1)");
  REQUIRE(list.size() == 5);
  CHECK(list[0].to_string() == "text/html; level=1");
  CHECK(list[1].to_string() == "text/html");
  CHECK(list[2].to_string() == "text/*");
  CHECK(list[3].param("p") == "x, y");
  CHECK(list[3].q == doctest::Approx(0.3));
  CHECK(list[4].essence() == "*/*");

  // Same q and specificity: as written.
  auto same = parse_accept("image/png, image/jpeg");
  CHECK(same[0].subtype == "png");
  CHECK(same[1].subtype == "jpeg");
}

TEST_CASE("Accept: tolerance and its limits") {
  auto empty = parse_accept("");
  REQUIRE(empty.size() == 1);
  CHECK(empty[0].essence() == "*/*");
  CHECK(parse_accept("  ")[0].essence() == "*/*");

  auto java = parse_accept("text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2");
  REQUIRE(java.size() == 5);
  CHECK(java[3].essence() == "*/*");
  CHECK(java[3].q == doctest::Approx(0.2));

  // An unreadable element is dropped, the rest still counts.
  auto mixed = parse_accept("garbage, application/json;q=abc, application/dicom+json; Q=1.000, x/y;q=2");
  REQUIRE(mixed.size() == 1);
  CHECK(mixed[0].essence() == "application/dicom+json");

  CHECK_THROWS_AS(parse_accept("garbage"), Error);
  CHECK_THROWS_AS(parse_accept("a/b;q=7, nonsense"), Error);
}

TEST_CASE("negotiate: WADO-RS instances with the combined Accept") {
  auto n = negotiate(R"(multipart/related; type="application/dicom"; transfer-syntax=*, application/dicom+json;q=0.9, */*)",
                     {"multipart/related; type=application/dicom", "application/dicom"});
  REQUIRE(n);
  CHECK(n->index == 0);
  CHECK(n->offer.param("type") == "application/dicom");
  CHECK(n->accepted.param("transfer-syntax") == "*");

  // Only */* left for the multipart offer: both offers tie at q=1 and specificity 0, the
  // server's order decides.
  auto plain = negotiate("*/*", {"multipart/related; type=application/dicom", "application/dicom"});
  REQUIRE(plain);
  CHECK(plain->index == 0);
  CHECK_FALSE(plain->accepted.param("transfer-syntax"));

  auto single = negotiate("application/dicom; transfer-syntax=1.2.840.10008.1.2.4.50",
                          {"multipart/related; type=application/dicom", "application/dicom"});
  REQUIRE(single);
  CHECK(single->index == 1);
  CHECK(single->accepted.param("transfer-syntax") == "1.2.840.10008.1.2.4.50");
}

TEST_CASE("negotiate: OHIF's frame request, quoted or not") {
  for (const char* accept : {"multipart/related; type=application/octet-stream; transfer-syntax=*",
                             "multipart/related; type=\"application/octet-stream\"; transfer-syntax=*"}) {
    INFO(accept);
    auto n = negotiate(accept, {"multipart/related; type=application/octet-stream"});
    REQUIRE(n);
    CHECK(n->accepted.param("transfer-syntax") == "*");
  }
  // A different root type is not acceptable: the caller answers 406.
  CHECK_FALSE(negotiate("multipart/related; type=\"application/dicom\"", {"multipart/related; type=application/octet-stream"}));
  // ... unless the range's type is a wildcard.
  CHECK(negotiate("multipart/related; type=\"application/*\"", {"multipart/related; type=application/octet-stream"}));
  // A multipart range without a type accepts any root type.
  CHECK(negotiate("multipart/related", {"multipart/related; type=application/octet-stream"}));
}

TEST_CASE("negotiate: q-values, q=0 and 406") {
  CHECK_FALSE(negotiate("image/png", {"application/dicom"}));
  CHECK_FALSE(negotiate("application/dicom;q=0, */*", {"application/dicom"}));
  auto other = negotiate("application/dicom;q=0, */*", {"application/dicom", "application/octet-stream"});
  REQUIRE(other);
  CHECK(other->index == 1);
  CHECK_FALSE(negotiate("*/*;q=0", {"application/json"}));

  auto prefer = negotiate("application/json;q=0.5, application/dicom+json", {"application/json", "application/dicom+json"});
  REQUIRE(prefer);
  CHECK(prefer->index == 1);

  // The most specific matching entry sets an offer's quality, not the first or the highest.
  auto specific = negotiate("*/*;q=0.1, application/dicom", {"application/octet-stream", "application/dicom"});
  REQUIRE(specific);
  CHECK(specific->index == 1);
  auto lowered = negotiate("application/*, application/json;q=0.2", {"application/json", "application/dicom+json"});
  REQUIRE(lowered);
  CHECK(lowered->index == 1);
  CHECK(lowered->accepted.essence() == "application/*");

  auto wildcard = negotiate("image/*", {"image/jpeg", "image/png"});
  REQUIRE(wildcard);
  CHECK(wildcard->index == 0);
  CHECK(wildcard->accepted.essence() == "image/*");

  auto none_given = negotiate("", {"application/dicom+json"});
  REQUIRE(none_given);
  CHECK(none_given->index == 0);

  // Case does not matter in types and parameter names.
  CHECK(negotiate("Application/DICOM+JSON", {"application/dicom+json"}));
}

TEST_CASE("negotiate: parameters the offer states must agree") {
  MediaType explicit_ts = parse_media_type("application/dicom; transfer-syntax=1.2.840.10008.1.2.1");
  CHECK(matches(parse_media_type("application/dicom; transfer-syntax=*"), explicit_ts));
  CHECK(matches(parse_media_type("application/dicom"), explicit_ts));
  CHECK(matches(parse_media_type("application/DICOM; TRANSFER-SYNTAX=1.2.840.10008.1.2.1"), explicit_ts));
  CHECK_FALSE(matches(parse_media_type("application/dicom; transfer-syntax=1.2.840.10008.1.2.4.50"), explicit_ts));
  // Parameters the offer does not state (here the range's transfer-syntax) are the caller's.
  CHECK(matches(parse_media_type("application/dicom; transfer-syntax=1.2.840.10008.1.2.4.50"),
                parse_media_type("application/dicom")));
  CHECK_THROWS_AS(negotiate("*/*", {"not a type"}), Error);
}
