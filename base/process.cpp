#include "base/process.hpp"
#include "base/fd.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <grp.h>
#include <linux/close_range.h>
#include <pwd.h>
#include <sstream>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "base/error.hpp"
#include "base/log.hpp"
#include "base/user.hpp"

extern char** environ;

namespace pacsnode {
namespace {

// What the child reports through the CLOEXEC pipe when it fails before exec succeeds.
enum class ChildStage : int { Cwd = 1, Stdio, Groups, Gid, Uid, Exec, Limits, Parent };

struct ChildFailure {
  int stage = 0;
  int error = 0;
};

std::string errno_text(int error) { return std::strerror(error); }

// The PATH the child will see: an env override wins over ours.
std::string effective_path(const ProcessOptions& options) {
  for (const auto& [key, value] : options.env) {
    if (key == "PATH") return value;
  }
  const char* path = std::getenv("PATH");
  return path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
}

// Resolved in the parent so that the child only makes async-signal-safe calls.
std::string resolve_program(const std::string& program, const ProcessOptions& options) {
  if (program.find('/') != std::string::npos) return program;
  std::istringstream dirs(effective_path(options));
  std::string dir;
  int last_error = ENOENT;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    // Like execvp: a file that exists but may not be run is reported as such, unless a
    // later directory has a runnable one. A PATH entry we cannot enter is just skipped.
    struct stat st {};
    if (errno == EACCES && ::stat(candidate.c_str(), &st) == 0) last_error = EACCES;
  }
  throw Error(last_error == ENOENT ? ErrorCode::NotFound : ErrorCode::Internal,
              "cannot run " + program + ": " + errno_text(last_error));
}

using UserIdentity = UserAccount;

std::vector<std::string> build_environment(const ProcessOptions& options, const UserIdentity* user,
                                           const std::string& user_name) {
  std::vector<std::pair<std::string, std::string>> additions;
  if (user != nullptr) {
    // Like su: the child should not look for its dot-files in our home.
    additions.emplace_back("HOME", user->home);
    additions.emplace_back("USER", user_name);
    additions.emplace_back("LOGNAME", user_name);
  }
  additions.insert(additions.end(), options.env.begin(), options.env.end());

  std::vector<std::string> result;
  for (char** entry = options.clear_environment ? nullptr : environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    const std::string_view key = text.substr(0, text.find('='));
    const bool replaced = std::any_of(additions.begin(), additions.end(),
                                      [&](const auto& addition) { return addition.first == key; });
    if (!replaced) result.emplace_back(text);
  }
  // A key given twice: the last one wins.
  for (std::size_t i = 0; i < additions.size(); ++i) {
    const bool overridden_later = std::any_of(additions.begin() + static_cast<std::ptrdiff_t>(i) + 1, additions.end(),
                                              [&](const auto& later) { return later.first == additions[i].first; });
    if (!overridden_later) result.push_back(additions[i].first + "=" + additions[i].second);
  }
  return result;
}

std::vector<char*> to_pointers(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (auto& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

[[noreturn]] void child_fail(int pipe_fd, ChildStage stage) {
  ChildFailure failure{static_cast<int>(stage), errno};
  [[maybe_unused]] ssize_t ignored = ::write(pipe_fd, &failure, sizeof failure);
  ::_exit(127);
}

// Runs in the forked child: only async-signal-safe calls from here on.
struct ChildLimit {
  int resource = 0;
  rlimit value{};
};

// Marks every descriptor from 3 up close-on-exec. close_range (Linux 5.11) does it in one
// call; before that, the numbers are read from /proc/self/fd with getdents64, which, unlike
// opendir(), allocates nothing; without /proc, every number below `max_fd` is tried.
void close_on_exec_from_3(int max_fd) {
  if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
  const int dir = ::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    alignas(8) char buffer[4096];
    long n;
    while ((n = ::syscall(SYS_getdents64, dir, buffer, sizeof buffer)) > 0) {
      for (long offset = 0; offset < n;) {
        const auto* entry = reinterpret_cast<const struct dirent64*>(buffer + offset);
        int fd = 0;
        bool number = entry->d_name[0] != '\0';
        for (const char* c = entry->d_name; *c != '\0'; ++c) {
          if (*c < '0' || *c > '9') number = false;
          else fd = fd * 10 + (*c - '0');
        }
        if (number && fd > 2 && fd != dir) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
        offset += entry->d_reclen;
      }
    }
    ::close(dir);
    if (n == 0) return;
  }
  for (int fd = 3; fd < max_fd; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
}

struct ChildPlan {
  const char* program = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  int pipe_fd = -1;
  int output_fd = -1;
  int null_fd = -1;
  const char* cwd = nullptr;
  const UserIdentity* user = nullptr;
  bool new_group = false;
  bool die_with_parent = false;
  pid_t parent = 0;
  int max_fd = 1024;
  const ChildLimit* limits = nullptr;
  std::size_t limit_count = 0;
};

[[noreturn]] void child_main(const ChildPlan& plan) {
  const char* program = plan.program;
  char* const* argv = plan.argv;
  char* const* envp = plan.envp;
  const int pipe_fd = plan.pipe_fd;
  const int output_fd = plan.output_fd;
  const int null_fd = plan.null_fd;
  const char* cwd = plan.cwd;
  const UserIdentity* user = plan.user;
  const bool new_group = plan.new_group;
  // The parent may block or ignore signals (a signal-handling thread); a child such as the
  // postmaster must start with the defaults or it could not be stopped with SIGTERM.
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &default_action, nullptr);
  }
  sigset_t empty;
  ::sigemptyset(&empty);
  ::sigprocmask(SIG_SETMASK, &empty, nullptr);

  if (new_group) ::setpgid(0, 0);
  if (::dup2(null_fd, STDIN_FILENO) < 0) child_fail(pipe_fd, ChildStage::Stdio);
  if (output_fd >= 0) {
    if (::dup2(output_fd, STDOUT_FILENO) < 0 || ::dup2(output_fd, STDERR_FILENO) < 0) {
      child_fail(pipe_fd, ChildStage::Stdio);
    }
  }
  // Descriptors that someone opened without O_CLOEXEC (a lock file, a socket, a PostgreSQL
  // connection) must not leak into the child.
  close_on_exec_from_3(plan.max_fd);
  for (std::size_t i = 0; i < plan.limit_count; ++i) {
    if (::setrlimit(plan.limits[i].resource, &plan.limits[i].value) != 0) child_fail(pipe_fd, ChildStage::Limits);
  }

  if (user != nullptr) {
    if (::setgroups(user->groups.size(), user->groups.data()) != 0) child_fail(pipe_fd, ChildStage::Groups);
    if (::setgid(user->gid) != 0) child_fail(pipe_fd, ChildStage::Gid);
    if (::setuid(user->uid) != 0) child_fail(pipe_fd, ChildStage::Uid);
  }
  // After the user switch, which clears the parent-death signal. A parent that died before
  // the prctl would never send it: check.
  if (plan.die_with_parent) {
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != plan.parent) child_fail(pipe_fd, ChildStage::Parent);
  }
  // After the user switch, so that the new user's permissions are the ones checked.
  if (cwd != nullptr && ::chdir(cwd) != 0) child_fail(pipe_fd, ChildStage::Cwd);
  ::execve(program, argv, envp);
  child_fail(pipe_fd, ChildStage::Exec);
}

