#pragma once
// A throw-away PostgreSQL cluster for *_pgtest.cpp: a fresh temporary directory and an
// embedded cluster started in it; stopped and removed when the object goes away, also when
// the test fails.
#include <string>

#include "app/embedded_postgres.hpp"
#include "tests/support/temp_dir.hpp"

namespace pacsnode::test {

// Runs SQL through psql against `conninfo` and returns its unaligned, tuples-only output
// without the trailing newline ("a|b\nc|d"). Throws std::runtime_error if psql fails.
std::string psql(const app::EmbeddedPostgres& postgres, const std::string& conninfo, const std::string& sql);

class TestCluster {
 public:
  TestCluster();
  TestCluster(const TestCluster&) = delete;
  TestCluster& operator=(const TestCluster&) = delete;

  app::EmbeddedPostgres& postgres() { return postgres_; }
  const TempDir& dir() const { return dir_; }
  std::string conninfo() const { return postgres_.conninfo(); }
  std::string psql(const std::string& sql) const { return test::psql(postgres_, conninfo(), sql); }

 private:
  TempDir dir_;  // declared first: removed only after the cluster has stopped
  app::EmbeddedPostgres postgres_;
};

}  // namespace pacsnode::test
