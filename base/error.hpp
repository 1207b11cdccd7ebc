#pragma once
// The one error type for domain failures. It carries a code that one function (in scp/)
// maps to a DIMSE status, and a message for the log.
#include <stdexcept>
#include <string>

namespace pacsnode {

enum class ErrorCode {
  Internal,          // a bug or an unexpected library condition
  InvalidArgument,   // bad input from a user or a peer
  NotFound,
  Unavailable,       // a resource (disk, database, peer) cannot be reached now; retryable
  OutOfResources,    // disk full, too many associations
  Config,            // configuration file problem
  Protocol,          // a peer broke the DICOM protocol
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace pacsnode
