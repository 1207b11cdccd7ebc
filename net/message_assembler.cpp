#include "net/message_assembler.hpp"

namespace pacsnode::net {

MessageAssembler::Step MessageAssembler::error(std::string message) {
  phase_ = Phase::Idle;
  command_bytes_.clear();
  return Step{Kind::Error, {}, std::move(message)};
}

MessageAssembler::Step MessageAssembler::feed_accepted(const Pdv& pdv) {
  if (phase_ != Phase::Idle && pdv.pc_id != pc_id_) {
    return error("PDV on presentation context " + std::to_string(pdv.pc_id) + " inside a message on context " +
                 std::to_string(pc_id_));
  }
  if (pdv.is_command()) {
    if (phase_ == Phase::DataSet) return error("command PDV before the data set of the previous message was complete");
    if (phase_ == Phase::Idle) {
      phase_ = Phase::Command;
      pc_id_ = pdv.pc_id;
      command_bytes_.clear();
    }
    if (command_bytes_.size() + pdv.data.size() > kMaxCommandBytes) return error("command set larger than 64 KiB");
    command_bytes_.insert(command_bytes_.end(), pdv.data.begin(), pdv.data.end());
    if (!pdv.is_last()) return Step{Kind::NeedMore, {}, {}};
    auto decoded = CommandSet::decode(command_bytes_);
    command_bytes_.clear();
    if (!decoded) return error("command set cannot be decoded");
    if (!decoded->command_field()) return error("command set without a Command Field (0000,0100)");
    command_ = std::move(*decoded);
    if (command_.has_data_set()) {
      phase_ = Phase::DataSet;
      return Step{Kind::CommandThenData, {}, {}};
    }
    phase_ = Phase::Idle;
    return Step{Kind::Message, {}, {}};
  }
  // A data set fragment.
  if (phase_ == Phase::Idle) return error("data set PDV with no command before it");
  if (phase_ == Phase::Command) return error("data set PDV before the command was complete");
  if (pdv.is_last()) {
    phase_ = Phase::Idle;
    return Step{Kind::DataLast, pdv.data, {}};
  }
  return Step{Kind::DataFragment, pdv.data, {}};
}

}  // namespace pacsnode::net
