#pragma once
// Local user accounts: who a child process runs as, and what that user may read.
#include <filesystem>
#include <string>
#include <sys/types.h>
#include <vector>

namespace pacsnode {

struct UserAccount {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups, the primary one included
  std::string home;
};

// Looks `name` up in the user database (and its groups). Throws Error(NotFound) when unknown.
UserAccount lookup_user(const std::string& name);

// Whether `user` may access `path` with `mode` (R_OK, W_OK, X_OK bits), judged from the
// permission bits (root may do anything); with `check_ancestors` every parent folder must
// be searchable by it too. A path that cannot be stat'ed counts as not accessible.
bool user_may_access(const UserAccount& user, const std::filesystem::path& path, int mode, bool check_ancestors);

}  // namespace pacsnode
