// libFuzzer target for what a peer sends once an association is established: the input is
// the requestor's TCP byte stream after the A-ASSOCIATE-RQ (PDUs as on the wire). It is cut
// into PDUs by net's decoder, stepped through the PS3.8 state table from Sta6, and the
// P-DATA PDVs go through net::MessageAssembler on a fixed set of accepted presentation
// contexts (kContexts, below). Every complete message is dispatched as scp/services.cpp
// dispatches it, down to the code that parses untrusted content, with an in-process
// stand-in where the node would talk to PostgreSQL or a peer:
//
//   C-ECHO            the response command set (scp::make_response's fields), encoded
//   C-STORE           the sink's checks (UIDs), our File Meta in front of the data set in a
//                     temp file, dicom::extract_index_record on it, the UID comparison
//   C-FIND            dicom::parse_find_identifier, db::build_find_sql, and a pending
//                     response built from the identifier's own values (as if one row had
//                     matched) by dicom::build_find_response, which must parse again
//   C-MOVE / C-GET    the identifier, db::build_retrieve_sql, and a Failed SOP Instance UID
//                     List for the identifier's SOP Instance UIDs (as if none could be sent)
//   C-CANCEL          remembered per Message ID Being Responded To, as the Association does
//   anything else     the 0x0211 response
//
// Beyond "no crash, no sanitizer report", the target checks the promises the index relies
// on: every text extract_index_record returns is valid UTF-8 without NULs, its
// attributes are a JSON object PostgreSQL's jsonb accepts, and the SQL parameters the
// query builders produce are text PostgreSQL accepts.
#include <nlohmann/json.hpp>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/oflog/oflog.h>

#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/error.hpp"
#include "base/index_record.hpp"
#include "db/find_query.hpp"
#include "db/retrieve_query.hpp"
#include "dicom/extract.hpp"
#include "dicom/file_meta.hpp"
#include "dicom/find_identifier.hpp"
#include "dicom/uid.hpp"
#include "net/command_set.hpp"
#include "net/message_assembler.hpp"
#include "net/pdu.hpp"
#include "net/state_machine.hpp"
#include "net/uids.hpp"
#include "scp/qr_common.hpp"

using namespace pacsnode;
using net::CommandField;

namespace {

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "dimse_fuzz: %s\n", what.c_str());
  std::abort();
}

// The accepted presentation contexts. tests/fuzz/record_sessions.py renumbers the recorded
// PDVs onto these ids (keep the two tables in step). A storage context (abstract syntax
// empty) stands for whatever Storage SOP Class the command names, as if the requestor had
// proposed and we had accepted exactly that class; its transfer syntaxes are those of
// dicom::storage_transfer_syntaxes(), in that order, from id 101 up.
struct Context {
  std::uint8_t id;
  std::string_view abstract_syntax;  // "" = a storage context
  std::string_view transfer_syntax;
};
constexpr std::array kContexts = {
    Context{1, net::uid::Verification, net::uid::ImplicitVrLittleEndian},
    Context{3, net::uid::PatientRootFind, net::uid::ExplicitVrLittleEndian},
    Context{5, net::uid::PatientRootFind, net::uid::ImplicitVrLittleEndian},
    Context{7, net::uid::StudyRootFind, net::uid::ExplicitVrLittleEndian},
    Context{9, net::uid::StudyRootFind, net::uid::ImplicitVrLittleEndian},
    Context{11, net::uid::PatientRootMove, net::uid::ExplicitVrLittleEndian},
    Context{13, net::uid::PatientRootMove, net::uid::ImplicitVrLittleEndian},
    Context{15, net::uid::StudyRootMove, net::uid::ExplicitVrLittleEndian},
    Context{17, net::uid::StudyRootMove, net::uid::ImplicitVrLittleEndian},
    Context{19, net::uid::PatientRootGet, net::uid::ExplicitVrLittleEndian},
    Context{21, net::uid::PatientRootGet, net::uid::ImplicitVrLittleEndian},
    Context{23, net::uid::StudyRootGet, net::uid::ExplicitVrLittleEndian},
    Context{25, net::uid::StudyRootGet, net::uid::ImplicitVrLittleEndian},
    Context{101, "", net::uid::ExplicitVrLittleEndian},
    Context{103, "", net::uid::ImplicitVrLittleEndian},
    Context{105, "", net::uid::DeflatedExplicitVrLittleEndian},
    Context{107, "", net::uid::ExplicitVrBigEndian},
    Context{109, "", net::uid::JpegLsLossless},
    Context{111, "", net::uid::Jpeg2000Lossless},
    Context{113, "", net::uid::JpegLosslessSv1},
    Context{115, "", net::uid::JpegLossless},
    Context{117, "", net::uid::RleLossless},
    Context{119, "", net::uid::Jpeg2000},
    Context{121, "", net::uid::JpegLsNearLossless},
    Context{123, "", net::uid::JpegBaseline},
    Context{125, "", net::uid::JpegExtended},
};

