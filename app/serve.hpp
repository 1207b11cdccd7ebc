#pragma once
#include "app/config.hpp"

namespace pacsnode::app {

// `pacsnode serve`: lock the data directory, bring up the database and migrate it, listen
// for DICOM until SIGINT/SIGTERM, then shut down gracefully. Returns the exit code.
int serve(const Config& config);

}  // namespace pacsnode::app
