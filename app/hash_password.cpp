// `pacsnode hash-password`: reads a password from standard input and prints its hash for
// [[security.users]] password_hash.
#include <termios.h>
#include <unistd.h>

#include <csignal>
#include <iostream>
#include <optional>
#include <string>

#include "app/commands.hpp"
#include "base/password.hpp"

namespace pacsnode::app {
namespace {

// Terminal echo off while a password is typed, restored on every way out, Ctrl-C included
// (a terminal left without echo is a nasty surprise).
class NoEcho {
 public:
  NoEcho() {
    if (::tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios quiet = saved_;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;  // the Enter key still moves to the next line
    active_ = 1;
    for (int s : kSignals) std::signal(s, &NoEcho::on_signal);
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  ~NoEcho() {
    if (active_ == 0) return;
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
    for (int s : kSignals) std::signal(s, SIG_DFL);
    active_ = 0;
  }
  NoEcho(const NoEcho&) = delete;
  NoEcho& operator=(const NoEcho&) = delete;

 private:
  static constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  static void on_signal(int s) {
    if (active_ != 0) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);  // async-signal-safe
    std::signal(s, SIG_DFL);
    std::raise(s);
  }
  // One NoEcho at a time; statics so that the signal handler can reach them.
  static inline termios saved_{};
  static inline volatile std::sig_atomic_t active_ = 0;
};

// One line of standard input without its newline; nullopt when input ends before any.
std::optional<std::string> read_line(bool terminal, const char* prompt) {
  std::optional<NoEcho> no_echo;
  if (terminal) {
    std::cerr << prompt << std::flush;
    no_echo.emplace();
  }
  std::string line;
  if (!std::getline(std::cin, line)) return std::nullopt;
  return line;
}

}  // namespace

int run_hash_password() {
  const bool terminal = ::isatty(STDIN_FILENO) == 1;
  const auto password = read_line(terminal, "Password: ");
  if (!password) {
    std::cerr << "pacsnode hash-password: no password on standard input\n";
    return kExitConfig;
  }
  if (password->empty()) {
    std::cerr << "pacsnode hash-password: the password is empty\n";
    return kExitConfig;
  }
  if (terminal) {
    const auto again = read_line(terminal, "Again: ");
    if (!again || *again != *password) {
      std::cerr << "pacsnode hash-password: the two passwords differ\n";
      return kExitFailure;
    }
  }
  try {
    std::cout << hash_password(*password) << "\n";
  } catch (const std::exception& e) {
    std::cerr << "pacsnode hash-password: " << e.what() << "\n";
    return kExitFailure;
  }
  return 0;
}

}  // namespace pacsnode::app