const Context* context_of(std::uint8_t id) {
  for (const auto& c : kContexts) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

// What the services are configured with (app/config's defaults where they matter).
constexpr std::size_t kMaxResults = 1000;     // query.max_results
constexpr std::size_t kMaxRetrieve = 10000;   // query.max_retrieve
constexpr std::size_t kMemorySinkCap = 64u * 1024u * 1024u;  // net::MemorySink's default
constexpr std::string_view kOurAe = "PACSNODE";
constexpr std::string_view kPeerAe = "FUZZSCU";
constexpr std::string_view kImplementationClassUid = "1.2.826.0.1.3680043.10.1447.1";

std::filesystem::path g_temp_file;

// PostgreSQL text: valid UTF-8, no U+0000.
bool is_postgres_text(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == 0) return false;
    std::size_t n = 0;
    char32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated sequence
    for (std::size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    const char32_t min = n == 1 ? 0x80 : n == 2 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

void check_text(std::string_view field, const std::string& value) {
  if (!is_postgres_text(value)) fail(std::string(field) + " is not valid UTF-8 without NULs");
}

// A NUL in any string or key of the parsed document: the \u0000 that jsonb refuses. (A search of
// the text for "\u0000" also finds an escaped backslash followed by "u0000", which LT and UT
// text may hold and jsonb stores.)
bool holds_nul(const nlohmann::json& value) {
  if (value.is_string()) return value.get_ref<const std::string&>().find('\0') != std::string::npos;
  if (value.is_object()) {
    for (const auto& [key, member] : value.items()) {
      if (key.find('\0') != std::string::npos || holds_nul(member)) return true;
    }
  }
  if (value.is_array()) {
    for (const auto& member : value) {
      if (holds_nul(member)) return true;
    }
  }
  return false;
}

// A level's attributes must be a JSON object that jsonb stores (jsonb refuses \u0000).
void check_attributes(std::string_view level, const std::string& json) {
  check_text(level, json);
  const auto parsed = nlohmann::json::parse(json, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) fail(std::string(level) + " attributes are not a JSON object");
  if (holds_nul(parsed)) fail(std::string(level) + " attributes hold \\u0000");
}

void check_record(const IndexRecord& r) {
  check_text("PatientID", r.patient.patient_id);
  check_text("IssuerOfPatientID", r.patient.issuer_of_patient_id);
  check_text("PatientName", r.patient.patient_name);
  check_text("PatientBirthDate", r.patient.patient_birth_date);
  check_text("PatientSex", r.patient.patient_sex);
  check_attributes("patient", r.patient.attributes_json);
  check_text("StudyInstanceUID", r.study.study_instance_uid);
  check_text("StudyDate", r.study.study_date);
  check_text("StudyTime", r.study.study_time);
  check_text("AccessionNumber", r.study.accession_number);
  check_text("StudyID", r.study.study_id);
  check_text("StudyDescription", r.study.study_description);
  check_text("ReferringPhysicianName", r.study.referring_physician_name);
  check_attributes("study", r.study.attributes_json);
  check_text("SeriesInstanceUID", r.series.series_instance_uid);
  check_text("Modality", r.series.modality);
  check_text("SeriesDescription", r.series.series_description);
  check_text("BodyPartExamined", r.series.body_part_examined);
  check_text("SeriesDate", r.series.series_date);
  check_text("SeriesTime", r.series.series_time);
  check_attributes("series", r.series.attributes_json);
  check_text("SOPInstanceUID", r.instance.sop_instance_uid);
  check_text("SOPClassUID", r.instance.sop_class_uid);
  check_text("ContentDate", r.instance.content_date);
  check_text("ContentTime", r.instance.content_time);
  check_text("TransferSyntaxUID", r.instance.transfer_syntax_uid);
  check_attributes("instance", r.instance.attributes_json);
  for (const auto* uid : {&r.study.study_instance_uid, &r.series.series_instance_uid, &r.instance.sop_instance_uid,
                          &r.instance.sop_class_uid}) {
    if (!dicom::is_valid_uid(*uid)) fail("extract_index_record returned an invalid UID");
  }
}

void check_sql(const db::SqlQuery& sql) {
  if (sql.sql.empty()) fail("empty SQL");
  for (const auto& p : sql.params) check_text("SQL parameter", p);
}

// scp::make_response's fields, and the encoding the response goes out in.
net::CommandSet respond(const net::CommandSet& request, std::uint16_t status) {
  net::CommandSet rsp;
  const auto field = request.command_field().value_or(CommandField::CEchoRq);
  rsp.set_us(net::tag::CommandField, static_cast<std::uint16_t>(static_cast<std::uint16_t>(field) | 0x8000));
  rsp.set_us(net::tag::MessageIdBeingRespondedTo, request.message_id().value_or(0));
  rsp.set_us(net::tag::CommandDataSetType, net::kNoDataSet);
  rsp.set_us(net::tag::Status, status);
  if (auto cls = request.str(net::tag::AffectedSopClassUid)) rsp.set_ui(net::tag::AffectedSopClassUid, *cls);
  if (auto inst = request.str(net::tag::AffectedSopInstanceUid)) rsp.set_ui(net::tag::AffectedSopInstanceUid, *inst);
  const auto bytes = rsp.encode();
  if (!net::CommandSet::decode(bytes)) fail("our response command set does not decode");
  return rsp;
}

// The data set of the message being assembled: refused up front as StoreService's sink
// factory refuses (the bytes are then dropped), or kept in memory up to MemorySink's cap.
struct Sink {
  std::uint16_t refusal = 0;
  bool overflow = false;
  std::vector<std::uint8_t> bytes;
  void write(std::span<const std::uint8_t> fragment) {
    if (refusal != 0 || overflow) return;
    if (bytes.size() + fragment.size() > kMemorySinkCap) {
      overflow = true;
      return;
    }
    bytes.insert(bytes.end(), fragment.begin(), fragment.end());
  }
};

Sink open_sink(const net::CommandSet& command) {
  Sink sink;
  if (command.command_field() != CommandField::CStoreRq) return sink;
  const std::string instance_uid = command.str(net::tag::AffectedSopInstanceUid).value_or("");
  const std::string class_uid = command.str(net::tag::AffectedSopClassUid).value_or("");
  if (!dicom::is_valid_uid(instance_uid) || !dicom::is_valid_uid(class_uid)) sink.refusal = net::status::CannotUnderstand;
  return sink;
}

void handle_store(const Context& context, const net::CommandSet& command, const Sink* sink) {
  if (!command.has_data_set() || !sink) {
    respond(command, net::status::CannotUnderstand);
    return;
  }
  if (sink->refusal != 0 || sink->overflow) {
    respond(command, sink->refusal != 0 ? sink->refusal : net::status::OutOfResources);
    return;
  }
  const std::string instance_uid = command.str(net::tag::AffectedSopInstanceUid).value_or("");
  const std::string class_uid = command.str(net::tag::AffectedSopClassUid).value_or("");
  dicom::FileMeta meta;
  meta.media_storage_sop_class_uid = class_uid;
  meta.media_storage_sop_instance_uid = instance_uid;
  meta.transfer_syntax_uid = std::string(context.transfer_syntax);
  meta.implementation_class_uid = std::string(kImplementationClassUid);
  meta.implementation_version_name = "PACSNODE_FUZZ";
  meta.source_ae_title = std::string(kPeerAe);
  const auto header = dicom::encode_file_meta(meta);  // valid UIDs: must not throw
  if (dicom::file_meta_length(header) != header.size()) fail("file_meta_length disagrees with encode_file_meta");
  {
    std::ofstream out(g_temp_file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(header.data()), static_cast<std::streamsize>(header.size()));
    out.write(reinterpret_cast<const char*>(sink->bytes.data()), static_cast<std::streamsize>(sink->bytes.size()));
    if (!out) fail("cannot write " + g_temp_file.string());
  }
  std::uint16_t status = net::status::Success;
  try {
    const IndexRecord record = dicom::extract_index_record(g_temp_file);
    check_record(record);
    if (record.instance.transfer_syntax_uid != context.transfer_syntax) fail("extract lost the meta header's transfer syntax");
    if (record.instance.sop_instance_uid != instance_uid || record.instance.sop_class_uid != class_uid) {
      status = net::status::DataSetDoesNotMatchSopClass;
    }
  } catch (const Error&) {
    status = net::status::ProcessingFailure;
  } catch (const std::exception&) {
    status = net::status::ProcessingFailure;  // as StoreService: any exception is a failure status
  }
  respond(command, status);
}

std::optional<db::InformationModel> model_of(std::string_view abstract_syntax, CommandField field) {
  using net::uid::PatientRootFind, net::uid::StudyRootFind, net::uid::PatientRootMove, net::uid::StudyRootMove,
      net::uid::PatientRootGet, net::uid::StudyRootGet;
  const bool find = field == CommandField::CFindRq, move = field == CommandField::CMoveRq;
  if (abstract_syntax == (find ? PatientRootFind : move ? PatientRootMove : PatientRootGet)) {
    return db::InformationModel::PatientRoot;
  }
  if (abstract_syntax == (find ? StudyRootFind : move ? StudyRootMove : StudyRootGet)) {
    return db::InformationModel::StudyRoot;
  }
  return std::nullopt;
}

// The stand-in for one matching row: every key answered with the value it asked for, and a
// sequence with its query item. What build_find_response writes must parse again.
void answer_one_match(const dicom::FindIdentifier& identifier, const std::string& transfer_syntax) {
  std::map<std::uint32_t, std::string> values;
  std::map<std::uint32_t, std::vector<dicom::ResponseItem>> sequences;
  for (const auto& key : identifier.keys) {
    if (key.vr == "SQ") {
      sequences[key.tag] = {key.item};
    } else {
      values[key.tag] = key.value;
    }
  }
  std::vector<std::uint8_t> response;
  try {
    response = dicom::build_find_response(identifier.keys, values, identifier.level, kOurAe, transfer_syntax, sequences);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::Internal) fail(std::string("build_find_response: unexpected error: ") + e.what());
    return;  // FindService answers 0xC001
  }
  dicom::FindIdentifier again;
  try {
    again = dicom::parse_find_identifier(response, transfer_syntax);
  } catch (const Error& e) {
    fail(std::string("our own C-FIND response does not parse: ") + e.what());
  }
  if (again.level != identifier.level) fail("our C-FIND response lost its Query/Retrieve Level");
}

void handle_query(const Context& context, const net::CommandSet& command, CommandField field, const Sink* sink) {
  const auto model = model_of(context.abstract_syntax, field);
  if (!model) {
    respond(command, net::status::SopClassNotSupported);
    return;
  }
  if (field == CommandField::CMoveRq) {
    // RetrieveService trims the destination and looks it up before the identifier; the
    // lookup is a string comparison, so the identifier is read whatever the destination.
    (void)command.str(net::tag::MoveDestination);
  }
  if (!command.has_data_set() || !sink) {
    respond(command, scp::kIdentifierDoesNotMatch);
    return;
  }
  const std::string transfer_syntax(context.transfer_syntax);
  dicom::FindIdentifier identifier;
  try {
    identifier = dicom::parse_find_identifier(sink->bytes, transfer_syntax);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::InvalidArgument) fail(std::string("parse_find_identifier: unexpected error: ") + e.what());
    respond(command, scp::kIdentifierDoesNotMatch);
    return;
  }
  for (const auto& key : identifier.keys) check_text("identifier value", key.value);
  const auto level = scp::query_level_of(identifier.level);
  if (!level) {
    respond(command, scp::kIdentifierDoesNotMatch);
    return;
  }
  db::FindRequest find{*model, *level, {}};
  for (const auto& key : identifier.keys) find.keys.push_back(scp::find_key_of(key));
  try {
    if (field == CommandField::CFindRq) {
      check_sql(db::build_find_sql(find, kMaxResults + 1));
      (void)db::find_row_columns(find.level);
    } else {
      check_sql(db::build_retrieve_sql(find, kMaxRetrieve + 1));
    }
  } catch (const Error& e) {
    if (e.code() != ErrorCode::InvalidArgument) fail(std::string("query builder: unexpected error: ") + e.what());
    respond(command, scp::kIdentifierDoesNotMatch);
    return;
  }
  if (field == CommandField::CFindRq) {
    answer_one_match(identifier, transfer_syntax);
  } else {
    // As if every instance named had failed to go out: the final response's identifier.
    std::vector<std::string> failed;
    for (const auto& key : identifier.keys) {
      if (key.tag != 0x00080018) continue;
      std::string_view rest = key.value;
      for (;;) {
        const auto cut = rest.find('\\');
        failed.emplace_back(rest.substr(0, cut));
        if (cut == std::string_view::npos) break;
        rest.remove_prefix(cut + 1);
      }
    }
    if (!failed.empty()) {
      try {
        (void)dicom::build_failed_sop_list(failed, transfer_syntax);
      } catch (const Error& e) {
        if (e.code() != ErrorCode::Internal) fail(std::string("build_failed_sop_list: unexpected error: ") + e.what());
      }
    }
  }
}

