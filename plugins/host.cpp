#include "plugins/host.hpp"
#include "base/fd.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <linux/fs.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/duration.hpp"
#include "base/error.hpp"
#include "base/log.hpp"
#include "base/process.hpp"
#include "base/user.hpp"
#include "plugins/result.hpp"

namespace pacsnode::plugins {
namespace {

namespace fs = std::filesystem;
using Kind = RunOutcome::Kind;

// A failure while preparing or collecting: becomes a Failed outcome with this message.
struct JobError {
  std::string message;
};

std::string errno_text(int error) { return std::strerror(error); }

// The user the plug-in runs as, when the host switches to one.
struct Identity {
  std::optional<UserAccount> account;  // set: we are root and drop to it
  std::optional<std::string> requested;  // passed on to Process (it refuses a switch it cannot make)
};

// A UID in a file name: anything but letters, digits, '.' and '-' becomes '_', so that an
// odd UID from the index can never leave in/.
std::string file_name_part(const std::string& uid) {
  std::string part = uid.empty() ? "_" : uid;
  for (char& c : part) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '-';
    if (!ok) c = '_';
  }
  return part;
}

// Valid UTF-8 without NUL (the tail goes into a PostgreSQL text column): invalid bytes
// become U+FFFD; a sequence cut by the 64 KiB window at the start is dropped.
std::string clean_utf8(std::string_view in) {
  std::size_t i = 0;
  while (i < in.size() && i < 3 && (static_cast<unsigned char>(in[i]) & 0xC0) == 0x80) ++i;
  std::string out;
  out.reserve(in.size() - i);
  while (i < in.size()) {
    const auto c = static_cast<unsigned char>(in[i]);
    std::size_t length = 0;
    if (c < 0x80) length = 1;
    else if (c >= 0xC2 && c <= 0xDF) length = 2;
    else if (c >= 0xE0 && c <= 0xEF) length = 3;
    else if (c >= 0xF0 && c <= 0xF4) length = 4;
    bool ok = length > 0 && i + length <= in.size();
    for (std::size_t k = 1; ok && k < length; ++k) ok = (static_cast<unsigned char>(in[i + k]) & 0xC0) == 0x80;
    if (ok && length >= 3) {
      const auto c1 = static_cast<unsigned char>(in[i + 1]);
      if (c == 0xE0 && c1 < 0xA0) ok = false;  // overlong
      if (c == 0xED && c1 > 0x9F) ok = false;  // surrogate
      if (c == 0xF0 && c1 < 0x90) ok = false;  // overlong
      if (c == 0xF4 && c1 > 0x8F) ok = false;  // beyond U+10FFFF
    }
    if (!ok) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      if (c != 0) out.append(in.substr(i, length));
      i += length;
    }
  }
  return out;
}

// The last non-empty line of the output, short: it goes into the one-line message.
std::string last_line(const std::string& tail) {
  std::size_t end = tail.size();
  while (end > 0) {
    const std::size_t begin = tail.rfind('\n', end - 1);
    const std::size_t start = begin == std::string::npos ? 0 : begin + 1;
    std::string line = tail.substr(start, end - start);
    std::replace_if(line.begin(), line.end(), [](char c) { return c == '\r' || c == '\t'; }, ' ');
    while (!line.empty() && line.back() == ' ') line.pop_back();
    if (!line.empty()) {
      if (line.size() > 200) {
        std::size_t cut = 200;
        while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
        line = line.substr(0, cut) + "…";
      }
      return line;
    }
    if (begin == std::string::npos) break;
    end = begin;
  }
  return {};
}

std::string with_output(std::string message, const std::string& tail) {
  const std::string line = last_line(tail);
  if (!line.empty()) message += ": " + line;
  return message;
}

void make_dir(const fs::path& dir, mode_t mode) {
  if (::mkdir(dir.c_str(), mode) != 0) throw JobError{"cannot create " + dir.string() + ": " + errno_text(errno)};
  ::chmod(dir.c_str(), mode);  // whatever the umask
}

