// WADO-RS through a real client (curl) against the real binary, the bytes checked against
// independent readers: pydicom for pixel data and fragments, GDCM's gdcmconv for decoded
// JPEG 2000, DCMTK's dcmdump and dcmdjpls for what we converted. The viewer's files and
// routes, and the streamed bodies' memory bound.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "dicom/file_meta.hpp"
#include "tests/support/node.hpp"

using namespace pacsnode::test;

namespace {

const std::string kData = "/usr/lib/python3/dist-packages/pydicom/data/test_files/";
const std::string kPython = "/usr/bin/python3";  // Debian's, with python3-pydicom

std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

struct Reply {
  int status = 0;
  std::string headers, body;
  std::string header(const std::string& name) const {
    std::istringstream lines(headers);
    std::string line;
    while (std::getline(lines, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string key = line.substr(0, colon);
      for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string wanted = name;
      for (auto& c : wanted) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (key == wanted) {
        auto value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(value.begin());
        return value;
      }
    }
    return "";
  }
};

Reply get(const TempDir& dir, std::uint16_t port, const std::string& path, const std::string& accept = "",
          const std::vector<std::string>& extra = {}) {
  const auto headers = dir.path() / "headers", body = dir.path() / "body";
  std::vector<std::string> argv = {"curl", "-s", "-g", "-D", headers.string(), "-o", body.string(), "--max-time", "60"};
  if (!accept.empty()) {
    argv.push_back("-H");
    argv.push_back("Accept: " + accept);
  }
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back("http://127.0.0.1:" + std::to_string(port) + path);
  auto [code, out] = run(argv);
  REQUIRE_MESSAGE(code == 0, out);
  Reply r;
  r.headers = read_file(headers);
  r.body = read_file(body);
  r.status = std::stoi(r.headers.substr(9, 3));
  return r;
}

struct Part {
  std::string headers, data;
};

// An independent multipart/related reader (RFC 2046): the boundary from the Content-Type,
// parts between "--boundary" lines, each a header block and its data.
std::vector<Part> parts_of(const Reply& r) {
  const std::string type = r.header("Content-Type");
  const auto at = type.find("boundary=");
  REQUIRE_MESSAGE(at != std::string::npos, type);
  std::string boundary = type.substr(at + 9);
  boundary = boundary.substr(0, boundary.find(';'));
  if (!boundary.empty() && boundary.front() == '"') boundary = boundary.substr(1, boundary.size() - 2);
  const std::string delimiter = "--" + boundary;
  std::vector<Part> out;
  REQUIRE(r.body.compare(0, delimiter.size(), delimiter) == 0);
  std::size_t pos = delimiter.size();
  for (;;) {
    if (r.body.compare(pos, 2, "--") == 0) break;  // close delimiter
    REQUIRE(r.body.compare(pos, 2, "\r\n") == 0);
    pos += 2;
    const auto blank = r.body.find("\r\n\r\n", pos);
    REQUIRE(blank != std::string::npos);
    Part part;
    part.headers = r.body.substr(pos, blank - pos);
    const auto next = r.body.find("\r\n" + delimiter, blank + 4);
    REQUIRE(next != std::string::npos);
    part.data = r.body.substr(blank + 4, next - blank - 4);
    out.push_back(std::move(part));
    pos = next + 2 + delimiter.size();
  }
  return out;
}

// pydicom's view of a file: the pixel data value, or encapsulated frame `frame` (1-based).
std::string pydicom_pixels(const std::string& file, int frame = 0) {
  const TempDir dir;
  const auto out = dir.path() / "pixels";
  const std::string script =
      "import sys, pydicom\n"
      "from pydicom.encaps import generate_pixel_data_frame\n"
      "ds = pydicom.dcmread(sys.argv[1])\n"
      "n = int(sys.argv[3])\n"
      "data = ds.PixelData if n == 0 else list(generate_pixel_data_frame(ds.PixelData, int(getattr(ds, 'NumberOfFrames', 1))))[n - 1]\n"
      "open(sys.argv[2], 'wb').write(data)\n";
  auto [code, text] = run({kPython, "-c", script, file, out.string(), std::to_string(frame)});
  REQUIRE_MESSAGE(code == 0, text);
  return read_file(out);
}

// The data set bytes of a Part-10 file (after its File Meta Information).
std::string data_set_of(const std::string& part10) {
  const auto length = pacsnode::dicom::file_meta_length(
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(part10.data()), part10.size()));
  REQUIRE(length.has_value());
  return part10.substr(*length);
}

std::string uid_of(const std::string& file, const std::string& keyword) {
  auto [code, out] = run({kPython, "-c", "import sys, pydicom; print(pydicom.dcmread(sys.argv[1]).data_element(sys.argv[2]).value)",
                          file, keyword});
  REQUIRE_MESSAGE(code == 0, out);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

std::string instance_url(const std::string& file) {
  return "/dicom-web/studies/" + uid_of(file, "StudyInstanceUID") + "/series/" + uid_of(file, "SeriesInstanceUID") +
         "/instances/" + uid_of(file, "SOPInstanceUID");
}

void store(const Node& node, const std::vector<std::string>& files) {
  // `pacsnode store` sends each file in its own transfer syntax (storescu would convert the
  // JPEG 2000 one).
  std::vector<std::string> argv = {PACSNODE_BINARY, "store", node.target()};
  argv.insert(argv.end(), files.begin(), files.end());
  auto [code, out] = run(argv);
  REQUIRE_MESSAGE(code == 0, out);
}

const std::string kOhifFrames = "multipart/related; type=application/octet-stream; transfer-syntax=*";

}  // namespace

TEST_CASE("WADO-RS: metadata, frames, bulk data and instances, checked against independent readers") {
  const auto http_port = free_port();
  Node node(tables("[http]\nenabled = true\nport = " + std::to_string(http_port) + "\n"));
  const TempDir scratch;
  const std::string ct = kData + "CT_small.dcm";                 // Explicit VR LE, 16-bit
  const std::string j2k = kData + "MR_small_jp2klossless.dcm";    // JPEG 2000 lossless
  const std::string jpeg = kData + "JPEG-lossy.dcm";              // JPEG extended (lossy)
  // Two native RGB frames: GDCM's decoding of an RLE file.
  const std::string multi = (scratch.path() / "two-frames.dcm").string();
  {
    auto [code, out] = run({"gdcmconv", "--raw", kData + "SC_rgb_rle_2frame.dcm", multi});
    REQUIRE_MESSAGE(code == 0, out);
  }
  store(node, {ct, j2k, jpeg, multi});

  SUBCASE("metadata: the full header as DICOM JSON, bulk data as BulkDataURIs under /dicom-web") {
    const std::string study = uid_of(ct, "StudyInstanceUID"), series = uid_of(ct, "SeriesInstanceUID");
    auto r = get(scratch, http_port, "/dicom-web/studies/" + study + "/series/" + series + "/metadata",
                 "application/dicom+json");
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(r.header("Content-Type") == "application/dicom+json");
    const auto metadata = nlohmann::json::parse(r.body);
    REQUIRE(metadata.size() == 1);
    const auto& m = metadata[0];
    CHECK(m.at("00280010").at("Value").at(0) == 128);  // Rows
    CHECK(m.at("00200032").at("Value").size() == 3);  // Image Position (Patient), what MPR needs
    CHECK(m.at("00100010").at("Value").at(0).at("Alphabetic") == "CompressedSamples^CT1");
    CHECK(m.at("00020010").at("Value").at(0) == "1.2.840.10008.1.2.1");
    CHECK(m.at("00080005").at("Value").at(0) == "ISO_IR 192");
    const std::string bulk = m.at("7FE00010").at("BulkDataURI");
    CHECK(bulk == instance_url(ct) + "/bulk/7FE00010");
    CHECK_FALSE(m.at("7FE00010").contains("InlineBinary"));
    // Private attributes are there too (GE's, in CT_small).
    CHECK(m.contains("00431028"));

    // Study level: every instance of the study; the J2K instance's study alone here.
    auto s = get(scratch, http_port, "/dicom-web/studies/" + uid_of(j2k, "StudyInstanceUID") + "/metadata");
    REQUIRE(s.status == 200);
    const auto sm = nlohmann::json::parse(s.body);
    REQUIRE(sm.size() == 1);
    CHECK(sm[0].at("00020010").at("Value").at(0) == "1.2.840.10008.1.2.4.90");

    // The bulk data URI answers with the pixel data's bytes, as pydicom reads them.
    auto b = get(scratch, http_port, bulk, "application/octet-stream");
    REQUIRE_MESSAGE(b.status == 200, b.body);
    CHECK(b.header("Content-Type") == "application/octet-stream");
    CHECK(b.body == pydicom_pixels(ct));
    auto bm = get(scratch, http_port, bulk, "multipart/related; type=\"application/octet-stream\"");
    REQUIRE(bm.status == 200);
    const auto bulk_parts = parts_of(bm);
    REQUIRE(bulk_parts.size() == 1);
    CHECK(bulk_parts[0].data == b.body);
    // The encapsulated pixel data has no bulk value: 404 pointing at the frames.
    auto jb = get(scratch, http_port, instance_url(j2k) + "/bulk/7FE00010", "application/octet-stream");
    CHECK(jb.status == 404);
    CHECK(jb.body.find("frames") != std::string::npos);
  }

  SUBCASE("frames: as the OHIF viewer asks for them, as stored or decoded") {
    // Native pixels: the frame is the pixel data (one frame).
    auto r = get(scratch, http_port, instance_url(ct) + "/frames/1", kOhifFrames);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    auto parts = parts_of(r);
    REQUIRE(parts.size() == 1);
    CHECK(parts[0].headers.find("Content-Type: application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1") !=
          std::string::npos);
    CHECK(parts[0].data == pydicom_pixels(ct));

    // JPEG 2000 with transfer-syntax=*: the codestream as stored, its syntax in the part.
    auto j = get(scratch, http_port, instance_url(j2k) + "/frames/1", kOhifFrames);
    REQUIRE(j.status == 200);
    parts = parts_of(j);
    REQUIRE(parts.size() == 1);
    CHECK(parts[0].headers.find("transfer-syntax=1.2.840.10008.1.2.4.90") != std::string::npos);
    CHECK(parts[0].data == pydicom_pixels(j2k, 1));

    // Without a transfer syntax: decoded to native pixels, the same as GDCM decodes them.
    auto d = get(scratch, http_port, instance_url(j2k) + "/frames/1", "multipart/related; type=\"application/octet-stream\"");
    REQUIRE(d.status == 200);
    parts = parts_of(d);
    REQUIRE(parts.size() == 1);
    CHECK(parts[0].headers.find("transfer-syntax=1.2.840.10008.1.2.1") != std::string::npos);
    const auto raw = scratch.path() / "gdcm-raw.dcm";
    auto [code, out] = run({"gdcmconv", "--raw", j2k, raw.string()});
    REQUIRE_MESSAGE(code == 0, out);
    CHECK(parts[0].data == pydicom_pixels(raw.string()));

    // image/jp2 asked for by name: the same codestream, typed.
    auto typed = get(scratch, http_port, instance_url(j2k) + "/frames/1", "multipart/related; type=\"image/jp2\"");
    REQUIRE(typed.status == 200);
    CHECK(parts_of(typed)[0].data == pydicom_pixels(j2k, 1));

    // A multi-frame instance: frames 2 and 1, in that order, each its slice of the pixel data.
    auto m = get(scratch, http_port, instance_url(multi) + "/frames/2,1", kOhifFrames);
    REQUIRE_MESSAGE(m.status == 200, m.body);
    parts = parts_of(m);
    REQUIRE(parts.size() == 2);
    const auto all = pydicom_pixels(multi);
    const std::size_t frame_bytes = all.size() / 2;
    CHECK(frame_bytes == 100u * 100u * 3u);
    CHECK(parts[0].data == all.substr(frame_bytes, frame_bytes));
    CHECK(parts[1].data == all.substr(0, frame_bytes));
    // One frame as a single part.
    auto single = get(scratch, http_port, instance_url(multi) + "/frames/2", "application/octet-stream");
    REQUIRE(single.status == 200);
    CHECK(single.body == all.substr(frame_bytes, frame_bytes));

    // Errors: no such frame 404, a bad list 400, a syntax we cannot give 406.
    CHECK(get(scratch, http_port, instance_url(multi) + "/frames/3", kOhifFrames).status == 404);
    CHECK(get(scratch, http_port, instance_url(multi) + "/frames/0", kOhifFrames).status == 400);
    CHECK(get(scratch, http_port, instance_url(multi) + "/frames/1,x", kOhifFrames).status == 400);
    auto refused = get(scratch, http_port, instance_url(jpeg) + "/frames/1",
                       "multipart/related; type=\"application/octet-stream\"; transfer-syntax=1.2.840.10008.1.2.4.80");
    CHECK(refused.status == 406);
    CHECK(refused.body.find("1.2.840.10008.1.2.4.51") != std::string::npos);  // JPEG extended, as stored
  }

  SUBCASE("rendered and thumbnail: JPEG and PNG pictures of a frame") {
    // Width and height from a PNG's IHDR chunk.
    const auto png_size = [](const std::string& png) {
      REQUIRE(png.size() > 24);
      REQUIRE(png.compare(1, 3, "PNG") == 0);
      const auto be32 = [&](std::size_t at) {
        return (static_cast<unsigned>(static_cast<unsigned char>(png[at])) << 24) |
               (static_cast<unsigned>(static_cast<unsigned char>(png[at + 1])) << 16) |
               (static_cast<unsigned>(static_cast<unsigned char>(png[at + 2])) << 8) |
               static_cast<unsigned>(static_cast<unsigned char>(png[at + 3]));
      };
      return std::make_pair(be32(16), be32(20));
    };
    auto jpeg_reply = get(scratch, http_port, instance_url(ct) + "/rendered");
    REQUIRE_MESSAGE(jpeg_reply.status == 200, jpeg_reply.body);
    CHECK(jpeg_reply.header("Content-Type") == "image/jpeg");
    CHECK(jpeg_reply.body.compare(0, 3, "\xFF\xD8\xFF") == 0);
    auto png = get(scratch, http_port, instance_url(ct) + "/rendered", "image/png");
    REQUIRE(png.status == 200);
    CHECK(png_size(png.body) == std::make_pair(128u, 128u));
    // A viewport bounds the picture, aspect kept; a thumbnail is at most 128 a side.
    auto small = get(scratch, http_port, instance_url(ct) + "/rendered?viewport=64,100", "image/png");
    REQUIRE(small.status == 200);
    CHECK(png_size(small.body) == std::make_pair(64u, 64u));
    auto thumb = get(scratch, http_port, instance_url(multi) + "/frames/2/thumbnail", "image/png");
    REQUIRE(thumb.status == 200);
    CHECK(png_size(thumb.body) == std::make_pair(100u, 100u));  // never enlarged
    auto series_thumb = get(scratch, http_port, "/dicom-web/studies/" + uid_of(j2k, "StudyInstanceUID") + "/series/" +
                                                    uid_of(j2k, "SeriesInstanceUID") + "/thumbnail", "image/png");
    REQUIRE_MESSAGE(series_thumb.status == 200, series_thumb.body);
    CHECK(png_size(series_thumb.body).first <= 128u);
    // The window changes the picture: a narrow window at the top of the range is darker.
    auto windowed = get(scratch, http_port, instance_url(ct) + "/rendered?window=3000,10,linear", "image/png");
    REQUIRE(windowed.status == 200);
    CHECK(windowed.body != png.body);
    // Bad parameters: 400 naming them; a type we do not make: 406; no such frame: 404.
    auto bad = get(scratch, http_port, instance_url(ct) + "/rendered?window=40", "image/png");
    CHECK(bad.status == 400);
    CHECK(bad.body.find("window") != std::string::npos);
    CHECK(get(scratch, http_port, instance_url(ct) + "/rendered?viewport=0,10").status == 400);
    CHECK(get(scratch, http_port, instance_url(ct) + "/rendered", "image/gif").status == 406);
    CHECK(get(scratch, http_port, instance_url(multi) + "/frames/3/rendered").status == 404);
  }

  SUBCASE("retrieve: instances as Part-10 files, as stored, by default in Explicit VR LE, or converted") {
    // transfer-syntax=*: byte for byte the data set that was sent.
    auto r = get(scratch, http_port, instance_url(j2k), "multipart/related; type=\"application/dicom\"; transfer-syntax=*");
    REQUIRE_MESSAGE(r.status == 200, r.body);
    auto parts = parts_of(r);
    REQUIRE(parts.size() == 1);
    CHECK(parts[0].headers.find("Content-Type: application/dicom; transfer-syntax=1.2.840.10008.1.2.4.90") !=
          std::string::npos);
    CHECK(data_set_of(parts[0].data) == data_set_of(read_file(j2k)));

    // No transfer syntax: Explicit VR Little Endian (PS3.18's default), decoded pixels equal
    // to GDCM's decoding; DCMTK reads the file.
    auto d = get(scratch, http_port, instance_url(j2k), "multipart/related; type=\"application/dicom\"");
    REQUIRE(d.status == 200);
    parts = parts_of(d);
    REQUIRE(parts.size() == 1);
    CHECK(parts[0].headers.find("transfer-syntax=1.2.840.10008.1.2.1") != std::string::npos);
    const auto got = scratch.path() / "got.dcm";
    std::ofstream(got, std::ios::binary) << parts[0].data;
    auto [code, dump] = run({"dcmdump", "+P", "0002,0010", got.string()});
    REQUIRE_MESSAGE(code == 0, dump);
    CHECK(dump.find("=LittleEndianExplicit") != std::string::npos);
    const auto raw = scratch.path() / "gdcm-raw.dcm";
    auto [gcode, gout] = run({"gdcmconv", "--raw", j2k, raw.string()});
    REQUIRE_MESSAGE(gcode == 0, gout);
    CHECK(pydicom_pixels(got.string()) == pydicom_pixels(raw.string()));

    // A whole study, converted to JPEG-LS lossless: every instance of the study, each
    // decodable by DCMTK's dcmdjpls to the original pixels.
    auto study = get(scratch, http_port, "/dicom-web/studies/" + uid_of(ct, "StudyInstanceUID"),
                     "multipart/related; type=\"application/dicom\"; transfer-syntax=1.2.840.10008.1.2.4.80");
    REQUIRE_MESSAGE(study.status == 200, study.body);
    parts = parts_of(study);
    REQUIRE(parts.size() == 1);
    std::ofstream(got, std::ios::binary | std::ios::trunc) << parts[0].data;
    const auto decoded = scratch.path() / "decoded.dcm";
    auto [jcode, jout] = run({"dcmdjpls", got.string(), decoded.string()});
    REQUIRE_MESSAGE(jcode == 0, jout);
    CHECK(pydicom_pixels(decoded.string()) == pydicom_pixels(ct));

    // Lossy data is never re-encoded as lossless: 406 naming the instance.
    auto refused = get(scratch, http_port, instance_url(jpeg),
                       "multipart/related; type=\"application/dicom\"; transfer-syntax=1.2.840.10008.1.2.4.80");
    CHECK(refused.status == 406);
    CHECK(refused.body.find(uid_of(jpeg, "SOPInstanceUID")) != std::string::npos);
    // Not a media type we send: 406; unknown study: 404; a hostile UID: 400.
    CHECK(get(scratch, http_port, instance_url(ct), "application/pdf").status == 406);
    CHECK(get(scratch, http_port, "/dicom-web/studies/1.2.3.4.5.6").status == 404);
    CHECK(get(scratch, http_port, "/dicom-web/studies/1.2.3*").status == 400);
    CHECK(get(scratch, http_port, "/dicom-web/studies/..%2F..%2Fetc").status == 404);
  }
}

TEST_CASE("WADO-RS streams large instances with bounded memory") {
  const auto http_port = free_port();
  Node node(tables("[http]\nenabled = true\nport = " + std::to_string(http_port) + "\n"));
  const TempDir scratch;
  // 10,240 x 10,240 16-bit pixels: a 200 MiB instance.
  const auto big = scratch.path() / "big.dcm";
  const std::string script =
      "import sys, numpy as np, pydicom\n"
      "from pydicom.dataset import Dataset, FileMetaDataset\n"
      "from pydicom.uid import ExplicitVRLittleEndian, generate_uid\n"
      "meta = FileMetaDataset(); meta.MediaStorageSOPClassUID = '1.2.840.10008.5.1.4.1.1.7'\n"
      "meta.MediaStorageSOPInstanceUID = generate_uid(); meta.TransferSyntaxUID = ExplicitVRLittleEndian\n"
      "ds = Dataset(); ds.file_meta = meta; ds.is_little_endian = True; ds.is_implicit_VR = False\n"
      "ds.SOPClassUID = meta.MediaStorageSOPClassUID; ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID\n"
      "ds.StudyInstanceUID = generate_uid(); ds.SeriesInstanceUID = generate_uid(); ds.PatientID = 'BIG'\n"
      "ds.Modality = 'OT'; ds.Rows = 10240; ds.Columns = 10240; ds.SamplesPerPixel = 1\n"
      "ds.PhotometricInterpretation = 'MONOCHROME2'; ds.BitsAllocated = 16; ds.BitsStored = 16\n"
      "ds.HighBit = 15; ds.PixelRepresentation = 0\n"
      "ds.PixelData = (np.arange(10240 * 10240, dtype=np.uint32) % 65521).astype(np.uint16).tobytes()\n"
      "ds.save_as(sys.argv[1], write_like_original=False)\n";
  auto [code, out] = run({kPython, "-c", script, big.string()});
  REQUIRE_MESSAGE(code == 0, out);
  store(node, {big.string()});

  const auto status_of = [&] { return read_file("/proc/" + std::to_string(node.pid()) + "/status"); };
  const auto hwm_kib = [&] {
    const auto s = status_of();
    const auto at = s.find("VmHWM:");
    REQUIRE(at != std::string::npos);
    return std::stol(s.substr(at + 6));
  };
  const long before = hwm_kib();
  // The instance as stored, and its pixel data as bulk data, both streamed to curl.
  auto r = get(scratch, http_port, instance_url(big.string()),
               "multipart/related; type=\"application/dicom\"; transfer-syntax=*");
  REQUIRE(r.status == 200);
  auto parts = parts_of(r);
  REQUIRE(parts.size() == 1);
  CHECK(data_set_of(parts[0].data) == data_set_of(read_file(big)));
  r.body.clear();
  parts.clear();
  auto b = get(scratch, http_port, instance_url(big.string()) + "/bulk/7FE00010", "application/octet-stream");
  REQUIRE(b.status == 200);
  CHECK(b.body.size() == 10240u * 10240u * 2u);
  const long after = hwm_kib();
  MESSAGE("serve's peak RSS: " << before / 1024 << " MiB before, " << after / 1024 << " MiB after two 200 MiB answers");
  CHECK(after - before < 64 * 1024);
}

TEST_CASE("The viewer: its files, our app-config.js, index.html for its routes") {
  const std::filesystem::path viewer = std::filesystem::path(PACSNODE_SOURCE_DIR) / "web" / "vendor" / "ohif";
  REQUIRE_MESSAGE(std::filesystem::exists(viewer / "index.html"), "scripts/viewer installs the viewer into " << viewer);
  const auto http_port = free_port();
  Node node(tables("[http]\nenabled = true\nport = " + std::to_string(http_port) + "\nviewer = \"" + viewer.string() +
                   "\"\nviewer_config = \"" + PACSNODE_SOURCE_DIR + "/web/ohif/app-config.js\"\n"));
  const TempDir scratch;
  auto index = get(scratch, http_port, "/");
  REQUIRE(index.status == 200);
  CHECK(index.header("Content-Type") == "text/html; charset=utf-8");
  CHECK(index.body == read_file(viewer / "index.html"));
  CHECK(index.header("Cross-Origin-Opener-Policy") == "same-origin");
  // A route of the viewer: index.html again.
  auto route = get(scratch, http_port, "/viewer?StudyInstanceUIDs=1.2.3");
  REQUIRE(route.status == 200);
  CHECK(route.body == index.body);
  // Our configuration, not the dist's.
  auto config = get(scratch, http_port, "/app-config.js");
  REQUIRE(config.status == 200);
  CHECK(config.body == read_file(std::string(PACSNODE_SOURCE_DIR) + "/web/ohif/app-config.js"));
  CHECK(config.header("Content-Type") == "text/javascript; charset=utf-8");
  // A WebAssembly file with its type (browsers refuse to stream-compile anything else).
  for (const auto& entry : std::filesystem::directory_iterator(viewer)) {
    if (entry.path().extension() != ".wasm") continue;
    auto wasm = get(scratch, http_port, "/" + entry.path().filename().string());
    REQUIRE(wasm.status == 200);
    CHECK(wasm.header("Content-Type") == "application/wasm");
    CHECK(wasm.body == read_file(entry.path()));
    CHECK(wasm.header("Cache-Control").find("immutable") != std::string::npos);
    // HEAD: the same header, no body.
    auto head = get(scratch, http_port, "/" + entry.path().filename().string(), "", {"-I"});
    CHECK(head.status == 200);
    CHECK(head.header("Content-Length") == std::to_string(std::filesystem::file_size(entry.path())));
    CHECK(head.body.find(std::string("\0asm", 4)) == std::string::npos);  // curl -I writes the header there
    break;
  }
  // Files it does not have, and paths that try to leave its folder: 404.
  CHECK(get(scratch, http_port, "/no-such-file.js").status == 404);
  CHECK(get(scratch, http_port, "/../../etc/host.conf", "", {"--path-as-is"}).status == 404);
  CHECK(get(scratch, http_port, "/%2E%2E/%2E%2E/etc/hostname.txt").status == 404);
  // POST is not for files.
  CHECK(get(scratch, http_port, "/index.html", "", {"-X", "POST", "--data", "x"}).status == 405);
  // DICOMweb still answers under /dicom-web.
  CHECK(get(scratch, http_port, "/dicom-web/studies").status == 204);
}