// One association's receiving side, from Sta6.
class Session {
 public:
  // False when the association would end here (abort, release, transport closed).
  bool on_pdu(const net::Pdu& pdu) {
    const net::Event event = std::visit(
        [](const auto& p) {
          using T = std::decay_t<decltype(p)>;
          if constexpr (std::is_same_v<T, net::PDataTf>) return net::Event::Evt10;
          else if constexpr (std::is_same_v<T, net::AReleaseRq>) return net::Event::Evt12;
          else if constexpr (std::is_same_v<T, net::AReleaseRp>) return net::Event::Evt13;
          else if constexpr (std::is_same_v<T, net::AAbort>) return net::Event::Evt16;
          else if constexpr (std::is_same_v<T, net::AAssociateRq>) return net::Event::Evt6;
          else if constexpr (std::is_same_v<T, net::AAssociateAc>) return net::Event::Evt3;
          else return net::Event::Evt4;
        },
        pdu);
    const auto t = net::transition(state_, event);
    if (!t) fail("the state table has no entry for a received PDU in Sta6");
    if (t->action != net::Action::DT2) return false;  // release (AR-2) or abort: the data phase ends
    state_ = t->next;
    return on_pdata(std::get<net::PDataTf>(pdu));
  }

  const std::set<std::uint16_t>& cancelled() const { return cancelled_; }

