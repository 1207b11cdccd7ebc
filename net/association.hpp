#pragma once
// One DICOM association over one TCP connection, for either role, driven by the PS3.8 state
// machine (net/state_machine.hpp). Runs as coroutines on the strand of its socket; every
// read has a deadline (ARTIM in Sta2/Sta5/Sta13, the idle timeout otherwise), every write
// too. DIMSE messages arrive through receive(); their data sets stream into a DataSink.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "net/asio.hpp"
#include "net/command_set.hpp"
#include "net/memory_budget.hpp"
#include "net/message_assembler.hpp"
#include "net/negotiation.hpp"
#include "net/pdu.hpp"
#include "net/state_machine.hpp"

namespace pacsnode::net {

struct AssociationSettings {
  std::string ae_title;                       // ours
  std::uint32_t max_pdu_length = 131072;      // what we advertise for receiving; 0 = unlimited
  std::chrono::milliseconds artim_timeout{30'000};
  std::chrono::milliseconds idle_timeout{300'000};   // no PDU while idle in Sta6 → A-ABORT
  std::chrono::milliseconds write_timeout{60'000};   // a peer that stops reading → close
  std::chrono::milliseconds connect_timeout{10'000}; // requestor: TCP connect
  std::string implementation_class_uid;
  std::string implementation_version_name;
  // Data sets buffered in memory (MemorySink) are charged to this budget; nullptr: the
  // process-wide default_incoming_budget().
  std::shared_ptr<MemoryBudget> incoming_budget;
};

// Where a data set goes while it arrives. write() may throw to refuse the data (the rest of
// the data set is then discarded and the message is delivered with sink_error set).
class DataSink {
 public:
  virtual ~DataSink() = default;
  virtual void write(std::span<const std::uint8_t> fragment) = 0;
  // The last fragment has been written; the message now waits for the application (a
  // sink may hand its buffers to the OS and free them).
  virtual void complete() {}
  // The association ended before the data set was complete: undo whatever was written.
  virtual void abandon() noexcept {}
};

// A data set kept in memory, up to a cap, its bytes charged while it lives to the
// association's budget and to the budget all associations share (write() throws
// std::length_error past the cap or when either budget is spent).
class MemorySink final : public DataSink {
 public:
  // Identifiers and the like: no real one comes near this.
  static constexpr std::size_t kDefaultCap = 16u * 1024u * 1024u;
  explicit MemorySink(std::size_t cap = kDefaultCap, std::shared_ptr<MemoryBudget> own = nullptr,
                      MemoryBudget* shared = nullptr)
      : cap_(cap), own_(std::move(own)), shared_(shared) {}
  ~MemorySink() override;
  MemorySink(const MemorySink&) = delete;
  MemorySink& operator=(const MemorySink&) = delete;
  void write(std::span<const std::uint8_t> fragment) override;
  std::vector<std::uint8_t>& bytes() { return bytes_; }

 private:
  std::size_t cap_;
  std::shared_ptr<MemoryBudget> own_;  // shared: the message may outlive its association
  MemoryBudget* shared_;
  std::size_t charged_ = 0;
  std::vector<std::uint8_t> bytes_;
};

// Where an outgoing data set comes from, read in fragments.
class DataSource {
 public:
  virtual ~DataSource() = default;
  // Fills up to buffer.size() bytes; returns how many; 0 at the end.
  virtual std::size_t read(std::span<std::uint8_t> buffer) = 0;
};

class SpanSource final : public DataSource {
 public:
  explicit SpanSource(std::span<const std::uint8_t> data) : data_(data) {}
  std::size_t read(std::span<std::uint8_t> buffer) override;

 private:
  std::span<const std::uint8_t> data_;
};

struct Message {
  std::uint8_t pc_id = 0;
  CommandSet command;
  std::unique_ptr<DataSink> sink;   // the data set's sink (a MemorySink unless a factory chose)
  std::string sink_error;           // non-empty when the sink refused the data
  // The buffered data set when the sink is a MemorySink; empty otherwise.
  std::span<const std::uint8_t> data_set() const;
};

class Association;
// Chooses the sink for an incoming data set (called on the association's strand when a
// command announcing a data set is complete); nullptr → a MemorySink.
using SinkFactory =
    std::function<std::unique_ptr<DataSink>(const Association& association, std::uint8_t pc_id, const CommandSet& command)>;

// The acceptor's answer to an A-ASSOCIATE-RQ.
struct AcceptDecision {
  bool accept = false;
  std::vector<PresentationContextAc> contexts;  // accept: one per proposed context
  std::vector<RoleSelection> roles;
  std::vector<AcceptedContext> accepted;
  std::optional<std::string> user_identity_response;  // accept: send item 0x59 with this
  AAssociateRj rj;        // reject
  std::string reason;     // for the log
};
using AcceptDecider = std::function<AcceptDecision(const AAssociateRq& rq)>;

enum class EndReason { Open, Released, PeerAborted, LocalAborted, ProtocolError, Timeout, TransportClosed, Rejected };
std::string_view end_reason_name(EndReason r);

// A requestor-side failure to establish or use an association.
class AssociationError : public std::runtime_error {
 public:
  enum class Kind { ConnectFailed, Rejected, Timeout, Aborted, Protocol, NotEstablished };
  AssociationError(Kind kind, const std::string& message, std::optional<AAssociateRj> rj = std::nullopt)
      : std::runtime_error(message), kind_(kind), rj_(rj) {}
  Kind kind() const { return kind_; }
  const std::optional<AAssociateRj>& rj() const { return rj_; }

 private:
  Kind kind_;
  std::optional<AAssociateRj> rj_;
};

// One send(2) that never blocks (MSG_DONTWAIT): true if all of `bytes` went out. For the
// A-ABORT written on the way out, to a peer that may have stopped reading.
bool send_without_blocking(int fd, std::span<const std::uint8_t> bytes);

// "rejected (permanent) by the service user: called AE title not recognized"
std::string describe_rj(const AAssociateRj& rj);
std::string describe_abort(const AAbort& abort);

class Association : public std::enable_shared_from_this<Association> {
 public:
  using Clock = std::chrono::steady_clock;

  // Acceptor: reads the A-ASSOCIATE-RQ (under ARTIM), checks protocol version and
  // application context, asks `decide`, answers. Returns the established association, or
  // nullptr once a rejected/aborted/broken connection is closed. Never throws.
  // `on_created` is called with the association as soon as it exists, before the RQ is read
  // (so that the server can close it while it is still pending).
  static asio::awaitable<std::shared_ptr<Association>> accept(
      tcp::socket socket, AssociationSettings settings, AcceptDecider decide, std::uint64_t id,
      SinkFactory sink_factory = {}, std::function<void(const std::shared_ptr<Association>&)> on_created = {});
  // Requestor: connects, sends `rq` (our max PDU, implementation UID/name are filled in from
  // settings), waits for the answer under ARTIM. Throws AssociationError.
  static asio::awaitable<std::shared_ptr<Association>> request(std::string host, std::uint16_t port, AAssociateRq rq,
                                                               AssociationSettings settings, std::uint64_t id);

  ~Association();

  // The next complete DIMSE message; nullopt when the association has ended (peer released,
  // aborted, dropped, timed out). When the peer asked for release, the call that returns
  // nullopt also answers A-RELEASE-RP: so a handler's responses all go out before it.
  asio::awaitable<std::optional<Message>> receive();
  // The response to our request `message_id` (a C-STORE-RSP during a C-GET, for example):
  // other messages that arrive meanwhile stay queued for receive(). nullopt when the
  // association ended, or the peer asked for release, before the response came.
  asio::awaitable<std::optional<Message>> receive_response(std::uint16_t message_id);
  // Sends one DIMSE message, fragmented to the peer's max PDU length. Throws
  // AssociationError if the association is not (or no longer) able to carry data.
  asio::awaitable<void> send(std::uint8_t pc_id, const CommandSet& command);
  asio::awaitable<void> send(std::uint8_t pc_id, const CommandSet& command, DataSource& data_set);
  // Requestor: A-RELEASE-RQ, then waits for the RP (handles a release collision).
  asio::awaitable<void> release();
  // A-ABORT (service user) and close. Safe from any state, idempotent.
  void abort();
  // Abort with a provider source and reason (used for protocol violations and shutdown).
  void abort_provider(AbortReason reason, std::string_view why);

  void set_sink_factory(SinkFactory factory) { sink_factory_ = std::move(factory); }
  // True once the peer sent C-CANCEL-RQ for this message ID while a request with that ID
  // was queued or being answered; cleared when the final response to it goes out (a later
  // request may reuse the ID).
  bool cancel_requested(std::uint16_t message_id) const { return cancelled_.count(message_id) != 0; }
  std::uint16_t next_message_id() { return next_message_id_++; }

  std::uint64_t id() const { return id_; }
  tcp::socket::executor_type executor() { return socket_.get_executor(); }
  State state() const { return state_; }
  EndReason end_reason() const { return end_reason_; }
  bool is_requestor() const { return requestor_; }
  const std::string& peer_ae() const { return peer_ae_; }
  const std::string& called_ae() const { return called_ae_; }
  const std::string& peer_address() const { return peer_address_; }
  std::uint32_t peer_max_pdu_length() const { return peer_max_pdu_; }
  const std::vector<AcceptedContext>& contexts() const { return contexts_; }
  const AcceptedContext* context(std::uint8_t pc_id) const;
  // The log prefix: "assoc=7 peer=STORESCU"
  const std::string& tag() const { return tag_; }

 private:
  Association(tcp::socket socket, AssociationSettings settings, std::uint64_t id, bool requestor);

  struct ReadResult;
  asio::awaitable<ReadResult> read_pdu();
  asio::awaitable<void> write_raw(std::vector<std::uint8_t> bytes);
  asio::awaitable<void> send_pdu(const Pdu& pdu);
  asio::awaitable<void> lock_send();
  void unlock_send();
  // Feeds one event through the state table and performs its action. `pdu` is the PDU
  // that caused it (received events), `abort_reason` the reason for AA-8/AA-1 on Evt19.
  asio::awaitable<void> on_event(Event event, const Pdu* pdu = nullptr,
                                 AbortReason abort_reason = AbortReason::NotSpecified);
  asio::awaitable<void> on_pdata(const PDataTf& pdata);
  asio::awaitable<void> reader_loop();
  asio::awaitable<void> watchdog();
  void start_background();
  void set_read_deadline(Clock::time_point deadline);
  void arm_artim() { set_read_deadline(Clock::now() + settings_.artim_timeout); }
  void close_transport();
  void half_close();
  void end(EndReason reason);
  void notify();  // wakes receive()/release() waiters
  asio::awaitable<void> wait_notified();

  tcp::socket socket_;
  AssociationSettings settings_;
  std::uint64_t id_;
  bool requestor_;
  State state_ = State::Sta1;
  EndReason end_reason_ = EndReason::Open;
  std::string peer_ae_;
  std::string called_ae_;
  std::string peer_address_;
  std::string tag_;  // kept current by update_tag(): logged on every event, built once
  void update_tag();
  std::uint32_t peer_max_pdu_ = 0;
  std::vector<AcceptedContext> contexts_;
  std::vector<bool> accepted_ids_ = std::vector<bool>(256, false);

  std::vector<std::uint8_t> read_buffer_;
  // Data sets of this association buffered in memory, all messages together.
  std::shared_ptr<MemoryBudget> own_budget_;
  MessageAssembler assembler_;
  std::unique_ptr<DataSink> current_sink_;
  std::string current_sink_error_;
  SinkFactory sink_factory_;
  std::deque<Message> inbox_;
  bool release_requested_by_peer_ = false;  // Sta8 reached: receive() answers RP when drained
  bool app_busy_ = false;                   // a message was handed out and receive() not called again
  std::set<std::uint16_t> open_requests_;  // message IDs of requests received and not yet finally answered
  std::set<std::uint16_t> cancelled_;
  void request_answered(const CommandSet& response);
  void write_abort_now(const AAbort& abort);
  void release_read_buffer();
  void quick_ack();  // TCP_QUICKACK before a read
  std::uint32_t pdata_limit() const;
  std::uint16_t next_message_id_ = 1;

  asio::steady_timer deadline_timer_;
  Clock::time_point read_deadline_ = Clock::time_point::max();
  std::optional<Clock::time_point> write_started_;
  asio::steady_timer notify_timer_;
  bool send_locked_ = false;
  std::deque<std::shared_ptr<asio::steady_timer>> send_waiters_;
  bool background_started_ = false;
  bool timeout_fired_ = false;
};

}  // namespace pacsnode::net
