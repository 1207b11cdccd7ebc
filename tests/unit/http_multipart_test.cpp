// The streamed multipart/related parser and writer: every split of a body gives the same
// parts, a cut body is detected, memory stays bounded however large a part is.
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "http/multipart.hpp"

using pacsnode::Error;
using pacsnode::ErrorCode;
using namespace pacsnode::http;

namespace {

struct Part {
  PartHeaders::Fields headers;
  std::string data;
  bool ended = false;
};

// Collects what the parser reports, and checks the callbacks' order as it goes.
struct Collector {
  std::vector<Part> parts;
  bool open = false;
  std::size_t max_buffered = 0;

  MultipartParser::Callbacks callbacks() {
    return {
        [this](const PartHeaders& h) {
          REQUIRE_FALSE(open);
          open = true;
          parts.push_back(Part{h.fields(), {}, false});
        },
        [this](std::span<const char> data) {
          REQUIRE(open);
          REQUIRE_FALSE(data.empty());
          parts.back().data.append(data.data(), data.size());
        },
        [this] {
          REQUIRE(open);
          open = false;
          parts.back().ended = true;
        },
    };
  }
};

std::string bin(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s += static_cast<char>(b);
  return s;
}

const std::string boundary = "b0undary.x-7";

// Content that tries hard to look like a delimiter without being one.
const std::string part1 = "\r\n--b0undary.x-" + bin({0, 0xff, '\r'}) + "\r\n-" + "\r\r\n--b0und" + "\n--b0undary.x" + "\r";
const std::string part2;  // empty
const std::string part3 = "x--b0undary.x-7 inline, not after a line end\r\n\r\n" + bin({'\n', 0, '\r', 0x80}) + "\n";

std::string three_part_body() {
  return "This is the preamble. --b0undary.x-7 \r\n-- and \r\n--b0undary.x-\r\n"
         "--b0undary.x-7 \t \r\n"
         "Content-Type: application/dicom\r\n"
         "Content-Location: /studies/1/series/2/instances/3\r\n"
         "Content-Length: " +
         std::to_string(part1.size()) +
         "\r\n"
         "\r\n" +
         part1 +
         "\r\n--b0undary.x-7\r\n"
         "content-type: application/octet-stream;\r\n"
         "  transfer-syntax=1.2.840.10008.1.2.1\r\n"
         "\r\n" +
         part2 +
         "\r\n--b0undary.x-7\r\n"
         "\r\n" +
         part3 + "\r\n--b0undary.x-7--  \r\nan epilogue, ignored\r\n--b0undary.x-7\r\n";
}

void check_three_parts(const Collector& c) {
  REQUIRE(c.parts.size() == 3);
  PartHeaders h1(c.parts[0].headers);
  CHECK(h1.content_type() == "application/dicom");
  CHECK(h1.content_location() == "/studies/1/series/2/instances/3");
  CHECK(h1.content_length() == part1.size());
  CHECK(c.parts[0].data == part1);
  PartHeaders h2(c.parts[1].headers);
  CHECK(h2.get("CONTENT-TYPE") == "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1");
  CHECK_FALSE(h2.content_length());
  CHECK(c.parts[1].data == part2);
  CHECK(c.parts[2].headers.empty());
  CHECK(c.parts[2].data == part3);
  for (const Part& p : c.parts) CHECK(p.ended);
}

MultipartEnd parse_in_pieces(const std::string& body, const std::vector<std::size_t>& cuts, Collector& c,
                             const std::string& b = boundary) {
  MultipartParser parser(b, c.callbacks());
  std::size_t at = 0;
  for (std::size_t cut : cuts) {
    parser.feed(std::string_view(body).substr(at, cut - at));
    c.max_buffered = std::max(c.max_buffered, parser.buffered());
    at = cut;
  }
  parser.feed(std::string_view(body).substr(at));
  return parser.finish();
}

ErrorCode error_of(const std::string& body, const std::string& b = boundary, MultipartLimits limits = {}) {
  Collector c;
  MultipartParser parser(b, c.callbacks(), limits);
  try {
    parser.feed(body);
  } catch (const Error& e) {
    CHECK_THROWS_AS(parser.feed(std::string_view("more")), Error);  // failed for good
    return e.code();
  }
  return ErrorCode::Internal;  // did not throw
}

}  // namespace

