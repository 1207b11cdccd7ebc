// LD_PRELOAD shim for the fault-injection tests (tests/integration/store_fault_itest.cpp):
// makes fdatasync(2) and fsync(2) fail with EIO, as a failing disk or a lost NFS server
// does. Configured by the environment of the process it is loaded into:
//   PACSNODE_FAULT_SYNC   which calls fail: "fdatasync", "fsync" or "both" (the default)
//   PACSNODE_FAULT_PATH   only descriptors whose path (/proc/self/fd/N) contains this text
//                         (default: every descriptor)
//   PACSNODE_FAULT_SKIP   the first N calls that match succeed (default 0)
//   PACSNODE_FAULT_COUNT  at most N calls fail, later ones succeed again (default: no limit)
//   PACSNODE_FAULT_WRITE  "EIO" or "ENOSPC": write(2) to a matching descriptor fails with
//                         that error instead (and syncs are left alone)
// Every injected failure is written to stderr ("sync_fault: fdatasync <path>: EIO"), so a
// test can tell that the shim was active. The shim removes LD_PRELOAD from the environment
// when it loads: the children of the process (pg_ctl, postgres, psql) run unaffected.
#include <dlfcn.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

using SyncFunction = int (*)(int);

struct Settings {
  bool fdatasync = true;
  bool fsync = true;
  const char* path = nullptr;
  long skip = 0;
  long count = -1;  // -1: no limit
  int write_error = 0;  // 0: write(2) is not touched
};

Settings g_settings;
std::atomic<long> g_matching{0};

long number_from(const char* name, long fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  return std::strtol(value, nullptr, 10);
}

__attribute__((constructor)) void load() {
  if (const char* which = std::getenv("PACSNODE_FAULT_SYNC")) {
    g_settings.fdatasync = std::strcmp(which, "fsync") != 0;
    g_settings.fsync = std::strcmp(which, "fdatasync") != 0;
  }
  const char* path = std::getenv("PACSNODE_FAULT_PATH");
  g_settings.path = path != nullptr && *path != '\0' ? strdup(path) : nullptr;
  g_settings.skip = number_from("PACSNODE_FAULT_SKIP", 0);
  g_settings.count = number_from("PACSNODE_FAULT_COUNT", -1);
  if (const char* w = std::getenv("PACSNODE_FAULT_WRITE"); w != nullptr && *w != '\0') {
    g_settings.write_error = std::strcmp(w, "ENOSPC") == 0 ? ENOSPC : EIO;
    g_settings.fdatasync = g_settings.fsync = false;
  }
  unsetenv("LD_PRELOAD");
}

SyncFunction next(const char* name) { return reinterpret_cast<SyncFunction>(dlsym(RTLD_NEXT, name)); }

// Whether this call fails; `where` receives the descriptor's path.
bool inject(int fd, char (&where)[PATH_MAX]) {
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(link, where, sizeof where - 1);
  where[n > 0 ? n : 0] = '\0';
  if (g_settings.path != nullptr && std::strstr(where, g_settings.path) == nullptr) return false;
  const long call = g_matching.fetch_add(1);
  return call >= g_settings.skip && (g_settings.count < 0 || call < g_settings.skip + g_settings.count);
}

int sync_or_fail(const char* name, bool enabled, int fd) {
  char where[PATH_MAX];
  if (enabled && inject(fd, where)) {
    std::fprintf(stderr, "sync_fault: %s %s: EIO\n", name, where);
    errno = EIO;
    return -1;
  }
  static SyncFunction real_fdatasync = next("fdatasync");
  static SyncFunction real_fsync = next("fsync");
  return (std::strcmp(name, "fdatasync") == 0 ? real_fdatasync : real_fsync)(fd);
}

}  // namespace

extern "C" int fdatasync(int fd) { return sync_or_fail("fdatasync", g_settings.fdatasync, fd); }
extern "C" int fsync(int fd) { return sync_or_fail("fsync", g_settings.fsync, fd); }

extern "C" ssize_t write(int fd, const void* buffer, size_t size) {
  using WriteFunction = ssize_t (*)(int, const void*, size_t);
  static WriteFunction real_write = reinterpret_cast<WriteFunction>(dlsym(RTLD_NEXT, "write"));
  if (g_settings.write_error != 0 && fd > 2) {
    char where[PATH_MAX];
    if (inject(fd, where)) {
      std::fprintf(stderr, "sync_fault: write %s: %s\n", where, std::strerror(g_settings.write_error));
      errno = g_settings.write_error;
      return -1;
    }
  }
  return real_write(fd, buffer, size);
}
