#include "scu/store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include "base/error.hpp"
#include "base/log.hpp"
#include "net/blocking.hpp"
#include "dicom/part10.hpp"
#include "dicom/transcode.hpp"
#include "net/uids.hpp"

namespace pacsnode::scu {
namespace fs = std::filesystem;
namespace {

constexpr std::size_t kMaxContexts = 128;

// Streams the data set part of a file (everything after the meta group).
class FileSource final : public net::DataSource {
 public:
  FileSource(const fs::path& file, std::uint64_t offset) : fd_(::open(file.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (fd_ < 0) throw Error(ErrorCode::NotFound, "cannot open " + file.string());
    if (::lseek(fd_, static_cast<off_t>(offset), SEEK_SET) < 0) throw Error(ErrorCode::Internal, "cannot seek");
  }
  ~FileSource() override {
    if (fd_ >= 0) ::close(fd_);
  }
  std::size_t read(std::span<std::uint8_t> buffer) override {
    for (;;) {
      const ssize_t n = ::read(fd_, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw Error(ErrorCode::Unavailable, "read failed");
      return static_cast<std::size_t>(n);
    }
  }

 private:
  int fd_;
};

const std::string kEle(net::uid::ExplicitVrLittleEndian);
const std::string kIle(net::uid::ImplicitVrLittleEndian);

const std::vector<std::string> kLosslessFallback = {std::string(net::uid::JpegLsLossless),
                                                    std::string(net::uid::JpegLosslessSv1),
                                                    std::string(net::uid::RleLossless)};

// Data that may be re-encoded losslessly for a peer that takes no uncompressed syntax.
bool any_lossless(const std::set<std::string>& syntaxes) {
  return std::any_of(syntaxes.begin(), syntaxes.end(),
                     [](const std::string& ts) { return !dicom::is_lossy_transfer_syntax(ts); });
}

// The presentation contexts for one association's worth of SOP classes: per SOP class, one
// context per distinct file transfer syntax, one with the uncompressed fallbacks, and — for
// data that is not lossy — one with the lossless compressed syntaxes we can encode
// (dicom/transcode.hpp chooses among what the peer accepts).
std::vector<net::PresentationContextRq> contexts_for(const std::map<std::string, std::set<std::string>>& classes) {
  std::vector<net::PresentationContextRq> contexts;
  std::uint8_t id = 1;
  for (const auto& [sop_class, syntaxes] : classes) {
    for (const auto& ts : syntaxes) {
      if (ts == kEle || ts == kIle) continue;
      contexts.push_back({id, sop_class, {ts}});
      id += 2;
    }
    contexts.push_back({id, sop_class, {kEle, kIle}});
    id += 2;
    if (any_lossless(syntaxes)) {
      contexts.push_back({id, sop_class, kLosslessFallback});
      id += 2;
    }
  }
  return contexts;
}

std::size_t contexts_needed(const std::set<std::string>& syntaxes) {
  std::size_t n = any_lossless(syntaxes) ? 2 : 1;
  for (const auto& ts : syntaxes) n += (ts != kEle && ts != kIle) ? 1 : 0;
  return n;
}

}  // namespace

std::vector<fs::path> collect_files(const std::vector<fs::path>& paths, std::vector<std::string>& errors) {
  std::vector<fs::path> files;
  for (const auto& path : paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<fs::path> found;
      for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::recursive_directory_iterator();
           it.increment(ec)) {
        if (it->is_regular_file()) found.push_back(it->path());
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(path, ec)) {
      files.push_back(path);
    } else {
      errors.push_back(path.string() + ": no such file or folder");
    }
  }
  return files;
}

namespace {

// The contexts `item` may go on, best first: one carrying its own transfer syntax, then
// those dicom::transfer_syntax_candidates lists among the syntaxes the peer accepted for
// the SOP class. Empty when none will do.
std::vector<const net::AcceptedContext*> candidate_contexts(const std::vector<net::AcceptedContext>& contexts,
                                                            const Outgoing& item, bool require_scp_role) {
  std::vector<const net::AcceptedContext*> usable;
  std::vector<std::string> syntaxes;
  for (const auto& c : contexts) {
    if (c.abstract_syntax != item.header.sop_class_uid) continue;
    if (require_scp_role && !c.requestor_is_scp) continue;
    usable.push_back(&c);
    syntaxes.push_back(c.transfer_syntax);
  }
  std::vector<const net::AcceptedContext*> out;
  for (const auto& ts : dicom::transfer_syntax_candidates(item.header.transfer_syntax_uid, syntaxes)) {
    for (const auto* c : usable) {
      if (c->transfer_syntax == ts) {
        out.push_back(c);
        break;
      }
    }
  }
  return out;
}

SendOutcome failed(std::string why) {
  SendOutcome outcome;
  outcome.result = SendResult::Failed;
  outcome.why = std::move(why);
  return outcome;
}

}  // namespace

asio::awaitable<SendOutcome> send_instance(net::Association& association, const Outgoing& item,
                                           const MoveOriginator* originator, bool require_scp_role,
                                           asio::thread_pool* workers) {
  const std::string& sop_class = item.header.sop_class_uid;
  const auto candidates = candidate_contexts(association.contexts(), item, require_scp_role);
  if (candidates.empty()) {
    co_return failed("the peer accepted no presentation context for SOP class " + sop_class +
                     (require_scp_role ? " with the SCP role" : "") + " in a transfer syntax we can send " +
                     item.header.transfer_syntax_uid + " data in");
  }
  // The first candidate whose conversion succeeds: an encoder may refuse an image (a bit
  // depth JPEG-LS does not take, say) that the next accepted syntax can carry.
  const net::AcceptedContext* context = nullptr;
  std::vector<std::uint8_t> converted;
  std::string errors;
  for (const auto* candidate : candidates) {
    if (candidate->transfer_syntax == item.header.transfer_syntax_uid) {
      context = candidate;
      break;
    }
    std::string error;
    const std::string& target = candidate->transfer_syntax;
    const auto transcode = [&item, &error, &target]() {
      try {
        return dicom::transcode_data_set(item.file, target);
      } catch (const std::exception& e) {
        error = e.what();
        return std::vector<std::uint8_t>();
      }
    };
    // (Not a ?: around co_await: GCC 12 miscompiles co_await inside a conditional expression.)
    if (workers) {
      converted = co_await net::run_blocking(*workers, transcode);
    } else {
      converted = transcode();
    }
    if (error.empty()) {
      context = candidate;
      break;
    }
    errors += (errors.empty() ? "" : "; ") + error;
  }
  if (!context) co_return failed(errors);
  net::CommandSet command;
  const std::uint16_t message_id = association.next_message_id();
  command.set_ui(net::tag::AffectedSopClassUid, sop_class);
  command.set_us(net::tag::CommandField, static_cast<std::uint16_t>(net::CommandField::CStoreRq));
  command.set_us(net::tag::MessageId, message_id);
  command.set_us(net::tag::Priority, 0);
  command.set_us(net::tag::CommandDataSetType, net::kDataSetPresent);
  command.set_ui(net::tag::AffectedSopInstanceUid, item.header.sop_instance_uid);
  if (originator) {
    command.set_ae(net::tag::MoveOriginatorApplicationEntityTitle, originator->ae_title);
    command.set_us(net::tag::MoveOriginatorMessageId, originator->message_id);
  }
  SendOutcome outcome;
  try {
    if (context->transfer_syntax == item.header.transfer_syntax_uid) {
      FileSource source(item.file, item.header.data_set_offset);
      co_await association.send(context->id, command, source);
    } else {
      net::SpanSource source(converted);
      co_await association.send(context->id, command, source);
    }
  } catch (const net::AssociationError& e) {
    outcome = failed(e.what());
    outcome.association_ended = true;
    co_return outcome;
  } catch (const Error& e) {  // the file could not be read
    co_return failed(e.what());
  }
  auto response = co_await association.receive_response(message_id);
  if (!response) {
    outcome = failed("association " + std::string(net::end_reason_name(association.end_reason())) +
                     " before the C-STORE-RSP");
    outcome.association_ended = true;
    co_return outcome;
  }
  outcome.status = response->command.us(net::tag::Status).value_or(0xFFFF);
  const auto comment = response->command.str(net::tag::ErrorComment);
  switch (net::classify_status(outcome.status)) {
    case net::StatusClass::Success: outcome.result = SendResult::Success; break;
    case net::StatusClass::Warning:
      outcome.result = SendResult::Warning;
      outcome.why = fmt::format("stored with warning {:#06x}{}", outcome.status, comment ? ": " + *comment : "");
      break;
    default:
      outcome.result = SendResult::Failed;
      outcome.why = fmt::format("refused with status {:#06x}{}", outcome.status, comment ? ": " + *comment : "");
  }
  co_return outcome;
}

asio::awaitable<SendToEnd> send_to(const RemoteNode& remote, std::vector<Outgoing> items,
                                   net::AssociationSettings settings, std::optional<MoveOriginator> originator,
                                   SendProgress progress, asio::thread_pool* workers) {
  SendToEnd end;
  std::map<std::string, std::vector<const Outgoing*>> by_class;
  std::map<std::string, std::set<std::string>> syntaxes_by_class;
  for (const auto& item : items) {
    syntaxes_by_class[item.header.sop_class_uid].insert(item.header.transfer_syntax_uid);
    by_class[item.header.sop_class_uid].push_back(&item);
  }

  // Split SOP classes into groups that fit 128 contexts; one association per group.
  std::vector<std::map<std::string, std::set<std::string>>> groups(1);
  std::size_t used = 0;
  for (const auto& [sop_class, syntaxes] : syntaxes_by_class) {
    const std::size_t need = std::min(contexts_needed(syntaxes), kMaxContexts);
    if (used + need > kMaxContexts) {
      groups.emplace_back();
      used = 0;
    }
    groups.back()[sop_class] = syntaxes;
    used += need;
  }

  std::uint64_t association_id = 1;
  for (const auto& group : groups) {
    if (group.empty()) continue;
    net::AAssociateRq rq;
    rq.called_ae = remote.ae_title;
    rq.calling_ae = settings.ae_title;
    rq.contexts = contexts_for(group);
    if (rq.contexts.size() > kMaxContexts) rq.contexts.resize(kMaxContexts);
    std::shared_ptr<net::Association> association;
    std::string refused;
    try {
      association = co_await net::Association::request(remote.host, remote.port, rq, settings, association_id++);
    } catch (const net::AssociationError& e) {
      refused = e.what();
    }
    if (!association) {
      SendOutcome outcome = failed(refused);
      outcome.no_association = true;
      for (const auto& [sop_class, syntaxes] : group) {
        for (const Outgoing* item : by_class[sop_class]) {
          if (!co_await progress(*item, outcome)) co_return end;
        }
      }
      continue;
    }
    bool ended = false;
    bool stop = false;
    try {
      for (const auto& [sop_class, syntaxes] : group) {
        for (const Outgoing* item : by_class[sop_class]) {
          SendOutcome outcome;
          if (ended) {
            outcome = failed("not sent: the association ended early");
          } else {
            outcome = co_await send_instance(*association, *item, originator ? &*originator : nullptr, false, workers);
            ended = outcome.association_ended;
          }
          if (!co_await progress(*item, outcome)) {
            stop = true;
            break;
          }
        }
        if (stop) break;
      }
    } catch (...) {
      // The caller gave up (its own association to the C-MOVE requestor ended, say): tell
      // the destination this one will not be completed.
      association->abort();
      throw;
    }
    if (association->state() == net::State::Sta6) {
      co_await association->release();
    }
    if (association->end_reason() != net::EndReason::Released) {
      end.all_released = false;
      end.why = std::string("association ") + std::string(net::end_reason_name(association->end_reason()));
    }
    if (stop) co_return end;
  }
  co_return end;
}

asio::awaitable<StoreSummary> store_files(const RemoteNode& remote, std::vector<fs::path> files,
                                          net::AssociationSettings settings) {
  StoreSummary summary;
  auto fail = [&](const fs::path& file, const std::string& why) {
    ++summary.failed;
    summary.failures.push_back(file.string() + ": " + why);
  };
  std::vector<Outgoing> items;
  for (const auto& file : files) {
    try {
      items.push_back(Outgoing{file, dicom::read_part10_header(file)});
    } catch (const Error& e) {
      fail(file, e.what());
    }
  }
  co_await send_to(remote, std::move(items), std::move(settings), std::nullopt,
                   [&](const Outgoing& item, const SendOutcome& outcome) -> asio::awaitable<bool> {
                     switch (outcome.result) {
                       case SendResult::Success: ++summary.sent; break;
                       case SendResult::Warning: ++summary.warnings; break;
                       case SendResult::Failed: fail(item.file, outcome.why); break;
                     }
                     co_return true;
                   });
  co_return summary;
}

StoreSummary store_files_blocking(const RemoteNode& remote, std::vector<fs::path> files,
                                  const net::AssociationSettings& settings) {
  return net::run_to_completion(store_files(remote, std::move(files), settings));
}

}  // namespace pacsnode::scu