 private:
  bool on_pdata(const net::PDataTf& pdata) {
    using Kind = net::MessageAssembler::Kind;
    for (const net::Pdv& pdv : pdata.pdvs) {
      const auto step = assembler_.feed(pdv, [](std::uint8_t id) { return context_of(id) != nullptr; });
      switch (step.kind) {
        case Kind::Error:
          if (step.error.empty()) fail("assembler error without a message");
          return false;  // A-ABORT
        case Kind::NeedMore:
          break;
        case Kind::Message: {
          const net::CommandSet command = assembler_.take_command();
          if (command.command_field() == CommandField::CCancelRq) {
            if (auto id = command.us(net::tag::MessageIdBeingRespondedTo)) cancelled_.insert(*id);
            break;
          }
          dispatch(pdv.pc_id, command, nullptr);
          break;
        }
        case Kind::CommandThenData:
          if (!assembler_.in_data_set()) fail("CommandThenData outside a data set");
          sink_ = open_sink(assembler_.command());
          break;
        case Kind::DataFragment:
        case Kind::DataLast:
          sink_.write(step.data);
          if (step.kind == Kind::DataLast) {
            if (!assembler_.idle()) fail("DataLast but the assembler is not idle");
            const Sink sink = std::move(sink_);
            sink_ = Sink{};
            dispatch(pdv.pc_id, assembler_.take_command(), &sink);
          }
          break;
      }
    }
    return true;
  }