void give_to(const fs::path& path, const Identity& who) {
  if (!who.account) return;
  if (::lchown(path.c_str(), who.account->uid, who.account->gid) != 0) {
    throw JobError{"cannot hand " + path.string() + " to user " + who.account->name + ": " + errno_text(errno)};
  }
}

// A private copy the plug-in's user can read: a reflink where the file system has them.
void copy_for(const fs::path& from, const fs::path& to, const Identity& who) {
  Fd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) throw JobError{"input " + from.string() + ": " + errno_text(errno)};
  Fd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0440));
  if (out.get() < 0) throw JobError{"cannot create " + to.string() + ": " + errno_text(errno)};
  if (::ioctl(out.get(), FICLONE, in.get()) != 0) {
    char buffer[1 << 16];
    for (;;) {
      const ssize_t n = ::copy_file_range(in.get(), nullptr, out.get(), nullptr, 1 << 30, 0);
      if (n == 0) break;
      if (n > 0) continue;
      if (errno == EINTR) continue;
      if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) {
        throw JobError{"cannot copy " + from.string() + ": " + errno_text(errno)};
      }
      // No in-kernel copy between these file systems: the plain way, from where it stopped.
      ssize_t got;
      while ((got = ::read(in.get(), buffer, sizeof buffer)) != 0) {
        if (got < 0) {
          if (errno == EINTR) continue;
          throw JobError{"cannot read " + from.string() + ": " + errno_text(errno)};
        }
        for (ssize_t done = 0; done < got;) {
          const ssize_t put = ::write(out.get(), buffer + done, static_cast<std::size_t>(got - done));
          if (put < 0 && errno == EINTR) continue;
          if (put < 0) throw JobError{"cannot write " + to.string() + ": " + errno_text(errno)};
          done += put;
        }
      }
      break;
    }
  }
  if (who.account && ::fchown(out.get(), static_cast<uid_t>(-1), who.account->gid) != 0) {
    throw JobError{"cannot hand " + to.string() + " to user " + who.account->name + ": " + errno_text(errno)};
  }
  if (::fchmod(out.get(), 0440) != 0) throw JobError{"cannot chmod " + to.string() + ": " + errno_text(errno)};
}

// in/<name>: a hard link when the plug-in's user can read the stored file, a symbolic link
// across file systems, a copy when neither would be readable (a 0640 store owned by root
// while the plug-in runs as nobody). A link shares the stored file's inode: never chown it.
void place_input(const fs::path& stored, const fs::path& link, const Identity& who) {
  struct stat st {};
  if (::stat(stored.c_str(), &st) != 0) throw JobError{"input " + stored.string() + ": " + errno_text(errno)};
  if (!S_ISREG(st.st_mode)) throw JobError{"input " + stored.string() + ": not a regular file"};
  const bool readable = !who.account || user_may_access(*who.account, stored, R_OK, false);
  if (readable) {
    if (::link(stored.c_str(), link.c_str()) == 0) return;
    if (errno == EEXIST) throw JobError{"input " + stored.string() + ": given twice (" + link.filename().string() + ")"};
    if (errno == EXDEV && (!who.account || user_may_access(*who.account, stored, R_OK, true))) {
      if (::symlink(stored.c_str(), link.c_str()) == 0) return;
      throw JobError{"cannot link " + stored.string() + ": " + errno_text(errno)};
    }
    // EXDEV to an unreachable folder, EMLINK, EPERM (a file system without hard links): copy.
  }
  if (::access(link.c_str(), F_OK) == 0) {
    throw JobError{"input " + stored.string() + ": given twice (" + link.filename().string() + ")"};
  }
  copy_for(stored, link, who);
}

void write_file(const fs::path& path, const std::string& content) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (fd.get() < 0) throw JobError{"cannot create " + path.string() + ": " + errno_text(errno)};
  for (std::size_t done = 0; done < content.size();) {
    const ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw JobError{"cannot write " + path.string() + ": " + errno_text(errno)};
    done += static_cast<std::size_t>(n);
  }
  ::fchmod(fd.get(), 0644);
}

