#include <doctest/doctest.h>

#include <csignal>
#include <fcntl.h>
#include <sstream>
#include <fstream>
#include <thread>
#include <unistd.h>

#include "base/error.hpp"
#include "base/process.hpp"
#include "tests/support/temp_dir.hpp"

using namespace std::chrono_literals;
using pacsnode::Process;
using pacsnode::ProcessOptions;

TEST_CASE("process: exit codes of true and false") {
  auto ok = Process::spawn({"true"});
  CHECK(ok.wait(10s) == 0);
  CHECK_FALSE(ok.running());
  auto fails = Process::spawn({"false"});
  CHECK(fails.wait(10s) == 1);
}

TEST_CASE("process: captures stdout and stderr and the exit code") {
  auto [code, output] = pacsnode::run_process({"sh", "-c", "echo hi; echo err >&2; exit 3"}, {}, 10s);
  CHECK(code == 3);
  CHECK(output == "hi\nerr\n");
}

TEST_CASE("process: environment additions, cwd and output file") {
  pacsnode::test::TempDir dir;
  ProcessOptions options;
  options.env = {{"PACSNODE_TEST_VALUE", "one"}, {"PACSNODE_TEST_VALUE", "two"}};
  options.cwd = dir.path();
  options.output_file = dir.path() / "out.log";
  auto process = Process::spawn({"sh", "-c", "echo \"$PACSNODE_TEST_VALUE $(pwd)\""}, options);
  CHECK(process.wait(10s) == 0);
  const std::string expected = "two " + std::filesystem::canonical(dir.path()).string() + "\n";
  CHECK(process.output() == expected);
  std::ifstream file(dir.path() / "out.log");
  std::string line;
  std::getline(file, line);
  CHECK(line + "\n" == expected);
}

TEST_CASE("process: wait times out, stop terminates the whole group") {
  ProcessOptions options;
  options.new_process_group = true;
  auto process = Process::spawn({"sh", "-c", "sleep 10 & sleep 10; wait"}, options);
  const auto started = std::chrono::steady_clock::now();
  CHECK_FALSE(process.wait(100ms).has_value());
  CHECK(process.running());
  CHECK(process.stop(5s) == 128 + SIGTERM);
  CHECK(std::chrono::steady_clock::now() - started < 5s);
  CHECK_FALSE(process.running());
  // The background sleep was in the same group and got the signal too. It is an orphan
  // now, reaped by init at its own pace: poll briefly.
  bool group_gone = false;
  for (int i = 0; i < 200 && !group_gone; ++i) {
    group_gone = ::kill(-process.pid(), 0) == -1;
    if (!group_gone) std::this_thread::sleep_for(10ms);
  }
  CHECK(group_gone);
}

TEST_CASE("process: stop escalates to SIGKILL when TERM is ignored") {
  ProcessOptions options;
  options.capture_output = true;
  auto process = Process::spawn({"sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"}, options);
  // Signal only once the shell has installed its trap.
  for (int i = 0; i < 500 && process.output().empty(); ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(process.output() == "ready\n");
  CHECK(process.stop(300ms) == 128 + SIGKILL);
}

TEST_CASE("process: destructor stops a running child") {
  pid_t pid = -1;
  {
    auto process = Process::spawn({"sleep", "10"});
    pid = process.pid();
    CHECK(::kill(pid, 0) == 0);
  }
  CHECK(::kill(pid, 0) == -1);
}

TEST_CASE("process: a missing program throws with the reason") {
  CHECK_THROWS_WITH_AS(Process::spawn({"pacsnode-no-such-program"}),
                       "cannot run pacsnode-no-such-program: No such file or directory", pacsnode::Error);
  CHECK_THROWS_WITH_AS(Process::spawn({"/nonexistent/program"}),
                       "cannot run /nonexistent/program: No such file or directory", pacsnode::Error);
  pacsnode::test::TempDir dir;
  ProcessOptions options;
  options.cwd = dir.path() / "missing";
  CHECK_THROWS_AS(Process::spawn({"true"}, options), pacsnode::Error);
}

TEST_CASE("process: run_as_user switches user when root") {
  if (::geteuid() != 0) {
    ProcessOptions options;
    options.run_as_user = "root";
    CHECK_THROWS_AS(Process::spawn({"true"}, options), pacsnode::Error);
    return;
  }
  ProcessOptions options;
  options.run_as_user = "nobody";
  auto [code, output] = pacsnode::run_process({"id", "-un"}, options, 10s);
  CHECK(code == 0);
  CHECK(output == "nobody\n");
}

TEST_CASE("process: resource limits, a clean environment and the caller's output descriptor") {
  pacsnode::test::TempDir dir;
  const int out = ::open((dir.path() / "out.txt").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  REQUIRE(out >= 0);
  ::setenv("PACSNODE_TEST_INHERITED", "yes", 1);
  ProcessOptions options;
  options.clear_environment = true;
  options.env = {{"ONLY", "this"}};
  options.output_fd = out;
  options.limits.open_files = 77;
  options.limits.core_bytes = 0;
  options.limits.file_size_bytes = 1 << 20;
  options.limits.address_space_bytes = std::uint64_t{512} << 20;
  auto process = Process::spawn({"/bin/sh", "-c", "ulimit -n; ulimit -c; ulimit -f; ulimit -v; env | grep -v '^PWD=' | sort"}, options);
  CHECK(process.wait(10s) == 0);
  ::close(out);
  ::unsetenv("PACSNODE_TEST_INHERITED");
  std::ifstream in(dir.path() / "out.txt");
  std::stringstream text;
  text << in.rdbuf();
  // dash: ulimit -f counts 512-byte blocks, -v KiB.
  CHECK(text.str() == "77\n0\n2048\n524288\nONLY=this\n");
}

TEST_CASE("process: kill_group_on_exit ends what the leader left behind; term_signal") {
  pacsnode::test::TempDir dir;
  ProcessOptions options;
  options.new_process_group = true;
  options.kill_group_on_exit = true;
  const auto pid_file = dir.path() / "child.pid";
  auto process = Process::spawn({"/bin/sh", "-c", "sleep 1000 & echo $! > " + pid_file.string()}, options);
  CHECK(process.wait(10s) == 0);
  CHECK_FALSE(process.term_signal().has_value());
  pid_t child = 0;
  std::ifstream(pid_file) >> child;
  REQUIRE(child > 0);
  bool gone = false;
  for (int i = 0; i < 500 && !gone; ++i) {
    std::ifstream stat("/proc/" + std::to_string(child) + "/stat");
    std::string line;
    std::getline(stat, line);
    gone = !stat || line.find(") Z") != std::string::npos;
    if (!gone) std::this_thread::sleep_for(10ms);
  }
  CHECK(gone);

  auto crashing = Process::spawn({"/bin/sh", "-c", "kill -SEGV $$"}, options);
  CHECK(crashing.wait(10s) == 128 + SIGSEGV);
  CHECK(crashing.term_signal() == SIGSEGV);
}
