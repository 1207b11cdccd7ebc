#pragma once
// The SQL migrations compiled into this binary (generated from db/migrations/*.sql by
// cmake/embed_migrations.cmake), in version order.
#include <span>
#include <string_view>

namespace pacsnode::db::detail {

struct EmbeddedMigration {
  int version;
  std::string_view name;  // file name without ".sql", e.g. "0001_index"
  std::string_view sql;
};

std::span<const EmbeddedMigration> embedded_migrations();

}  // namespace pacsnode::db::detail
