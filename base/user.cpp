#include "base/user.hpp"

#include <algorithm>
#include <cerrno>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.hpp"

namespace pacsnode {

UserAccount lookup_user(const std::string& name) {
  long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buffer(size > 0 ? static_cast<std::size_t>(size) : 16384);
  passwd entry{};
  passwd* found = nullptr;
  int rc;
  while ((rc = ::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found)) == ERANGE) {
    buffer.resize(buffer.size() * 2);
  }
  if (rc != 0 || found == nullptr) {
    throw Error(ErrorCode::NotFound, "cannot run as user " + name + ": no such user");
  }
  UserAccount user{name, entry.pw_uid, entry.pw_gid, {}, entry.pw_dir != nullptr ? entry.pw_dir : "/"};
  // initgroups() reads /etc/group, which is not safe after fork(): the list is computed here.
  int count = 32;
  user.groups.resize(static_cast<std::size_t>(count));
  while (::getgrouplist(name.c_str(), user.gid, user.groups.data(), &count) < 0) {
    user.groups.resize(static_cast<std::size_t>(count) * 2);
    count = static_cast<int>(user.groups.size());
  }
  user.groups.resize(static_cast<std::size_t>(count));
  return user;
}

namespace {

bool bits_allow(const UserAccount& user, const struct stat& st, int mode) {
  if (user.uid == 0) return (mode & X_OK) == 0 || S_ISDIR(st.st_mode) || (st.st_mode & 0111) != 0;
  unsigned shift = 0;  // "other"
  if (st.st_uid == user.uid) {
    shift = 6;
  } else if (st.st_gid == user.gid || std::find(user.groups.begin(), user.groups.end(), st.st_gid) != user.groups.end()) {
    shift = 3;
  }
  const unsigned granted = (static_cast<unsigned>(st.st_mode) >> shift) & 7U;
  unsigned wanted = 0;
  if (mode & R_OK) wanted |= 4U;
  if (mode & W_OK) wanted |= 2U;
  if (mode & X_OK) wanted |= 1U;
  return (granted & wanted) == wanted;
}

}  // namespace

bool user_may_access(const UserAccount& user, const std::filesystem::path& path, int mode, bool check_ancestors) {
  const std::filesystem::path absolute = path.is_absolute() ? path : std::filesystem::absolute(path);
  struct stat st {};
  if (::stat(absolute.c_str(), &st) != 0 || !bits_allow(user, st, mode)) return false;
  if (!check_ancestors) return true;
  for (std::filesystem::path dir = absolute.parent_path();; dir = dir.parent_path()) {
    if (::stat(dir.c_str(), &st) != 0 || !bits_allow(user, st, X_OK)) return false;
    if (dir == dir.root_path() || dir.empty()) break;
  }
  return true;
}

}  // namespace pacsnode
