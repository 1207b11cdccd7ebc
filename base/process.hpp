#pragma once
// Child processes: spawn with arguments, optional environment additions, optional
// unprivileged user, output captured to a file or inherited; resource limits; wait with a
// timeout; stop. Used by the embedded PostgreSQL (initdb, pg_ctl), the plug-in host
// (plugins/host.cpp) and the integration tests.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace pacsnode {

// setrlimit() in the child before exec, soft and hard limit alike; unset: inherited.
struct ResourceLimits {
  std::optional<std::uint64_t> address_space_bytes;  // RLIMIT_AS
  std::optional<std::uint64_t> open_files;           // RLIMIT_NOFILE
  std::optional<std::uint64_t> core_bytes;           // RLIMIT_CORE
  std::optional<std::uint64_t> file_size_bytes;      // RLIMIT_FSIZE
};

struct ProcessOptions {
  std::vector<std::pair<std::string, std::string>> env;  // added to (or replacing in) the inherited environment
  bool clear_environment = false;  // nothing inherited: the environment is `env` only (and the user's HOME, USER, LOGNAME)
  std::optional<std::string> run_as_user;   // setgid/initgroups/setuid to this user before exec (needs root)
  std::optional<std::filesystem::path> cwd;
  std::optional<std::filesystem::path> output_file;  // stdout+stderr appended here; else inherited
  bool capture_output = false;  // stdout+stderr captured into Process::output() (via a temp file)
  int output_fd = -1;  // stdout+stderr to this descriptor (the caller keeps and closes it); wins over the two above
  bool new_process_group = false;  // so that stop() can signal the whole group
  // With new_process_group: when the leader exits, SIGKILL whatever is left in its group
  // before the leader is reaped (its pid, the group's id, cannot be reused meanwhile).
  bool kill_group_on_exit = false;
  bool die_with_parent = false;  // PR_SET_PDEATHSIG(SIGKILL): killed when the spawning thread ends
  ResourceLimits limits;
};

class Process {
 public:
  // Starts argv[0] (looked up in PATH when it has no '/'). Throws std::runtime_error if the
  // program cannot be started (not found, fork failed, user unknown).
  static Process spawn(const std::vector<std::string>& argv, const ProcessOptions& options = {});

  Process(Process&&) noexcept;
  Process& operator=(Process&&) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();  // stops a still-running child (SIGTERM, then SIGKILL after 5 s) and reaps it

  pid_t pid() const { return pid_; }
  bool running();  // reaps if it has exited
  // Waits for exit; returns the exit code (128+signal if killed), or nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout = std::chrono::hours(24));
  // SIGTERM (or `signal`), wait up to `grace`, then SIGKILL. Returns the exit code.
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(5), int signal = 15);
  void kill(int signal);  // send a signal without waiting
  // The signal that killed it, once it has exited that way.
  std::optional<int> term_signal() const { return term_signal_; }
  // Captured stdout+stderr so far (capture_output) or the output file's content.
  std::string output() const;

 private:
  Process() = default;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::optional<int> term_signal_;
  bool group_ = false;
  bool kill_group_on_exit_ = false;
  std::filesystem::path capture_path_;
  bool owns_capture_ = false;
};

// Runs a program to completion and returns {exit code, stdout+stderr}.
// Throws std::runtime_error if it cannot start or does not finish within `timeout`.
std::pair<int, std::string> run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {},
                                        std::chrono::milliseconds timeout = std::chrono::minutes(5));

}  // namespace pacsnode