std::string describe_failure(const ChildFailure& failure, const std::string& program, const ProcessOptions& options) {
  const std::string reason = errno_text(failure.error);
  switch (static_cast<ChildStage>(failure.stage)) {
    case ChildStage::Cwd:
      return "cannot run " + program + ": cannot change to directory " + options.cwd->string() + ": " + reason;
    case ChildStage::Stdio:
      return "cannot run " + program + ": cannot redirect its standard streams: " + reason;
    case ChildStage::Groups:
    case ChildStage::Gid:
    case ChildStage::Uid:
      return "cannot run " + program + " as user " + *options.run_as_user + ": " + reason;
    case ChildStage::Limits:
      return "cannot run " + program + ": cannot set its resource limits: " + reason;
    case ChildStage::Parent:
      return "cannot run " + program + ": its parent went away while it started";
    case ChildStage::Exec:
      break;
  }
  return "cannot run " + program + ": " + reason;
}

std::filesystem::path temp_directory() {
  const char* tmp = std::getenv("TMPDIR");
  return tmp != nullptr && *tmp != '\0' ? std::filesystem::path(tmp) : std::filesystem::path("/tmp");
}

}  // namespace

Process Process::spawn(const std::vector<std::string>& argv, const ProcessOptions& options) {
  if (argv.empty() || argv[0].empty()) throw Error(ErrorCode::InvalidArgument, "cannot run an empty command");
  const std::string program = resolve_program(argv[0], options);

  std::optional<UserIdentity> user;
  if (options.run_as_user) {
    UserIdentity wanted = lookup_user(*options.run_as_user);
    if (::geteuid() == 0) {
      user = std::move(wanted);
    } else if (wanted.uid != ::geteuid()) {
      // Without root we cannot switch; running as ourselves instead would surprise the caller.
      throw Error(ErrorCode::InvalidArgument,
                  "cannot run " + argv[0] + " as user " + *options.run_as_user + ": only root can switch users");
    }
  }

  std::vector<std::string> args = argv;
  std::vector<char*> arg_pointers = to_pointers(args);
  std::vector<std::string> env = build_environment(options, user ? &*user : nullptr, options.run_as_user.value_or(""));
  std::vector<char*> env_pointers = to_pointers(env);
  const std::string cwd = options.cwd ? options.cwd->string() : std::string();

  Process process;
  Fd output;
  if (options.output_fd >= 0) {
    // The caller's descriptor; not ours to close.
  } else if (options.output_file) {
    output.reset(::open(options.output_file->c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (output.get() < 0) {
      throw Error(ErrorCode::Unavailable,
                  "cannot run " + argv[0] + ": cannot open " + options.output_file->string() + ": " + errno_text(errno));
    }
    process.capture_path_ = *options.output_file;
  } else if (options.capture_output) {
    std::string pattern = (temp_directory() / "pacsnode-output-XXXXXX").string();
    output.reset(::mkostemp(pattern.data(), O_CLOEXEC));
    if (output.get() < 0) {
      throw Error(ErrorCode::Unavailable, "cannot run " + argv[0] + ": cannot create a capture file in " +
                                              temp_directory().string() + ": " + errno_text(errno));
    }
    process.capture_path_ = pattern;
    process.owns_capture_ = true;
  }
  Fd null_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (null_fd.get() < 0) throw Error(ErrorCode::Internal, "cannot open /dev/null: " + errno_text(errno));

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw Error(ErrorCode::OutOfResources, "pipe: " + errno_text(errno));
  Fd pipe_read(pipe_fds[0]);
  Fd pipe_write(pipe_fds[1]);

  std::vector<ChildLimit> limits;
  const auto add_limit = [&](int resource, const std::optional<std::uint64_t>& value) {
    if (!value) return;
    const rlim_t limit = static_cast<rlim_t>(*value);
    limits.push_back(ChildLimit{resource, rlimit{limit, limit}});
  };
  add_limit(RLIMIT_AS, options.limits.address_space_bytes);
  add_limit(RLIMIT_NOFILE, options.limits.open_files);
  add_limit(RLIMIT_CORE, options.limits.core_bytes);
  add_limit(RLIMIT_FSIZE, options.limits.file_size_bytes);
  rlimit open_files{};
  ChildPlan plan;
  plan.program = program.c_str();
  plan.argv = arg_pointers.data();
  plan.envp = env_pointers.data();
  plan.pipe_fd = pipe_write.get();
  plan.output_fd = options.output_fd >= 0 ? options.output_fd : output.get();
  plan.null_fd = null_fd.get();
  plan.cwd = options.cwd ? cwd.c_str() : nullptr;
  plan.user = user ? &*user : nullptr;
  plan.new_group = options.new_process_group;
  plan.die_with_parent = options.die_with_parent;
  plan.parent = ::getpid();
  plan.max_fd = ::getrlimit(RLIMIT_NOFILE, &open_files) == 0 && open_files.rlim_cur != RLIM_INFINITY
                    ? static_cast<int>(std::min<rlim_t>(open_files.rlim_cur, 1 << 20))
                    : 1 << 20;
  plan.limits = limits.data();
  plan.limit_count = limits.size();

  const pid_t pid = ::fork();
  if (pid < 0) throw Error(ErrorCode::OutOfResources, "cannot run " + argv[0] + ": fork: " + errno_text(errno));
  if (pid == 0) child_main(plan);
  // Also set the group here: whichever of parent and child runs first, a stop() that
  // follows spawn() immediately must find the group.
  if (options.new_process_group) ::setpgid(pid, pid);
  process.pid_ = pid;
  process.group_ = options.new_process_group;
  process.kill_group_on_exit_ = options.new_process_group && options.kill_group_on_exit;

  // The write end closes on a successful exec; anything read means the child failed.
  pipe_write.reset();
  ChildFailure failure;
  ssize_t n;
  do {
    n = ::read(pipe_read.get(), &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof failure)) {
    process.wait();
    throw Error(failure.error == ENOENT ? ErrorCode::NotFound : ErrorCode::Internal,
                describe_failure(failure, argv[0], options));
  }
  return process;
}

Process::Process(Process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      exit_code_(std::exchange(other.exit_code_, std::nullopt)),
      term_signal_(std::exchange(other.term_signal_, std::nullopt)),
      group_(other.group_),
      kill_group_on_exit_(other.kill_group_on_exit_),
      capture_path_(std::move(other.capture_path_)),
      owns_capture_(std::exchange(other.owns_capture_, false)) {}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    Process doomed(std::move(*this));
    pid_ = std::exchange(other.pid_, -1);
    exit_code_ = std::exchange(other.exit_code_, std::nullopt);
    term_signal_ = std::exchange(other.term_signal_, std::nullopt);
    group_ = other.group_;
    kill_group_on_exit_ = other.kill_group_on_exit_;
    capture_path_ = std::move(other.capture_path_);
    owns_capture_ = std::exchange(other.owns_capture_, false);
  }
  return *this;
}

Process::~Process() {
  try {
    if (pid_ > 0 && !exit_code_) {
      log::warn("process {}: still running when its owner went away; stopping it", pid_);
      stop();
    }
  } catch (...) {
    // A destructor must not throw; stop() only fails on impossible waitpid errors.
  }
  if (owns_capture_) {
    std::error_code ignored;
    std::filesystem::remove(capture_path_, ignored);
  }
}

bool Process::running() {
  if (pid_ <= 0 || exit_code_) return false;
  if (kill_group_on_exit_) {
    // Look without reaping: while the leader is a zombie, its pid (the group's id) stays
    // taken, so the group signal below cannot reach an unrelated process.
    siginfo_t info{};
    const int rc = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
    if (rc == 0 && info.si_pid == 0) return true;
    if (rc == 0) ::kill(-pid_, SIGKILL);  // not after an error: the pid may be gone and reused
  }
  int status = 0;
  const pid_t rc = ::waitpid(pid_, &status, WNOHANG);
  if (rc == 0) return true;
  if (rc == pid_) {
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (WIFSIGNALED(status)) term_signal_ = WTERMSIG(status);
  } else {
    // ECHILD: someone else reaped it (SIGCHLD ignored); the real code is lost.
    exit_code_ = 255;
  }
  return false;
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return exit_code_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Short first sleeps so that quick programs return quickly, then at most 20 ms per poll.
  auto pause = std::chrono::microseconds(200);
  while (running()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(pause, deadline - now));
    pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(20));
  }
  return exit_code_;
}

