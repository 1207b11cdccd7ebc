#include "net/association.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>

#include "base/log.hpp"
#include "base/node_metrics.hpp"

namespace pacsnode::net {
namespace {

using asio::use_awaitable;
using boost::system::error_code;

// When the peer's max PDU length is 0 (unlimited) we still fragment, to DCMTK's cap.
constexpr std::size_t kUnlimitedFragment = 128 * 1024 - 12;
// Messages queued but not yet taken by the application; a peer that runs further ahead
// ignores the negotiated asynchronous operations window.
constexpr std::size_t kMaxInbox = 64;
// A PDU body is read in pieces that grow with what has arrived (64 KiB, then doubling), so
// that an announced length costs memory only once the peer has sent about as much.
constexpr std::size_t kReadChunk = 64 * 1024;
// After a PDU larger than this, the read buffer is given back instead of kept for the next.
constexpr std::size_t kKeptReadBuffer = 256 * 1024;
// Coalesce outgoing PDUs into writes of about this size.
constexpr std::size_t kWriteBatch = 256 * 1024;

bool is_request(const CommandSet& command) {
  const auto field = command.command_field();
  return field && (static_cast<std::uint16_t>(*field) & 0x8000) == 0 && *field != CommandField::CCancelRq;
}

bool timed_state(State s) { return s == State::Sta2 || s == State::Sta5 || s == State::Sta13 || s == State::Sta4; }

void set_socket_options(tcp::socket& socket) {
  error_code ec;
  socket.set_option(tcp::no_delay(true), ec);  // one PDU, one send: Nagle would stall every exchange
  socket.set_option(asio::socket_base::keep_alive(true), ec);
}

std::string endpoint_text(const tcp::socket& socket) {
  error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) return "?";
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Sinks and sources

MemoryBudget& default_incoming_budget() {
  static MemoryBudget budget(kDefaultIncomingBudget);
  return budget;
}

MemorySink::~MemorySink() {
  if (charged_ == 0) return;
  if (own_) own_->give_back(charged_);
  if (shared_) shared_->give_back(charged_);
}

void MemorySink::write(std::span<const std::uint8_t> fragment) {
  if (bytes_.size() + fragment.size() > cap_) {
    throw std::length_error("data set larger than " + std::to_string(cap_) + " bytes");
  }
  if (own_ && !own_->try_take(fragment.size())) {
    throw std::length_error("this association's data sets in memory exceed " + std::to_string(own_->limit() >> 20) +
                            " MiB");
  }
  if (shared_ && !shared_->try_take(fragment.size())) {
    if (own_) own_->give_back(fragment.size());
    throw std::length_error("the node's memory for incoming data sets (" + std::to_string(shared_->limit() >> 20) +
                            " MiB for all associations) is in use");
  }
  charged_ += fragment.size();
  bytes_.insert(bytes_.end(), fragment.begin(), fragment.end());
}

std::size_t SpanSource::read(std::span<std::uint8_t> buffer) {
  const std::size_t n = std::min(buffer.size(), data_.size());
  std::copy_n(data_.begin(), n, buffer.begin());
  data_ = data_.subspan(n);
  return n;
}

std::span<const std::uint8_t> Message::data_set() const {
  if (auto* memory = dynamic_cast<MemorySink*>(sink.get())) return memory->bytes();
  return {};
}

// ---------------------------------------------------------------------------------------
// Descriptions

std::string_view end_reason_name(EndReason r) {
  switch (r) {
    case EndReason::Open: return "open";
    case EndReason::Released: return "released";
    case EndReason::PeerAborted: return "aborted by peer";
    case EndReason::LocalAborted: return "aborted";
    case EndReason::ProtocolError: return "protocol error";
    case EndReason::Timeout: return "timeout";
    case EndReason::TransportClosed: return "connection closed";
    case EndReason::Rejected: return "rejected";
  }
  return "?";
}

std::string describe_rj(const AAssociateRj& rj) {
  std::string text = rj.result == 2 ? "rejected (transient)" : "rejected (permanent)";
  std::string source;
  std::string reason;
  switch (rj.source) {
    case 1:
      source = "service user";
      switch (rj.reason) {
        case 1: reason = "no reason given"; break;
        case 2: reason = "application context name not supported"; break;
        case 3: reason = "calling AE title not recognized"; break;
        case 7: reason = "called AE title not recognized"; break;
        default: reason = "reason " + std::to_string(rj.reason); break;
      }
      break;
    case 2:
      source = "service provider (ACSE)";
      reason = rj.reason == 2 ? "protocol version not supported" : rj.reason == 1 ? "no reason given"
                                                                                  : "reason " + std::to_string(rj.reason);
      break;
    case 3:
      source = "service provider (presentation)";
      reason = rj.reason == 1 ? "temporary congestion" : rj.reason == 2 ? "local limit exceeded"
                                                                        : "reason " + std::to_string(rj.reason);
      break;
    default:
      source = "source " + std::to_string(rj.source);
      reason = "reason " + std::to_string(rj.reason);
  }
  return text + " by the " + source + ": " + reason;
}

std::string describe_abort(const AAbort& abort) {
  if (abort.source == 2) {
    static constexpr const char* kReasons[] = {"not specified", "unrecognized PDU", "unexpected PDU", "reserved",
                                               "unrecognized PDU parameter", "unexpected PDU parameter",
                                               "invalid PDU parameter value"};
    const char* reason = abort.reason < 7 ? kReasons[abort.reason] : "unknown reason";
    return std::string("A-ABORT by the service provider: ") + reason;
  }
  return "A-ABORT by the service user";
}

// ---------------------------------------------------------------------------------------
// Construction

Association::Association(tcp::socket socket, AssociationSettings settings, std::uint64_t id, bool requestor)
    : socket_(std::move(socket)),
      settings_(std::move(settings)),
      id_(id),
      requestor_(requestor),
      own_budget_(std::make_shared<MemoryBudget>(kAssociationIncomingBudget)),
      deadline_timer_(socket_.get_executor()),
      notify_timer_(socket_.get_executor()) {
  update_tag();
}

Association::~Association() {
  if (current_sink_) current_sink_->abandon();
}

void Association::update_tag() {
  tag_ = "assoc=" + std::to_string(id_) + " peer=" + (peer_ae_.empty() ? peer_address_ : peer_ae_);
}

const AcceptedContext* Association::context(std::uint8_t pc_id) const {
  for (const auto& c : contexts_) {
    if (c.id == pc_id) return &c;
  }
  return nullptr;
}

void Association::start_background() {
  if (background_started_) return;
  background_started_ = true;
  auto self = shared_from_this();
  asio::co_spawn(socket_.get_executor(), [self]() { return self->watchdog(); }, asio::detached);
}

// ---------------------------------------------------------------------------------------
// Transport

struct Association::ReadResult {
  enum class Kind { Pdu, Invalid, Closed, Timeout } kind = Kind::Closed;
  std::optional<Pdu> pdu;
  PduError error;
};

std::uint32_t Association::pdata_limit() const {
  // PS3.8 §9.3.1: the peer must not send a P-DATA-TF longer than the maximum we advertised.
  return settings_.max_pdu_length == 0 ? kMaxAcceptedPduLength : std::min(settings_.max_pdu_length, kMaxAcceptedPduLength);
}

void Association::release_read_buffer() {
  if (read_buffer_.capacity() > std::max<std::size_t>(kKeptReadBuffer, std::size_t{pdata_limit()} + kPduHeaderSize)) {
    std::vector<std::uint8_t>().swap(read_buffer_);
  }
}

// Acknowledge at once what arrives. A peer that leaves Nagle's algorithm on (DCMTK's tools
// without TCP_NODELAY=1, and the software built on them) writes a PDU in pieces (its
// header, the PDV header, the value) and holds each small piece until the one before it is
// acknowledged, while Linux delays the ACK of a segment no answer follows by up to 40 ms:
// every C-STORE waited for it twice (measured: 18 instances/s). Linux leaves quick-ack mode
// by itself, so it is asked for before every read (one setsockopt).
void Association::quick_ack() {
  const int on = 1;
  ::setsockopt(socket_.native_handle(), IPPROTO_TCP, TCP_QUICKACK, &on, sizeof on);
}

asio::awaitable<Association::ReadResult> Association::read_pdu() {
  ReadResult result;
  std::size_t pdu_size = 0;
  std::array<std::uint8_t, kPduHeaderSize> header{};
  error_code ec;
  quick_ack();
  co_await asio::async_read(socket_, asio::buffer(header), asio::redirect_error(use_awaitable, ec));
  if (!ec) {
    const PduHeader h = decode_header(header);
    if (auto refused = check_header(h)) {  // unknown type, or a length we will not allocate
      result.kind = ReadResult::Kind::Invalid;
      result.error = std::move(*refused);
      co_return result;
    }
    if (h.type == static_cast<std::uint8_t>(PduType::PDataTf) && h.length > pdata_limit()) {
      result.kind = ReadResult::Kind::Invalid;
      result.error = PduError{AbortReason::InvalidPduParameterValue,
                              "P-DATA-TF PDU-length " + std::to_string(h.length) + " exceeds the " +
                                  std::to_string(pdata_limit()) + " bytes we advertised"};
      co_return result;
    }
    // The buffer only grows here (release_read_buffer() shrinks it after the PDU): the bytes
    // of a PDU like the last one are not zero-filled again.
    if (read_buffer_.size() < kPduHeaderSize) read_buffer_.resize(kPduHeaderSize);
    std::copy(header.begin(), header.end(), read_buffer_.begin());
    pdu_size = kPduHeaderSize + h.length;
    // Grow with what arrives: a peer that announces 16 MiB and sends nothing costs 64 KiB.
    // A P-DATA-TF within the max PDU length we advertised is read in one piece: that much
    // per association is already the bound, and it keeps the hot path at one read per PDU.
    const bool within_advertised = h.type == static_cast<std::uint8_t>(PduType::PDataTf) &&
                                   settings_.max_pdu_length != 0 && h.length <= settings_.max_pdu_length;
    std::size_t have = 0;
    while (have < h.length && !ec) {
      const std::size_t piece =
          within_advertised ? h.length : std::min<std::size_t>(h.length - have, std::max(kReadChunk, have));
      if (read_buffer_.size() < kPduHeaderSize + have + piece) read_buffer_.resize(kPduHeaderSize + have + piece);
      quick_ack();
      co_await asio::async_read(socket_, asio::buffer(read_buffer_.data() + kPduHeaderSize + have, piece),
                                asio::redirect_error(use_awaitable, ec));
      have += piece;
    }
  }
  if (ec) {
    result.kind = timeout_fired_ ? ReadResult::Kind::Timeout : ReadResult::Kind::Closed;
    timeout_fired_ = false;
    co_return result;
  }
  DecodeResult decoded = decode_pdu(std::span<const std::uint8_t>(read_buffer_.data(), pdu_size));
  if (!decoded.pdu) {
    result.kind = ReadResult::Kind::Invalid;
    result.error = std::move(decoded.error);
    co_return result;
  }
  result.kind = ReadResult::Kind::Pdu;
  result.pdu = std::move(decoded.pdu);
  co_return result;
}

asio::awaitable<void> Association::write_raw(std::vector<std::uint8_t> bytes) {
  if (!socket_.is_open()) throw AssociationError(AssociationError::Kind::Aborted, "connection is closed");
  write_started_ = Clock::now();
  error_code ec;
  co_await asio::async_write(socket_, asio::buffer(bytes), asio::redirect_error(use_awaitable, ec));
  write_started_.reset();
  if (ec) {
    throw AssociationError(AssociationError::Kind::Aborted, "write failed: " + ec.message());
  }
}

asio::awaitable<void> Association::send_pdu(const Pdu& pdu) {
  co_await lock_send();
  struct Unlock {
    Association* a;
    ~Unlock() { a->unlock_send(); }
  } unlock{this};
  if (log::enabled(log::Level::trace)) log::trace("{} send {}", tag(), pdu_name(pdu));
  co_await write_raw(encode_pdu(pdu));
}

asio::awaitable<void> Association::lock_send() {
  while (send_locked_) {
    auto waiter = std::make_shared<asio::steady_timer>(socket_.get_executor(), Clock::time_point::max());
    send_waiters_.push_back(waiter);
    error_code ec;
    co_await waiter->async_wait(asio::redirect_error(use_awaitable, ec));
  }
  send_locked_ = true;
}

void Association::unlock_send() {
  send_locked_ = false;
  if (!send_waiters_.empty()) {
    auto waiter = std::move(send_waiters_.front());
    send_waiters_.pop_front();
    waiter->cancel();
  }
}

void Association::set_read_deadline(Clock::time_point deadline) { read_deadline_ = deadline; }

void Association::close_transport() {
  error_code ec;
  if (socket_.is_open()) {
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }
  deadline_timer_.cancel();
  notify();
}

void Association::half_close() {
  // After an A-ABORT or A-ASSOCIATE-RJ nothing more goes out: a FIN right behind it tells
  // the peer to close at once instead of holding the connection until ARTIM.
  error_code ec;
  if (socket_.is_open()) socket_.shutdown(tcp::socket::shutdown_send, ec);
}

void Association::end(EndReason reason) {
  if (end_reason_ == EndReason::Open) end_reason_ = reason;
  if (current_sink_) {
    current_sink_->abandon();
    current_sink_.reset();
  }
  notify();
}

void Association::notify() { notify_timer_.cancel(); }

asio::awaitable<void> Association::wait_notified() {
  notify_timer_.expires_at(Clock::time_point::max());
  error_code ec;
  co_await notify_timer_.async_wait(asio::redirect_error(use_awaitable, ec));
}

asio::awaitable<void> Association::watchdog() {
  auto self = shared_from_this();
  while (state_ != State::Sta1 && socket_.is_open()) {
    const auto now = Clock::now();
    if (write_started_ && now - *write_started_ >= settings_.write_timeout) {
      log::warn("{} peer stopped reading for {} ms: closing", tag(), settings_.write_timeout.count());
      end(EndReason::Timeout);
      state_ = State::Sta1;
      close_transport();
      break;
    }
    if (read_deadline_ <= now) {
      if (state_ == State::Sta6 && (app_busy_ || send_locked_)) {
        // Our side is working on a request; the peer is right to be silent.
        read_deadline_ = now + settings_.idle_timeout;
      } else {
        timeout_fired_ = true;
        read_deadline_ = Clock::time_point::max();
        error_code ec;
        socket_.cancel(ec);
      }
    }
    // Wake at the next deadline, and at least every second so that a stuck write is seen.
    deadline_timer_.expires_at(std::min(read_deadline_, now + std::chrono::seconds(1)));
    error_code ec;
    co_await deadline_timer_.async_wait(asio::redirect_error(use_awaitable, ec));
  }
}

// ---------------------------------------------------------------------------------------
// The state machine's actions

asio::awaitable<void> Association::on_event(Event event, const Pdu* pdu, AbortReason abort_reason) {
  const auto t = transition(state_, event);
  if (!t) {
    log::error("{} no transition for {} in {}: aborting", tag(), event_name(event), state_name(state_));
    abort_provider(AbortReason::UnexpectedPdu, "internal state error");
    co_return;
  }
  log::trace("{} {} {} -> {}", tag(), state_name(state_), event_name(event), action_name(t->action));
  try {
    switch (t->action) {
      case Action::DT2:
      case Action::AR6:
        state_ = t->next;
        co_await on_pdata(std::get<PDataTf>(*pdu));
        break;
      case Action::AR2:  // peer asks for release: answered by receive() once the inbox drains
        state_ = State::Sta8;
        release_requested_by_peer_ = true;
        log::debug("{} peer requested release", tag());
        notify();
        break;
      case Action::AR3:  // our release confirmed
        state_ = State::Sta1;
        end(EndReason::Released);
        close_transport();
        break;
      case Action::AR4:  // send A-RELEASE-RP, then wait for the peer to close
        state_ = State::Sta13;
        arm_artim();
        end(EndReason::Released);
        co_await send_pdu(AReleaseRp{});
        break;
      case Action::AR5:
      case Action::AA5:
      case Action::AA2:
        state_ = State::Sta1;
        close_transport();
        break;
      case Action::AR8:  // release collision
        state_ = next_state_for(*t, requestor_);
        log::debug("{} release collision ({})", tag(), state_name(state_));
        if (state_ == State::Sta9) co_await on_event(Event::Evt14);
        break;
      case Action::AR9:
        state_ = State::Sta11;
        co_await send_pdu(AReleaseRp{});
        break;
      case Action::AR10:
        state_ = State::Sta12;
        co_await on_event(Event::Evt14);
        break;
      case Action::AE4: {  // A-ASSOCIATE-RJ while waiting for the answer
        state_ = State::Sta1;
        end(EndReason::Rejected);
        close_transport();
        break;
      }
      case Action::AA1: {  // we abort; on Evt19 as the provider, with the reason
        state_ = State::Sta13;
        arm_artim();
        const bool provider = event == Event::Evt19;
        end(provider ? EndReason::ProtocolError : EndReason::LocalAborted);
        AAbort abort{static_cast<std::uint8_t>(provider ? 2 : 0),
                     static_cast<std::uint8_t>(provider ? abort_reason : AbortReason::NotSpecified)};
        co_await send_pdu(abort);
        half_close();
        break;
      }
      case Action::AA3: {  // the peer aborted
        const auto* abort = pdu ? std::get_if<AAbort>(pdu) : nullptr;
        log::info("{} {}", tag(), abort ? describe_abort(*abort) : std::string("aborted"));
        state_ = State::Sta1;
        end(EndReason::PeerAborted);
        close_transport();
        break;
      }
      case Action::AA4:  // A-P-ABORT: the connection dropped
        log::info("{} connection closed by peer in {}", tag(), state_name(state_));
        state_ = State::Sta1;
        end(EndReason::TransportClosed);
        close_transport();
        break;
      case Action::AA6:  // ignore PDUs while waiting for the close
        break;
      case Action::AA7:
        co_await send_pdu(AAbort{2, static_cast<std::uint8_t>(AbortReason::UnexpectedPdu)});
        half_close();
        break;
      case Action::AA8: {  // protocol violation by the peer
        const auto reason = event == Event::Evt19 ? abort_reason : AbortReason::UnexpectedPdu;
        log::warn("{} protocol error in {} ({}): sending A-ABORT", tag(), state_name(state_), event_name(event));
        state_ = State::Sta13;
        arm_artim();
        end(EndReason::ProtocolError);
        co_await send_pdu(AAbort{2, static_cast<std::uint8_t>(reason)});
        half_close();
        break;
      }
      default:
        // AE-1…AE-8, DT-1, AR-1, AR-7 are performed inline by accept(), request(), send()
        // and release(); they never reach here.
        log::error("{} unexpected action {} in {}", tag(), action_name(t->action), state_name(state_));
        break;
    }
  } catch (const AssociationError& e) {
    log::debug("{} {}", tag(), e.what());
    state_ = State::Sta1;
    end(EndReason::TransportClosed);
    close_transport();
  }
}

asio::awaitable<void> Association::on_pdata(const PDataTf& pdata) {
  for (const Pdv& pdv : pdata.pdvs) {
    auto step = assembler_.feed(pdv, [this](std::uint8_t id) { return accepted_ids_[id]; });
    using Kind = MessageAssembler::Kind;
    switch (step.kind) {
      case Kind::Error:
        log::warn("{} {}", tag(), step.error);
        co_await on_event(Event::Evt19, nullptr, AbortReason::InvalidPduParameterValue);
        co_return;
      case Kind::NeedMore:
        break;
      case Kind::Message: {
        CommandSet command = assembler_.take_command();
        if (command.command_field() == CommandField::CCancelRq) {
          if (auto id = command.us(tag::MessageIdBeingRespondedTo)) {
            if (open_requests_.count(*id) != 0) {
              log::info("{} C-CANCEL-RQ for message {}", tag(), *id);
              cancelled_.insert(*id);
            } else {
              log::info("{} C-CANCEL-RQ for message {}, which is not in progress: ignored", tag(), *id);
            }
          }
          notify();
          break;
        }
        if (is_request(command)) open_requests_.insert(command.message_id().value_or(0));
        inbox_.push_back(Message{pdv.pc_id, std::move(command), nullptr, {}});
        notify();
        break;
      }
      case Kind::CommandThenData:
        current_sink_ = sink_factory_ ? sink_factory_(*this, pdv.pc_id, assembler_.command()) : nullptr;
        if (!current_sink_) {
          current_sink_ = std::make_unique<MemorySink>(
              MemorySink::kDefaultCap, own_budget_,
              settings_.incoming_budget ? settings_.incoming_budget.get() : &default_incoming_budget());
        }
        current_sink_error_.clear();
        break;
      case Kind::DataFragment:
      case Kind::DataLast:
        if (current_sink_error_.empty()) {
          try {
            current_sink_->write(step.data);
          } catch (const std::exception& e) {
            current_sink_error_ = e.what();
            log::warn("{} data set refused: {}", tag(), current_sink_error_);
          }
        }
        if (step.kind == Kind::DataLast) {
          if (current_sink_error_.empty()) {
            try {
              current_sink_->complete();
            } catch (const std::exception& e) {
              current_sink_error_ = e.what();
              log::warn("{} data set refused: {}", tag(), current_sink_error_);
            }
          }
          CommandSet command = assembler_.take_command();
          if (is_request(command)) open_requests_.insert(command.message_id().value_or(0));
          inbox_.push_back(Message{pdv.pc_id, std::move(command), std::move(current_sink_),
                                   std::move(current_sink_error_)});
          current_sink_error_.clear();
          notify();
        }
        break;
    }
    if (inbox_.size() > kMaxInbox) {
      log::warn("{} peer sent {} messages without waiting for answers", tag(), inbox_.size());
      co_await on_event(Event::Evt19, nullptr, AbortReason::UnexpectedPduParameter);
      co_return;
    }
  }
}

asio::awaitable<void> Association::reader_loop() {
  auto self = shared_from_this();
  while (state_ != State::Sta1) {
    if (!timed_state(state_)) set_read_deadline(Clock::now() + settings_.idle_timeout);
    ReadResult r = co_await read_pdu();
    if (state_ == State::Sta1) break;  // ended meanwhile (abort(), shutdown): nothing more to read
    switch (r.kind) {
      case ReadResult::Kind::Closed:
        co_await on_event(Event::Evt17);
        break;
      case ReadResult::Kind::Timeout:
        if (state_ == State::Sta2 || state_ == State::Sta13) {
          log::debug("{} ARTIM expired in {}", tag(), state_name(state_));
          end(EndReason::Timeout);
          co_await on_event(Event::Evt18);
        } else {
          log::warn("{} no PDU for {} s in {}: aborting", tag(),
                    std::chrono::duration_cast<std::chrono::seconds>(settings_.idle_timeout).count(),
                    state_name(state_));
          end(EndReason::Timeout);
          co_await on_event(Event::Evt15);
          state_ = State::Sta1;
          close_transport();
        }
        break;
      case ReadResult::Kind::Invalid:
        log::warn("{} invalid PDU: {}", tag(), r.error.message);
        co_await on_event(Event::Evt19, nullptr, r.error.reason);
        break;
      case ReadResult::Kind::Pdu: {
        static constexpr Event kEvents[] = {Event::Evt6, Event::Evt3, Event::Evt4, Event::Evt10,
                                            Event::Evt12, Event::Evt13, Event::Evt16};
        co_await on_event(kEvents[r.pdu->index()], &*r.pdu);
        break;
      }
    }
    release_read_buffer();  // the PDU (and the PDVs pointing into it) has been handled
  }
  std::vector<std::uint8_t>().swap(read_buffer_);
  log::debug("{} closed ({})", tag(), end_reason_name(end_reason_));
}

// ---------------------------------------------------------------------------------------
// Acceptor

asio::awaitable<std::shared_ptr<Association>> Association::accept(
    tcp::socket socket, AssociationSettings settings, AcceptDecider decide, std::uint64_t id, SinkFactory sink_factory,
    std::function<void(const std::shared_ptr<Association>&)> on_created) {
  set_socket_options(socket);
  std::shared_ptr<Association> a(new Association(std::move(socket), std::move(settings), id, false));
  a->sink_factory_ = std::move(sink_factory);
  a->peer_address_ = endpoint_text(a->socket_);
  a->update_tag();
  a->state_ = State::Sta2;  // AE-5: connection accepted, ARTIM started
  a->arm_artim();
  a->start_background();
  if (on_created) on_created(a);

  ReadResult r = co_await a->read_pdu();
  if (r.kind != ReadResult::Kind::Pdu || !std::holds_alternative<AAssociateRq>(*r.pdu)) {
    if (r.kind == ReadResult::Kind::Invalid) log::warn("{} invalid first PDU: {}", a->tag(), r.error.message);
    // Anything but an RQ in Sta2: let the table decide (abort, close), then finish.
    if (r.kind == ReadResult::Kind::Pdu) {
      static constexpr Event kEvents[] = {Event::Evt6, Event::Evt3, Event::Evt4, Event::Evt10,
                                          Event::Evt12, Event::Evt13, Event::Evt16};
      co_await a->on_event(kEvents[r.pdu->index()], &*r.pdu);
    } else if (r.kind == ReadResult::Kind::Invalid) {
      co_await a->on_event(Event::Evt19, nullptr, r.error.reason);
    } else if (r.kind == ReadResult::Kind::Timeout) {
      log::info("{} no A-ASSOCIATE-RQ within ARTIM: closing", a->tag());
      a->end(EndReason::Timeout);
      co_await a->on_event(Event::Evt18);
    } else {
      co_await a->on_event(Event::Evt17);
    }
    co_await a->reader_loop();
    co_return nullptr;
  }

  // AE-6: ARTIM stopped; is the RQ acceptable?
  auto& rq = std::get<AAssociateRq>(*r.pdu);
  std::vector<std::uint8_t>().swap(a->read_buffer_);  // the RQ is decoded; its bytes are not needed
  a->set_read_deadline(Clock::time_point::max());
  a->peer_ae_ = rq.calling_ae;
  a->update_tag();
  a->called_ae_ = rq.called_ae;
  a->peer_max_pdu_ = rq.user_info.max_length;

  AcceptDecision decision;
  if ((rq.protocol_version & 0x0001) == 0) {
    decision.rj = {1, 2, 2};
    decision.reason = "protocol version " + std::to_string(rq.protocol_version) + " not supported";
  } else if (rq.application_context != kApplicationContext) {
    decision.rj = {1, 1, 2};
    decision.reason = "application context " + rq.application_context + " not supported";
  } else {
    try {
      a->state_ = State::Sta3;
      decision = decide(rq);
    } catch (const std::exception& e) {
      decision = AcceptDecision{};
      decision.rj = {2, 1, 1};
      decision.reason = std::string("internal error: ") + e.what();
    }
  }

  if (!decision.accept) {  // AE-6 (not acceptable) or AE-8: send RJ, ARTIM, Sta13
    log::info("{} calling={} called={} from {} rejected: {} ({})", a->tag(), rq.calling_ae, rq.called_ae,
              a->peer_address_, describe_rj(decision.rj), decision.reason);
    a->state_ = State::Sta13;
    a->arm_artim();
    a->end(EndReason::Rejected);
    metrics::node_metrics().associations_total.with({"rejected"}).inc();
    try {
      co_await a->send_pdu(decision.rj);
      a->half_close();
    } catch (const AssociationError&) {
    }
    co_await a->reader_loop();
    co_return nullptr;
  }

  // AE-7: send AC.
  AAssociateAc ac;
  ac.protocol_version = 1;
  ac.called_ae = rq.called_ae;
  ac.calling_ae = rq.calling_ae;
  ac.contexts = std::move(decision.contexts);
  ac.user_info.max_length = a->settings_.max_pdu_length;
  ac.user_info.implementation_class_uid = a->settings_.implementation_class_uid;
  ac.user_info.implementation_version_name = a->settings_.implementation_version_name;
  ac.user_info.roles = std::move(decision.roles);
  ac.user_info.user_identity_ac = decision.user_identity_response;
  a->contexts_ = std::move(decision.accepted);
  for (const auto& c : a->contexts_) a->accepted_ids_[c.id] = true;
  try {
    co_await a->send_pdu(ac);
  } catch (const AssociationError& e) {
    log::info("{} could not send A-ASSOCIATE-AC: {}", a->tag(), e.what());
    a->state_ = State::Sta1;
    a->end(EndReason::TransportClosed);
    a->close_transport();
    co_return nullptr;
  }
  a->state_ = State::Sta6;
  log::info("{} calling={} called={} from {} accepted ({} of {} contexts, peer max PDU {})", a->tag(), rq.calling_ae,
            rq.called_ae, a->peer_address_, a->contexts_.size(), rq.contexts.size(), rq.user_info.max_length);
  auto self = a;
  asio::co_spawn(a->socket_.get_executor(), [self]() { return self->reader_loop(); }, asio::detached);
  co_return a;
}

// ---------------------------------------------------------------------------------------
// Requestor

asio::awaitable<std::shared_ptr<Association>> Association::request(std::string host, std::uint16_t port,
                                                                    AAssociateRq rq, AssociationSettings settings,
                                                                    std::uint64_t id) {
  auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  error_code ec;
  auto endpoints = co_await resolver.async_resolve(host, std::to_string(port), asio::redirect_error(use_awaitable, ec));
  if (ec) {
    throw AssociationError(AssociationError::Kind::ConnectFailed, "cannot resolve " + host + ": " + ec.message());
  }

  std::shared_ptr<Association> a(new Association(tcp::socket(executor), std::move(settings), id, true));
  a->peer_ae_ = rq.called_ae;
  a->called_ae_ = rq.called_ae;
  a->peer_address_ = host + ":" + std::to_string(port);
  a->update_tag();
  a->state_ = State::Sta4;  // AE-1: transport connect issued
  a->set_read_deadline(Clock::now() + a->settings_.connect_timeout);
  a->start_background();
  error_code connect_ec = asio::error::host_not_found;
  for (const auto& entry : endpoints) {
    a->socket_.close(ec);
    a->socket_.open(entry.endpoint().protocol(), ec);
    if (ec) continue;
    co_await a->socket_.async_connect(entry.endpoint(), asio::redirect_error(use_awaitable, connect_ec));
    if (!connect_ec || a->timeout_fired_) break;
  }
  if (connect_ec) {
    const bool timed_out = a->timeout_fired_;
    a->state_ = State::Sta1;
    a->end(EndReason::TransportClosed);
    a->close_transport();
    if (timed_out) {
      throw AssociationError(AssociationError::Kind::Timeout, "connection to " + a->peer_address_ + " timed out");
    }
    throw AssociationError(AssociationError::Kind::ConnectFailed,
                           "cannot connect to " + a->peer_address_ + ": " + connect_ec.message());
  }
  set_socket_options(a->socket_);

  // AE-2: send the RQ, wait for the answer under ARTIM.
  rq.user_info.max_length = a->settings_.max_pdu_length;
  rq.user_info.implementation_class_uid = a->settings_.implementation_class_uid;
  rq.user_info.implementation_version_name = a->settings_.implementation_version_name;
  if (rq.calling_ae.empty()) rq.calling_ae = a->settings_.ae_title;
  a->state_ = State::Sta5;
  a->arm_artim();
  try {
    co_await a->send_pdu(rq);
  } catch (const AssociationError& e) {
    a->state_ = State::Sta1;
    a->close_transport();
    throw AssociationError(AssociationError::Kind::ConnectFailed, std::string("sending A-ASSOCIATE-RQ: ") + e.what());
  }
  ReadResult r = co_await a->read_pdu();
  if (r.kind == ReadResult::Kind::Pdu) {
    if (auto* ac = std::get_if<AAssociateAc>(&*r.pdu)) {  // AE-3
      a->state_ = State::Sta6;
      a->peer_max_pdu_ = ac->user_info.max_length;
      a->contexts_ = accepted_contexts(rq, *ac);
      for (const auto& c : a->contexts_) a->accepted_ids_[c.id] = true;
      auto self = a;
      asio::co_spawn(a->socket_.get_executor(), [self]() { return self->reader_loop(); }, asio::detached);
      co_return a;
    }
    if (auto* rj = std::get_if<AAssociateRj>(&*r.pdu)) {  // AE-4
      const AAssociateRj copy = *rj;
      co_await a->on_event(Event::Evt4, &*r.pdu);
      throw AssociationError(AssociationError::Kind::Rejected, "association " + describe_rj(copy), copy);
    }
    if (auto* abort = std::get_if<AAbort>(&*r.pdu)) {
      const std::string text = describe_abort(*abort);
      co_await a->on_event(Event::Evt16, &*r.pdu);
      throw AssociationError(AssociationError::Kind::Aborted, "association aborted by " + a->peer_address_ + ": " + text);
    }
    co_await a->on_event(Event::Evt19, nullptr, AbortReason::UnexpectedPdu);
    a->state_ = State::Sta1;
    a->close_transport();
    throw AssociationError(AssociationError::Kind::Protocol,
                           std::string("unexpected ") + std::string(pdu_name(*r.pdu)) + " instead of A-ASSOCIATE-AC");
  }
  if (r.kind == ReadResult::Kind::Timeout) {
    co_await a->on_event(Event::Evt15);
    a->state_ = State::Sta1;
    a->close_transport();
    throw AssociationError(AssociationError::Kind::Timeout,
                           "no answer to A-ASSOCIATE-RQ from " + a->peer_address_ + " within ARTIM");
  }
  if (r.kind == ReadResult::Kind::Invalid) {
    co_await a->on_event(Event::Evt19, nullptr, r.error.reason);
    a->state_ = State::Sta1;
    a->close_transport();
    throw AssociationError(AssociationError::Kind::Protocol, "invalid answer to A-ASSOCIATE-RQ: " + r.error.message);
  }
  a->state_ = State::Sta1;
  a->close_transport();
  throw AssociationError(AssociationError::Kind::Aborted,
                         "connection closed by " + a->peer_address_ + " before it answered the A-ASSOCIATE-RQ");
}

// ---------------------------------------------------------------------------------------
// The service user's primitives

asio::awaitable<std::optional<Message>> Association::receive() {
  auto self = shared_from_this();
  app_busy_ = false;
  for (;;) {
    if (!inbox_.empty()) {
      Message m = std::move(inbox_.front());
      inbox_.pop_front();
      app_busy_ = true;
      co_return m;
    }
    if (state_ == State::Sta8 && release_requested_by_peer_) {
      co_await on_event(Event::Evt14);  // AR-4: A-RELEASE-RP
      co_return std::nullopt;
    }
    if (state_ != State::Sta6 && state_ != State::Sta7) co_return std::nullopt;
    co_await wait_notified();
  }
}

asio::awaitable<std::optional<Message>> Association::receive_response(std::uint16_t message_id) {
  auto self = shared_from_this();
  for (;;) {
    for (auto it = inbox_.begin(); it != inbox_.end(); ++it) {
      const auto field = it->command.command_field();
      if (field && (static_cast<std::uint16_t>(*field) & 0x8000) &&
          it->command.us(tag::MessageIdBeingRespondedTo) == message_id) {
        Message m = std::move(*it);
        inbox_.erase(it);
        co_return m;
      }
    }
    // A peer that asked for release sends nothing more; receive() answers the request.
    if (state_ != State::Sta6 && state_ != State::Sta7) co_return std::nullopt;
    co_await wait_notified();
  }
}

asio::awaitable<void> Association::send(std::uint8_t pc_id, const CommandSet& command) {
  SpanSource none({});
  CommandSet copy = command;
  copy.set_us(tag::CommandDataSetType, kNoDataSet);
  co_await send(pc_id, copy, none);
}

asio::awaitable<void> Association::send(std::uint8_t pc_id, const CommandSet& command, DataSource& data_set) {
  auto self = shared_from_this();
  if (state_ != State::Sta6 && state_ != State::Sta8) {  // DT-1 / AR-7
    throw AssociationError(AssociationError::Kind::NotEstablished,
                           "cannot send: association is " + std::string(end_reason_name(end_reason_)) + " (" +
                               std::string(state_name(state_)) + ")");
  }
  co_await lock_send();
  struct Unlock {
    Association* a;
    ~Unlock() { a->unlock_send(); }
  } unlock{this};

  std::size_t fragment = peer_max_pdu_ == 0 ? kUnlimitedFragment : std::size_t{peer_max_pdu_} - 6;
  if (peer_max_pdu_ != 0 && peer_max_pdu_ < 8) fragment = 2;
  fragment = std::min(fragment, kUnlimitedFragment) & ~std::size_t{1};

  const std::vector<std::uint8_t> command_bytes = command.encode();
  std::vector<std::uint8_t> out;
  out.reserve(std::min(kWriteBatch, command_bytes.size() + fragment + 64));
  for (std::size_t pos = 0; pos < command_bytes.size();) {
    const std::size_t n = std::min(fragment, command_bytes.size() - pos);
    const bool last = pos + n == command_bytes.size();
    append_pdata(out, pc_id, static_cast<std::uint8_t>(0x01 | (last ? 0x02 : 0x00)),
                 std::span(command_bytes).subspan(pos, n));
    pos += n;
  }
  if (log::enabled(log::Level::debug)) log::debug("{} send {}", tag(), command.describe());
  request_answered(command);
  if (command.has_data_set()) {
    // Read one fragment ahead so that the last one is marked as last.
    std::vector<std::uint8_t> current(fragment), next(fragment);
    std::size_t current_n = data_set.read(current);
    for (;;) {
      const std::size_t next_n = current_n == 0 ? 0 : data_set.read(next);
      const bool last = next_n == 0;
      append_pdata(out, pc_id, last ? 0x02 : 0x00, std::span(current).first(current_n));
      if (out.size() >= kWriteBatch || last) {
        co_await write_raw(std::move(out));
        out.clear();
        out.reserve(std::min(kWriteBatch + fragment + 12, std::size_t{4} << 20));
      }
      if (last) break;
      std::swap(current, next);
      current_n = next_n;
    }
  } else {
    co_await write_raw(std::move(out));
  }
}

asio::awaitable<void> Association::release() {
  auto self = shared_from_this();
  if (state_ != State::Sta6) co_return;
  state_ = State::Sta7;  // AR-1
  try {
    co_await send_pdu(AReleaseRq{});
  } catch (const AssociationError& e) {
    log::debug("{} release: {}", tag(), e.what());
    state_ = State::Sta1;
    end(EndReason::TransportClosed);
    close_transport();
    co_return;
  }
  set_read_deadline(Clock::now() + settings_.artim_timeout);
  while (state_ != State::Sta1 && state_ != State::Sta13) co_await wait_notified();
}

void Association::request_answered(const CommandSet& response) {
  const auto field = response.command_field();
  if (!field || (static_cast<std::uint16_t>(*field) & 0x8000) == 0) return;
  const auto status = response.us(tag::Status);
  if (status && (*status == status::Pending || *status == status::PendingWarning)) return;
  if (const auto id = response.us(tag::MessageIdBeingRespondedTo)) {
    open_requests_.erase(*id);
    cancelled_.erase(*id);
  }
}

void Association::write_abort_now(const AAbort& abort) {
  // One non-blocking attempt: a peer that stopped reading (full send buffer) does not get
  // its A-ABORT, but it cannot hold this thread either — the connection is closed next.
  if (!send_without_blocking(socket_.native_handle(), encode_pdu(abort))) {
    log::debug("{} A-ABORT not written (peer not reading)", tag());
  }
}

bool send_without_blocking(int fd, std::span<const std::uint8_t> bytes) {
  const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  return n == static_cast<ssize_t>(bytes.size());
}

void Association::abort() {
  if (state_ == State::Sta1) return;
  log::info("{} aborting", tag());
  if (!send_locked_ && socket_.is_open() && state_ != State::Sta2 && state_ != State::Sta4) {
    write_abort_now(AAbort{0, 0});
  }
  state_ = State::Sta1;
  end(EndReason::LocalAborted);
  close_transport();
}

void Association::abort_provider(AbortReason reason, std::string_view why) {
  if (state_ == State::Sta1) return;
  log::warn("{} aborting: {}", tag(), why);
  if (!send_locked_ && socket_.is_open() && state_ != State::Sta2 && state_ != State::Sta4) {
    write_abort_now(AAbort{2, static_cast<std::uint8_t>(reason)});
  }
  state_ = State::Sta1;
  end(EndReason::ProtocolError);
  close_transport();
}

}  // namespace pacsnode::net
