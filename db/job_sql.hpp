#pragma once
// For db/*.cpp only (it includes libpqxx): what job_queue.cpp shares with stability.cpp,
// whose sweep transaction inserts the jobs of a firing.
#include <pqxx/pqxx>

#include "db/job_queue.hpp"

namespace pacsnode::db::detail {

// Inserts the job (and its "create" event) unless its idempotency key exists; returns
// whether it did.
bool insert_job(pqxx::transaction_base& tx, const JobSpec& spec);

}  // namespace pacsnode::db::detail
