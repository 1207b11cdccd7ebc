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

struct Item {
  fs::path file;
  dicom::Part10Header header;
};

const std::string kEle(net::uid::ExplicitVrLittleEndian);
const std::string kIle(net::uid::ImplicitVrLittleEndian);

// The presentation contexts for one association's worth of SOP classes: per SOP class, one
// context per distinct file transfer syntax, plus one with the uncompressed fallbacks.
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
  }
  return contexts;
}

std::size_t contexts_needed(const std::set<std::string>& syntaxes) {
  std::size_t n = 1;
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

asio::awaitable<StoreSummary> store_files(const RemoteNode& remote, std::vector<fs::path> files,
                                          net::AssociationSettings settings) {
  StoreSummary summary;
  auto fail = [&](const fs::path& file, const std::string& why) {
    ++summary.failed;
    summary.failures.push_back(file.string() + ": " + why);
  };

  // Read every header first: the contexts to propose depend on them.
  std::map<std::string, std::vector<Item>> by_class;
  std::map<std::string, std::set<std::string>> syntaxes_by_class;
  for (const auto& file : files) {
    try {
      Item item{file, dicom::read_part10_header(file)};
      syntaxes_by_class[item.header.sop_class_uid].insert(item.header.transfer_syntax_uid);
      by_class[item.header.sop_class_uid].push_back(std::move(item));
    } catch (const Error& e) {
      fail(file, e.what());
    }
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
    try {
      association = co_await net::Association::request(remote.host, remote.port, rq, settings, association_id++);
    } catch (const net::AssociationError& e) {
      for (const auto& [sop_class, syntaxes] : group) {
        for (const auto& item : by_class[sop_class]) fail(item.file, e.what());
      }
      continue;
    }
    bool broken = false;
    for (const auto& [sop_class, syntaxes] : group) {
      for (const auto& item : by_class[sop_class]) {
        if (broken) {
          fail(item.file, "not sent: the association ended early");
          continue;
        }
        const std::string& ts = item.header.transfer_syntax_uid;
        const net::AcceptedContext* context = net::find_context(association->contexts(), sop_class, ts);
        std::vector<std::uint8_t> converted;
        try {
          if (!context) {
            // Fall back to an uncompressed context; convert the data set for it.
            context = net::find_context(association->contexts(), sop_class, kEle);
            if (!context) context = net::find_context(association->contexts(), sop_class, kIle);
            if (!context) {
              fail(item.file, "the peer accepted no presentation context for SOP class " + sop_class);
              continue;
            }
            converted = dicom::data_set_in(item.file, context->transfer_syntax);
          }
          net::CommandSet command;
          const std::uint16_t message_id = association->next_message_id();
          command.set_ui(net::tag::AffectedSopClassUid, sop_class);
          command.set_us(net::tag::CommandField, static_cast<std::uint16_t>(net::CommandField::CStoreRq));
          command.set_us(net::tag::MessageId, message_id);
          command.set_us(net::tag::Priority, 0);
          command.set_us(net::tag::CommandDataSetType, net::kDataSetPresent);
          command.set_ui(net::tag::AffectedSopInstanceUid, item.header.sop_instance_uid);
          if (converted.empty()) {
            FileSource source(item.file, item.header.data_set_offset);
            co_await association->send(context->id, command, source);
          } else {
            net::SpanSource source(converted);
            co_await association->send(context->id, command, source);
          }
          auto response = co_await association->receive();
          if (!response) {
            fail(item.file, std::string("association ") + std::string(net::end_reason_name(association->end_reason())) +
                                " before the C-STORE-RSP");
            broken = true;
            continue;
          }
          const auto status = response->command.us(net::tag::Status).value_or(0xFFFF);
          switch (net::classify_status(status)) {
            case net::StatusClass::Success: ++summary.sent; break;
            case net::StatusClass::Warning: ++summary.warnings; break;
            default: {
              const auto comment = response->command.str(net::tag::ErrorComment);
              fail(item.file, fmt::format("refused with status {:#06x}{}", status, comment ? ": " + *comment : ""));
            }
          }
        } catch (const net::AssociationError& e) {
          fail(item.file, e.what());
          broken = true;
        } catch (const Error& e) {
          fail(item.file, e.what());
        }
      }
    }
    if (association->state() == net::State::Sta6) {
      co_await association->release();
    }
  }
  co_return summary;
}

StoreSummary store_files_blocking(const RemoteNode& remote, std::vector<fs::path> files,
                                  const net::AssociationSettings& settings) {
  return net::run_to_completion(store_files(remote, std::move(files), settings));
}

}  // namespace pacsnode::scu