TEST_CASE("multipart: a three-part body whole, at every split point and byte by byte") {
  const std::string body = three_part_body();
  {
    Collector c;
    MultipartEnd end = parse_in_pieces(body, {}, c);
    check_three_parts(c);
    CHECK(end.closed);
    CHECK_FALSE(end.part_cut);
    CHECK(end.parts == 3);
  }
  for (std::size_t cut = 0; cut <= body.size(); ++cut) {
    INFO("split at " << cut);
    Collector c;
    MultipartEnd end = parse_in_pieces(body, {cut}, c);
    check_three_parts(c);
    CHECK(end.closed);
    CHECK(c.max_buffered <= boundary.size() + 4 + 200);  // + the partly read header block
  }
  for (std::size_t a = 0; a <= body.size(); a += 7)
    for (std::size_t b = a; b <= body.size(); ++b) {
      Collector c;
      parse_in_pieces(body, {a, b}, c);
      REQUIRE(c.parts.size() == 3);
      REQUIRE(c.parts[0].data == part1);
      REQUIRE(c.parts[2].data == part3);
    }
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < body.size(); ++i) every.push_back(i);
  Collector bytewise;
  CHECK(parse_in_pieces(body, every, bytewise).closed);
  check_three_parts(bytewise);
}

TEST_CASE("multipart: a body cut off is detected, and where") {
  const std::string body = three_part_body();
  const std::size_t in_part1 = body.find(part1) + 10;
  const std::size_t after_part2_delimiter = body.find("\r\n--b0undary.x-7\r\n\r\n") + 16;
  const std::size_t before_close_dashes = body.find("--b0undary.x-7--") + 14;

  struct Case {
    std::size_t length;
    bool part_cut;
    std::size_t parts;
  };
  for (Case k : {Case{0, false, 0}, Case{40, false, 0}, Case{in_part1, true, 0}, Case{after_part2_delimiter, false, 2},
                 Case{before_close_dashes, false, 3}, Case{before_close_dashes + 1, false, 3}}) {
    INFO("cut at " << k.length);
    Collector c;
    MultipartParser parser(boundary, c.callbacks());
    parser.feed(std::string_view(body).substr(0, k.length));
    MultipartEnd end = parser.finish();
    CHECK_FALSE(end.closed);
    CHECK(end.part_cut == k.part_cut);
    CHECK(end.parts == k.parts);
    CHECK(c.open == k.part_cut);  // the cut part got on_part_begin and never on_part_end
  }
  // A cut in a header block: nothing began.
  Collector c;
  MultipartParser parser(boundary, c.callbacks());
  parser.feed(std::string_view(body).substr(0, body.find("Content-Location")));
  CHECK_FALSE(parser.finish().part_cut);
  CHECK(c.parts.empty());
}

TEST_CASE("multipart: dicomweb-client's STOW shape, LF-only lines, no preamble") {
  // multipartEncode: "--B\r\nContent-Type: application/dicom\r\n\r\n" data "\r\n" ... "--B--"
  const std::string b = "6b9f1a2c-81b1-4b02-8c3e-1d0c2b2c5f11";
  std::string body = "--" + b + "\r\nContent-Type: application/dicom\r\n\r\nDICM-one\r\n--" + b +
                     "\r\nContent-Type: application/dicom\r\n\r\nDICM-two\r\n--" + b + "--";
  Collector c;
  MultipartEnd end = parse_in_pieces(body, {}, c, b);
  CHECK(end.closed);
  REQUIRE(c.parts.size() == 2);
  CHECK(c.parts[0].data == "DICM-one");
  CHECK(c.parts[1].data == "DICM-two");

  std::string lf = "--" + b + "\nContent-Type: text/plain\n\nline one\nline two\n--" + b + "\n\n\n--" + b + "--\n";
  Collector l;
  CHECK(parse_in_pieces(lf, {}, l, b).closed);
  REQUIRE(l.parts.size() == 2);
  CHECK(PartHeaders(l.parts[0].headers).content_type() == "text/plain");
  CHECK(l.parts[0].data == "line one\nline two");
  CHECK(l.parts[1].data == "");

  // A part without data: the delimiter right after the header block (RFC 2046's grammar).
  std::string bare = "--" + b + "\r\nContent-Type: text/plain\r\n\r\n--" + b + "--";
  Collector n;
  CHECK(parse_in_pieces(bare, {}, n, b).closed);
  REQUIRE(n.parts.size() == 1);
  CHECK(n.parts[0].data.empty());
}