nlohmann::ordered_json keyword_object(const std::vector<std::pair<std::string, std::string>>& values) {
  nlohmann::ordered_json object = nlohmann::ordered_json::object();
  for (const auto& [key, value] : values) object[key] = value;
  return object;
}

std::string task_json(const RunRequest& request, const std::vector<std::string>& names) {
  nlohmann::ordered_json task;
  task["contract"] = kContractVersion;
  task["job"] = {{"id", request.job_id}, {"attempt", request.attempt}};
  task["plugin"] = {{"name", request.plugin.name}, {"command", request.plugin.command}};
  task["rule"] = {{"name", request.rule}, {"firing", request.firing}, {"amendment", request.firing > 1}};
  task["level"] = request.level;
  task["patient"] = keyword_object(request.patient);
  task["study"] = keyword_object(request.study);
  if (request.level != "study") task["series"] = keyword_object(request.series);
  nlohmann::ordered_json files = nlohmann::ordered_json::array();
  for (std::size_t i = 0; i < request.files.size(); ++i) {
    const InputFile& file = request.files[i];
    files.push_back({{"path", "in/" + names[i]},
                     {"SOPInstanceUID", file.sop_instance_uid},
                     {"SOPClassUID", file.sop_class_uid},
                     {"SeriesInstanceUID", file.series_instance_uid},
                     {"InstanceNumber", file.instance_number}});
  }
  task["files"] = std::move(files);
  // Bytes that are not UTF-8 (an odd character set in the index) become U+FFFD.
  return task.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

// Makes the job folder; returns the names of the files in in/, in request order.
std::vector<std::string> prepare(const RunRequest& request, const fs::path& job_dir, const Identity& who) {
  std::vector<std::string> names;
  names.reserve(request.files.size());
  make_dir(job_dir, 0700);
  if (who.account && !user_may_access(*who.account, job_dir.parent_path(), X_OK, true)) {
    throw JobError{"user " + who.account->name + " cannot reach " + job_dir.string() +
                   ": a parent folder is not searchable by it"};
  }
  make_dir(job_dir / "in", 0700);
  make_dir(job_dir / "out", 0700);
  make_dir(job_dir / "tmp", 0700);
  for (const InputFile& file : request.files) {
    names.push_back(file_name_part(file.series_instance_uid) + "#" + file_name_part(file.sop_instance_uid) + ".dcm");
    place_input(fs::absolute(file.path), job_dir / "in" / names.back(), who);
  }
  write_file(job_dir / "task.json", task_json(request, names));
  for (const char* dir : {"in", "out", "tmp"}) give_to(job_dir / dir, who);
  give_to(job_dir, who);
  return names;
}

std::string seconds_text(std::chrono::milliseconds duration) { return format_duration(duration); }

std::string signal_text(int signal) {
  const char* name = ::sigabbrev_np(signal);
  std::string text = name != nullptr ? fmt::format("killed by signal SIG{} ({})", name, signal)
                                     : fmt::format("killed by signal {}", signal);
  if (signal == SIGXFSZ) text += ": a file reached the 4 GiB limit";
  if (signal == SIGKILL) text += " (out of memory?)";
  return text;
}

// Opens <dir>/<name> as a regular file written by the plug-in: no symbolic link, no FIFO
// (O_NONBLOCK), no hard link to some other file. -1 with errno ENOENT when absent.
int open_output(int dir_fd, const char* name, const std::string& shown) {
  const int fd = ::openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return -1;
    if (errno == ELOOP) throw JobError{shown + ": a symbolic link, not a file"};
    throw JobError{shown + ": " + errno_text(errno)};
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw JobError{shown + ": not a regular file"};
  }
  if (st.st_nlink != 1) {
    ::close(fd);
    throw JobError{shown + ": a link to another file, not one the plug-in wrote"};
  }
  return fd;
}