void Process::kill(int signal) {
  if (pid_ <= 0 || exit_code_) return;
  ::kill(group_ ? -pid_ : pid_, signal);
}

int Process::stop(std::chrono::milliseconds grace, int signal) {
  if (pid_ <= 0) return exit_code_.value_or(-1);
  if (exit_code_) return *exit_code_;
  kill(signal);
  if (auto code = wait(grace)) return *code;
  log::warn("process {}: did not exit within {} ms of signal {}; killing it", pid_, grace.count(), signal);
  kill(SIGKILL);
  return wait().value_or(-1);
}

std::string Process::output() const {
  if (capture_path_.empty()) return {};
  std::ifstream in(capture_path_, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::pair<int, std::string> run_process(const std::vector<std::string>& argv, const ProcessOptions& options,
                                        std::chrono::milliseconds timeout) {
  ProcessOptions with_capture = options;
  if (!with_capture.output_file) with_capture.capture_output = true;
  Process process = Process::spawn(argv, with_capture);
  const auto code = process.wait(timeout);
  if (!code) {
    process.stop(std::chrono::seconds(2));
    throw Error(ErrorCode::Unavailable,
                fmt::format("{} did not finish within {} s", argv[0],
                            std::chrono::duration_cast<std::chrono::seconds>(timeout).count()));
  }
  return {*code, process.output()};
}

}  // namespace pacsnode
