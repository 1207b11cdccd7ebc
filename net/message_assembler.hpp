#pragma once
// Reassembles DIMSE messages from PDVs (PS3.7 §9.3, PS3.8 Annex E): command fragments
// first, then data set fragments, one presentation context per message. Pure; the
// Association feeds it and acts on what it returns.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "net/command_set.hpp"
#include "net/pdu.hpp"

namespace pacsnode::net {

class MessageAssembler {
 public:
  // A command set larger than this is refused (no real command set comes near it).
  static constexpr std::size_t kMaxCommandBytes = 64 * 1024;

  enum class Kind {
    NeedMore,          // a command fragment that was not the last one
    Message,           // command complete, no data set follows: message complete
    CommandThenData,   // command complete, its data set follows
    DataFragment,      // a data set fragment (not the last)
    DataLast,          // the last data set fragment: message complete
    Error,             // protocol violation: abort the association
  };
  struct Step {
    Kind kind = Kind::NeedMore;
    std::span<const std::uint8_t> data;  // DataFragment / DataLast
    std::string error;                   // Error
  };

  // `accepted(pc_id)` must be true for presentation contexts accepted on this association.
  template <typename IsAccepted>
  Step feed(const Pdv& pdv, IsAccepted&& accepted) {
    if (!accepted(pdv.pc_id)) return error("PDV on presentation context " + std::to_string(pdv.pc_id) + " that was not accepted");
    return feed_accepted(pdv);
  }

  // The command of the message being assembled (valid after Message / CommandThenData).
  const CommandSet& command() const { return command_; }
  CommandSet take_command() { return std::move(command_); }
  std::uint8_t pc_id() const { return pc_id_; }
  // True between CommandThenData and DataLast.
  bool in_data_set() const { return phase_ == Phase::DataSet; }
  bool idle() const { return phase_ == Phase::Idle; }

 private:
  enum class Phase { Idle, Command, DataSet };
  Step feed_accepted(const Pdv& pdv);
  Step error(std::string message);

  Phase phase_ = Phase::Idle;
  std::uint8_t pc_id_ = 0;
  std::vector<std::uint8_t> command_bytes_;
  CommandSet command_;
};

}  // namespace pacsnode::net