TEST_CASE("multipart: a big part in small chunks streams with bounded memory") {
  const std::string b = make_boundary();
  // 4 MiB of bytes rich in CR, LF, '-' and pieces of the boundary.
  std::mt19937 random(20261203);
  std::string data;
  // A partial boundary is followed by 'Z', which no boundary of make_boundary's has: a
  // random byte there could complete the delimiter.
  const std::string pieces[] = {"\r\n", "\n", "\r", "--", "\r\n--", "\r\n--" + b.substr(0, b.size() - 1) + "Z",
                                "\n--" + b.substr(0, 5) + "Z"};
  while (data.size() < 4 * 1024 * 1024) {
    if (random() % 8 == 0)
      data += pieces[random() % std::size(pieces)];
    else
      data += static_cast<char>(random());
  }
  const std::string header = part_header(b, "application/dicom", {}, true);
  std::string body = header + data + close_delimiter(b);

  Collector c;
  MultipartParser parser(b, c.callbacks());
  std::size_t delivered_at_half = 0, fed_at_half = 0;
  for (std::size_t at = 0; at < body.size();) {
    std::size_t n = std::min<std::size_t>(1 + random() % 61, body.size() - at);
    parser.feed(std::string_view(body).substr(at, n));
    at += n;
    c.max_buffered = std::max(c.max_buffered, parser.buffered());
    if (fed_at_half == 0 && at >= body.size() / 2) {
      fed_at_half = at;
      delivered_at_half = c.parts.at(0).data.size();
    }
  }
  MultipartEnd end = parser.finish();
  CHECK(end.closed);
  REQUIRE(c.parts.size() == 1);
  CHECK(c.parts[0].data.size() == data.size());
  CHECK(c.parts[0].data == data);
  // Held back at most the delimiter and its CR, and the 41-byte header block while reading it.
  CHECK(c.max_buffered <= std::max(b.size() + 4, std::size_t(64)));
  // The data came while the body was still arriving, not at its end.
  // All of it but what is held back: nothing waits for the part's end.
  CHECK(delivered_at_half + b.size() + 4 >= fed_at_half - header.size());
}

