#include "db/node_activity.hpp"

#include "db/pooled_connection.hpp"

namespace pacsnode::db {
namespace {

#define PN_UTC(column) "coalesce(to_char(" column " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')"

}  // namespace

std::vector<MinuteCount> arrivals_per_minute(ConnectionPool& pool, int minutes) {
  // A range scan of instance_received_at, then one row per minute of the window.
  static constexpr const char* kSql =
      "WITH w AS (SELECT date_trunc('minute', now()) - ($1::int - 1) * interval '1 minute' AS start),"
      " c AS (SELECT date_trunc('minute', received_at) AS m, count(*) AS n FROM instance, w"
      "       WHERE received_at >= w.start GROUP BY 1)"
      " SELECT " PN_UTC("g.m") ", coalesce(c.n, 0)"
      " FROM w, generate_series(w.start, date_trunc('minute', now()), interval '1 minute') AS g(m)"
      " LEFT JOIN c ON c.m = g.m ORDER BY g.m";
  return in_transaction(pool, "arrivals per minute", [&](pqxx::work& tx) {
    std::vector<MinuteCount> out;
    for (const auto& r : tx.exec_params(kSql, minutes)) out.push_back({r[0].c_str(), r[1].as<std::int64_t>()});
    return out;
  });
}

std::vector<std::string> rules_last_fired(ConnectionPool& pool, const std::vector<std::string>& rules) {
  // The job idempotency key's index starts with the rule: one index range per rule.
  static constexpr const char* kSql = "SELECT " PN_UTC("max(created_at)") " FROM job WHERE rule = $1";
  return in_transaction(pool, "rules last fired", [&](pqxx::work& tx) {
    std::vector<std::string> out;
    out.reserve(rules.size());
    for (const auto& rule : rules) out.push_back(tx.exec_params1(kSql, rule)[0].c_str());
    return out;
  });
}

std::optional<TargetHealth> target_health(ConnectionPool& pool, const std::string& kind, const std::string& target) {
  static constexpr const char* kSql =
      "SELECT failures, " PN_UTC("CASE WHEN blocked_until > now() THEN blocked_until END") ", last_error, " PN_UTC(
          "updated_at") " FROM job_target WHERE kind = $1 AND target = $2";
  return in_transaction(pool, "target health", [&](pqxx::work& tx) -> std::optional<TargetHealth> {
    const auto rows = tx.exec_params(kSql, kind, target);
    if (rows.empty()) return std::nullopt;
    return TargetHealth{rows[0][0].as<int>(), rows[0][1].c_str(), rows[0][2].c_str(), rows[0][3].c_str()};
  });
}

#undef PN_UTC

}  // namespace pacsnode::db