std::optional<std::string> read_result_json(int out_fd) {
  Fd fd(open_output(out_fd, "result.json", "out/result.json"));
  if (fd.get() < 0) return std::nullopt;
  struct stat st {};
  ::fstat(fd.get(), &st);
  if (static_cast<std::uint64_t>(st.st_size) > kMaxResultBytes) {
    throw JobError{fmt::format("out/result.json: larger than {} bytes (got {})", kMaxResultBytes, st.st_size)};
  }
  std::string text(kMaxResultBytes + 1, '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw JobError{"out/result.json: " + errno_text(errno)};
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got > kMaxResultBytes) throw JobError{fmt::format("out/result.json: larger than {} bytes", kMaxResultBytes)};
  text.resize(got);
  return text;
}

// After exit 0: out/result.json (checked) and out/*.dcm.
void collect(const RunRequest& request, const fs::path& job_dir, RunOutcome& outcome) {
  Fd out_fd(::open((job_dir / "out").c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (out_fd.get() < 0) throw JobError{"out/: " + errno_text(errno) + " (the plug-in removed or replaced it)"};

  std::vector<fs::path> dicom;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(job_dir / "out", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() < 4 || name.compare(name.size() - 4, 4, ".dcm") != 0) continue;
    Fd fd(open_output(out_fd.get(), name.c_str(), "out/" + name));
    if (fd.get() >= 0) dicom.push_back(entry.path());
  }
  if (ec) throw JobError{"out/: " + ec.message()};
  std::sort(dicom.begin(), dicom.end());

  const std::optional<std::string> text = read_result_json(out_fd.get());
  if (text) {
    std::vector<std::string> uids;
    uids.reserve(request.files.size());
    for (const InputFile& file : request.files) uids.push_back(file.sop_instance_uid);
    try {
      outcome.result = parse_result(*text, uids);
    } catch (const Error& e) {
      std::string_view problem = e.what();
      if (problem.starts_with("result.json: ")) problem.remove_prefix(13);  // a problem of the whole file
      throw JobError{"out/result.json: " + std::string(problem)};
    }
    if (outcome.result->groups.empty() && dicom.empty()) {
      throw JobError{"out/result.json: Measurements: empty, and no DICOM objects in out/"};
    }
  } else if (dicom.empty()) {
    throw JobError{"no result.json and no DICOM output"};
  }
  outcome.dicom_outputs = std::move(dicom);
}

// Reads what is available (non-blocking) into the bounded tail; false at end of file.
bool drain(int fd, std::string& tail) {
  char buffer[16384];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      tail.append(buffer, static_cast<std::size_t>(n));
      if (tail.size() > 2 * kMaxOutputTail) tail.erase(0, tail.size() - kMaxOutputTail);
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

Identity identity_for(const RunRequest& request) {
  Identity who;
  who.requested = request.run_as_user;
  if (!who.requested && ::geteuid() == 0) who.requested = "nobody";
  if (who.requested && ::geteuid() == 0) who.account = lookup_user(*who.requested);
  if (who.account && who.account->uid == 0) who.account.reset();  // "root": nothing to drop
  return who;
}

void check_request(const RunRequest& request) {
  if (request.plugin.command.empty() || request.plugin.command[0].empty()) throw JobError{"the plug-in has no command"};
  if (request.level != "series" && request.level != "study" && request.level != "instance") {
    throw JobError{"level must be series, study or instance (got \"" + request.level + "\")"};
  }
  if (request.files.empty()) throw JobError{"no input instances"};
  if (request.work_root.empty()) throw JobError{"no work folder for plug-in jobs"};
  if (request.plugin.timeout <= std::chrono::milliseconds(0)) throw JobError{"the timeout must be positive"};
}

void run(const RunRequest& request, const std::atomic<bool>* stop, RunOutcome& outcome) {
  check_request(request);
  if (stop != nullptr && stop->load()) throw JobError{"stopped"};
  const Identity who = identity_for(request);

  const fs::path work_root = fs::absolute(request.work_root);
  std::error_code ec;
  if (!fs::exists(work_root, ec)) {
    fs::create_directories(work_root, ec);
    if (ec) throw JobError{"cannot create " + work_root.string() + ": " + ec.message()};
    ::chmod(work_root.c_str(), 0711);
  }
  const fs::path job_dir = work_root / fmt::format("{}-{}", request.job_id, request.attempt);
  if (fs::symlink_status(job_dir, ec).type() != fs::file_type::not_found) remove_job_dir(job_dir);
  outcome.job_dir = job_dir;
  prepare(request, job_dir, who);

  std::vector<std::string> argv = request.plugin.command;
  if (argv[0].find('/') != std::string::npos) argv[0] = fs::absolute(argv[0]).lexically_normal().string();

  const std::string in_dir = (job_dir / "in").string();
  const std::string out_dir = (job_dir / "out").string();
  const std::string tmp_dir = (job_dir / "tmp").string();
  const std::string job_id = std::to_string(request.job_id);
  const auto timeout_s = (request.plugin.timeout.count() + 999) / 1000;
  ProcessOptions options;
  options.clear_environment = true;
  options.env = {{"PATH", "/usr/local/bin:/usr/bin:/bin"},
                 {"HOME", tmp_dir},
                 {"LANG", "C.UTF-8"},
                 {"TMPDIR", tmp_dir},
                 {"PACSNODE_TASK", (job_dir / "task.json").string()},
                 {"PACSNODE_IN_DIR", in_dir},
                 {"PACSNODE_OUT_DIR", out_dir},
                 {"PACSNODE_JOB_ID", job_id},
                 {"MERCURE_IN_DIR", in_dir},
                 {"MERCURE_OUT_DIR", out_dir},
                 {"MONAI_INPUTPATH", in_dir},
                 {"MONAI_OUTPUTPATH", out_dir},
                 {"MONAI_JOBID", job_id},
                 {"MONAI_TIMEOUT", std::to_string(timeout_s)}};
  options.run_as_user = who.requested;
  options.cwd = job_dir;
  options.new_process_group = true;
  options.kill_group_on_exit = true;
  options.die_with_parent = true;
  if (request.plugin.memory_mb > 0) options.limits.address_space_bytes = request.plugin.memory_mb << 20;
  options.limits.open_files = 1024;
  options.limits.core_bytes = 0;
  options.limits.file_size_bytes = std::uint64_t{4} << 30;

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw JobError{"pipe: " + errno_text(errno)};
  Fd output_read(pipe_fds[0]);
  Fd output_write(pipe_fds[1]);
  ::fcntl(output_read.get(), F_SETFL, O_NONBLOCK);
  options.output_fd = output_write.get();

  const auto started = std::chrono::steady_clock::now();
  std::optional<Process> process;
  try {
    process.emplace(Process::spawn(argv, options));
  } catch (const std::exception& e) {
    throw JobError{e.what()};
  }
  output_write.reset();
  log::info("plugin={} job={} attempt={} pid={} started in {}", request.plugin.name, request.job_id, request.attempt,
            process->pid(), job_dir.string());

  const auto deadline = started + request.plugin.timeout;
  std::string tail;
  bool stopped = false;
  bool open = true;
  for (;;) {
    if (open) {
      pollfd p{output_read.get(), POLLIN, 0};
      ::poll(&p, 1, 20);
      open = drain(output_read.get(), tail);
    } else {
      ::poll(nullptr, 0, 20);
    }
    if (!process->running()) break;
    if (stop != nullptr && stop->load()) {
      stopped = true;
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      outcome.timed_out = true;
      break;
    }
  }
  if (stopped || outcome.timed_out) {
    process->kill(SIGKILL);
    process->wait();  // reaps; the rest of the group is killed again first
  }
  outcome.duration = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  // The group is dead; whatever left it (setsid) may still hold the pipe: read for a moment.
  const auto drain_until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (open && std::chrono::steady_clock::now() < drain_until) {
    pollfd p{output_read.get(), POLLIN, 0};
    ::poll(&p, 1, 20);
    open = drain(output_read.get(), tail);
  }
  if (tail.size() > kMaxOutputTail) tail.erase(0, tail.size() - kMaxOutputTail);
  outcome.output_tail = clean_utf8(tail);

  // Back to us: nothing of the plug-in's user can walk into the folder any more.
  if (who.account) {
    if (::lchown(job_dir.c_str(), ::geteuid(), ::getegid()) == 0) ::chmod(job_dir.c_str(), 0700);
  }
  try {
    write_file(job_dir / "plugin.log", outcome.output_tail);
  } catch (const JobError& e) {
    log::warn("plugin={} job={}: {}", request.plugin.name, request.job_id, e.message);
  }

  if (stopped) {
    outcome.kind = Kind::Failed;
    outcome.message = "stopped";
    return;
  }
  if (outcome.timed_out) {
    outcome.kind = Kind::Failed;
    outcome.message = "timed out after " + seconds_text(request.plugin.timeout);
    return;
  }
  if (const auto signal = process->term_signal()) {
    outcome.kind = Kind::Failed;
    outcome.message = with_output(signal_text(*signal), outcome.output_tail);
    return;
  }
  const int code = process->wait().value_or(255);
  outcome.exit_code = code;
  switch (code) {
    case kExitDone:
      collect(request, job_dir, outcome);
      outcome.kind = Kind::Done;
      outcome.message = "done";
      return;
    case kExitNotApplicable:
      outcome.kind = Kind::NotApplicable;
      outcome.message = with_output("not applicable", outcome.output_tail);
      return;
    case kExitTemporaryFailure:
      outcome.kind = Kind::TemporaryFailure;
      outcome.message = with_output("temporary failure (exit code 75)", outcome.output_tail);
      return;
    default:
      outcome.kind = Kind::Failed;
      outcome.message = with_output(fmt::format("exit code {}", code), outcome.output_tail);
      return;
  }
}

}  // namespace

const char* to_string(RunOutcome::Kind kind) {
  switch (kind) {
    case Kind::Done: return "done";
    case Kind::NotApplicable: return "not-applicable";
    case Kind::TemporaryFailure: return "temporary-failure";
    case Kind::Failed: return "failed";
  }
  return "failed";
}

RunOutcome run_plugin(const RunRequest& request, const std::atomic<bool>* stop) {
  RunOutcome outcome;
  try {
    run(request, stop, outcome);
  } catch (const JobError& e) {
    outcome.kind = Kind::Failed;
    outcome.message = e.message;
    outcome.result.reset();
    outcome.dicom_outputs.clear();
  } catch (const std::exception& e) {
    outcome.kind = Kind::Failed;
    outcome.message = e.what();
    outcome.result.reset();
    outcome.dicom_outputs.clear();
  }
  const auto line = fmt::format("plugin={} job={} attempt={} outcome={} exit={} duration={}ms: {}", request.plugin.name,
                                request.job_id, request.attempt, to_string(outcome.kind),
                                outcome.exit_code ? std::to_string(*outcome.exit_code) : std::string("-"),
                                outcome.duration.count(), outcome.message);
  if (outcome.kind == Kind::Failed) {
    log::warn("{}", line);
  } else {
    log::info("{}", line);
  }
  return outcome;
}

namespace {

// Owner rwx on every folder below, so that a plug-in that chmod'ed its folders to 0 cannot
// keep a node that does not run as root from removing them.
void open_up(const fs::path& path) {
  std::error_code ec;
  if (fs::symlink_status(path, ec).type() != fs::file_type::directory) return;
  fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ec);
  for (const auto& entry : fs::directory_iterator(path, ec)) open_up(entry.path());
}

}  // namespace

void remove_job_dir(const fs::path& job_dir) noexcept {
  try {
    std::error_code ec;
    fs::remove_all(job_dir, ec);
    if (!ec) return;
    open_up(job_dir);
    fs::remove_all(job_dir, ec);
    if (ec) log::warn("plugin job folder {}: cannot remove: {}", job_dir.string(), ec.message());
  } catch (const std::exception& e) {
    log::warn("plugin job folder {}: cannot remove: {}", job_dir.string(), e.what());
  }
}

}  // namespace pacsnode::plugins