TEST_CASE("multipart: limits and malformed bodies") {
  const std::string start = "--" + boundary + "\r\n";
  // Header block over the limit, however it arrives.
  std::string big = start + "X-Big: " + std::string(17 * 1024, 'a') + "\r\n\r\ndata";
  CHECK(error_of(big) == ErrorCode::InvalidArgument);
  std::string many = start;
  for (int i = 0; i < 2000; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  CHECK(error_of(many) == ErrorCode::InvalidArgument);
  MultipartLimits small;
  small.max_header_bytes = 64;
  CHECK(error_of(start + "Content-Type: application/dicom\r\n\r\n", boundary, small) == ErrorCode::Internal);  // fits
  CHECK(error_of(start + "Content-Type: application/dicom; transfer-syntax=1.2.840.10008.1.2.1\r\n\r\n", boundary, small) ==
        ErrorCode::InvalidArgument);
  MultipartLimits two;
  two.max_parts = 2;
  std::string three = start + "\r\na\r\n--" + boundary + "\r\n\r\nb\r\n--" + boundary + "\r\n\r\nc\r\n--" + boundary + "--";
  CHECK(error_of(three, boundary, two) == ErrorCode::InvalidArgument);

  CHECK(error_of(start + "No colon here\r\n\r\n") == ErrorCode::InvalidArgument);
  CHECK(error_of(start + " folded first\r\n\r\n") == ErrorCode::InvalidArgument);
  CHECK(error_of("--" + boundary + "x\r\n") == ErrorCode::InvalidArgument);
  CHECK(error_of("--" + boundary + "-x") == ErrorCode::InvalidArgument);
  CHECK(error_of("--" + boundary + "\rx") == ErrorCode::InvalidArgument);
  CHECK(error_of(start + "Content-Length: 12x\r\n\r\n") == ErrorCode::InvalidArgument);
  CHECK(error_of(start + "Content-Length: 5\r\n\r\n1234\r\n--" + boundary + "--") == ErrorCode::InvalidArgument);
  CHECK(error_of(start + "Content-Length: 4\r\n\r\n1234\r\n--" + boundary + "--") == ErrorCode::Internal);  // right

  // A callback that throws (disk full) fails the parser too.
  MultipartParser::Callbacks throwing{[](const PartHeaders&) { throw Error(ErrorCode::OutOfResources, "full"); }, {}, {}};
  MultipartParser parser(boundary, throwing);
  CHECK_THROWS_AS(parser.feed(start + "\r\n"), Error);
  CHECK_THROWS_AS(parser.feed(std::string_view("x")), Error);

  CHECK_THROWS_AS(MultipartParser("", {}), Error);
  CHECK_THROWS_AS(MultipartParser(std::string(kMaxBoundary + 1, 'a'), {}), Error);
}

TEST_CASE("multipart: the boundary from a Content-Type") {
  CHECK(multipart_boundary(R"(multipart/related; type="application/dicom"; boundary="----=_Part_0 x")") == "----=_Part_0 x");
  CHECK(multipart_boundary("Multipart/Related; BOUNDARY=AbC123; type=application/dicom") == "AbC123");
  CHECK_THROWS_AS(multipart_boundary("application/dicom; boundary=x"), Error);
  CHECK_THROWS_AS(multipart_boundary("multipart/related; type=application/dicom"), Error);
  CHECK_THROWS_AS(multipart_boundary("multipart/related; boundary=\"\""), Error);
  CHECK_THROWS_AS(multipart_boundary("multipart/related; boundary=\"trailing \""), Error);
  CHECK_THROWS_AS(multipart_boundary("multipart/related; boundary=" + std::string(kMaxBoundary + 1, 'b')), Error);
  CHECK(multipart_boundary("multipart/related; boundary=" + std::string(kMaxBoundary, 'b')).size() == kMaxBoundary);
  // Orthanc 1.10's STOW-RS client: 73 characters, past RFC 2046's 70.
  CHECK(multipart_boundary("multipart/related; boundary=" + std::string(73, 'b')).size() == 73);
}

TEST_CASE("multipart: what we write reads back, and starts with the boundary") {
  const std::string b = make_boundary();
  CHECK(b != make_boundary());
  CHECK(b.size() <= 70);
  for (char ch : b) CHECK(((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || ch == '-'));

  std::string first = part_header(b, "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1",
                                  {{"Content-Location", "/frames/1"}}, true);
  CHECK(first == "--" + b + "\r\nContent-Type: application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1\r\n" +
                     "Content-Location: /frames/1\r\n\r\n");
  std::string body = first + "frame\r\n1" + part_header(b, "application/octet-stream") + "frame 2" + close_delimiter(b);
  CHECK(body.ends_with("\r\n--" + b + "--\r\n"));
  Collector c;
  CHECK(parse_in_pieces(body, {}, c, b).closed);
  REQUIRE(c.parts.size() == 2);
  CHECK(c.parts[0].data == "frame\r\n1");
  CHECK(PartHeaders(c.parts[0].headers).content_location() == "/frames/1");
  CHECK(c.parts[1].data == "frame 2");

  // The default (not first) part header begins with CRLF: an empty preamble, still valid.
  Collector d;
  CHECK(parse_in_pieces(part_header(b, "text/plain") + "x" + close_delimiter(b), {}, d, b).closed);
  REQUIRE(d.parts.size() == 1);
  CHECK(d.parts[0].data == "x");
}