  // scp::serve_association's dispatch.
  void dispatch(std::uint8_t pc_id, const net::CommandSet& command, const Sink* sink) {
    const Context* context = context_of(pc_id);
    if (!context) fail("a message on a context that was not accepted");
    (void)command.describe();
    const auto field = command.command_field();
    if (!field) fail("a message without a Command Field");
    const auto raw = static_cast<std::uint16_t>(*field);
    (void)net::command_name(*field);
    if (raw & 0x8000) return;  // an unexpected response is ignored
    (void)command.message_id();
    switch (*field) {
      case CommandField::CEchoRq:
        respond(command, net::status::Success);
        break;
      case CommandField::CStoreRq:
        handle_store(*context, command, sink);
        break;
      case CommandField::CFindRq:
      case CommandField::CMoveRq:
      case CommandField::CGetRq:
        handle_query(*context, command, *field, sink);
        break;
      default:
        respond(command, 0x0211);
        break;
    }
  }

  net::State state_ = net::State::Sta6;
  net::MessageAssembler assembler_;
  Sink sink_;
  std::set<std::uint16_t> cancelled_;
};

void remove_temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(g_temp_file.parent_path(), ec);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  OFLog::configure(OFLogger::OFF_LOG_LEVEL);  // DCMTK's warnings about hostile data sets
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/dimse_fuzz.XXXXXX";
  if (!mkdtemp(pattern.data())) fail("mkdtemp failed");
  g_temp_file = std::filesystem::path(pattern) / "instance.dcm";
  std::atexit(remove_temp_dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> stream(data, size);
  Session session;
  std::size_t offset = 0;
  while (stream.size() - offset >= net::kPduHeaderSize) {
    const auto header = net::decode_header(stream.subspan(offset).first<net::kPduHeaderSize>());
    if (net::check_header(header)) break;  // Evt19: A-ABORT
    if (stream.size() - offset - net::kPduHeaderSize < header.length) break;  // transport closed mid-PDU
    const auto bytes = stream.subspan(offset, net::kPduHeaderSize + header.length);
    offset += bytes.size();
    const auto decoded = net::decode_pdu(bytes);
    if (!decoded.pdu) break;  // Evt19
    if (!session.on_pdu(*decoded.pdu)) break;
  }
  return 0;
}
