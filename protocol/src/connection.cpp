// The frame of the Connection: input dispatch, which packets each role may
// receive in each state, transmission, timers, and the one place where a
// violation becomes a reply and a close.
#include <array>
#include <stdexcept>
#include <string>
#include <string_view>

#include "assay/mqtt/connection.hpp"
#include "wire.hpp"

namespace assay::mqtt {

std::string_view to_string(CloseCause c) {
  switch (c) {
    case CloseCause::disconnect_sent:
      return "disconnect_sent";
    case CloseCause::disconnect_received:
      return "disconnect_received";
    case CloseCause::protocol_violation:
      return "protocol_violation";
    case CloseCause::keep_alive_timeout:
      return "keep_alive_timeout";
    case CloseCause::connect_timeout:
      return "connect_timeout";
    case CloseCause::connection_refused:
      return "connection_refused";
    case CloseCause::transport_closed:
      return "transport_closed";
  }
  return "unknown";
}

Connection::Connection(ConnectionOptions options, Time now)
    : options_(options),
      state_(options.role == Role::server ? State::awaiting_connect
             : options.role == Role::any  ? State::connected
                                          : State::idle),
      version_(options.version),
      decoder_(options.version, DecodeLimits{options.maximum_packet_size}) {
  if (options_.role == Role::server) set_timer(connect_timer, now + options_.connect_timeout);
}

void Connection::require(bool ok, const char* what) const {
  if (!ok) {
    throw std::logic_error(std::string("Connection: ") + what + " (state " +
                           std::to_string(static_cast<int>(state_)) + ")");
  }
}

// ---- input ----------------------------------------------------------------

void Connection::receive(ByteView bytes, Time now) {
  if (state_ == State::closing || state_ == State::closed || state_ == State::idle) return;
  if (state_ == State::awaiting_connect && first_count_ < first_bytes_.size()) {
    const std::size_t n = std::min<std::size_t>(first_bytes_.size() - first_count_, bytes.size());
    std::copy_n(bytes.begin(), n, first_bytes_.begin() + first_count_);
    first_count_ = static_cast<std::uint8_t>(first_count_ + n);
  }
  decoder_.feed(bytes);
  // A server waiting for its accept/reject decision leaves later packets in
  // the decoder: they are processed once the CONNACK is out, or never
  // [MQTT-3.1.4-6]. With enhanced authentication only AUTH may come.
  // Four-byte acknowledgements skip building a Packet, unless every packet
  // is to be reported.
  const bool short_acks = !options_.trace_packets && options_.role != Role::any;
  while (state_ != State::closing && state_ != State::closed &&
         !(state_ == State::awaiting_decision && !authentication_method())) {
    if (short_acks) {
      if (const auto ack = decoder_.next_short_ack()) {
        if (options_.role == Role::server) restart_keep_alive(now);
        on_short_ack(*ack, now);
        continue;
      }
    }
    if (decoder_.buffered() == 0 && !decoder_.failed()) break;  // next() would need more
    DecodeResult r = decoder_.next();
    if (auto* d = std::get_if<Decoded>(&r)) {
      if (options_.role == Role::server) restart_keep_alive(now);
      on_packet(std::move(d->packet), now);
    } else if (auto* v = std::get_if<Violation>(&r)) {
      fail(std::move(*v), now);
    } else {
      break;
    }
  }
}

namespace {

// Which packets each role may receive in each state: "" where it may, else
// the statement it breaks there. One row per packet type (by its value),
// one column per state in which a Connection decodes packets.
enum Column : std::uint8_t {
  server_awaiting_connect,
  server_awaiting_decision,  // decoding only with enhanced authentication
  server_connected,
  client_awaiting_connack,
  client_connected,
  columns,
};
constexpr std::string_view first_connect = "MQTT-3.1.0-1";      // only CONNECT first
constexpr std::string_view second_connect = "MQTT-3.1.0-2";     // no second CONNECT
constexpr std::string_view during_auth = "MQTT-3.1.2-30";       // only AUTH or DISCONNECT
constexpr std::string_view before_connack = "MQTT-3.2.0-1";     // CONNACK (or AUTH) first
constexpr std::string_view second_connack = "MQTT-3.2.0-2";     // no second CONNACK
constexpr std::string_view early_disconnect = "MQTT-3.14.0-1";  // no DISCONNECT before CONNACK
constexpr std::string_view other_role = "§2.1.2";  // a packet only the other role sends

using Row = std::array<std::string_view, columns>;
constexpr std::array<Row, 16> receivable = {{
    /* reserved    */ {},
    /* CONNECT     */ {"", second_connect, second_connect, other_role, other_role},
    /* CONNACK     */ {first_connect, during_auth, other_role, "", second_connack},
    /* PUBLISH     */ {first_connect, during_auth, "", before_connack, ""},
    /* PUBACK      */ {first_connect, during_auth, "", before_connack, ""},
    /* PUBREC      */ {first_connect, during_auth, "", before_connack, ""},
    /* PUBREL      */ {first_connect, during_auth, "", before_connack, ""},
    /* PUBCOMP     */ {first_connect, during_auth, "", before_connack, ""},
    /* SUBSCRIBE   */ {first_connect, during_auth, "", other_role, other_role},
    /* SUBACK      */ {first_connect, during_auth, other_role, before_connack, ""},
    /* UNSUBSCRIBE */ {first_connect, during_auth, "", other_role, other_role},
    /* UNSUBACK    */ {first_connect, during_auth, other_role, before_connack, ""},
    /* PINGREQ     */ {first_connect, during_auth, "", other_role, other_role},
    /* PINGRESP    */ {first_connect, during_auth, other_role, before_connack, ""},
    /* DISCONNECT  */ {first_connect, "", "", early_disconnect, ""},
    /* AUTH        */ {first_connect, "", "", "", ""},
}};

}  // namespace

// Looks the packet up in `receivable`; returns false after reporting the
// violation. (The any role checks nothing and never asks.)
bool Connection::allowed(PacketType type, Time now) {
  Column column = client_connected;
  if (options_.role == Role::server) {
    column = state_ == State::awaiting_connect    ? server_awaiting_connect
             : state_ == State::awaiting_decision ? server_awaiting_decision
                                                  : server_connected;
  } else if (state_ == State::awaiting_connack) {
    column = client_awaiting_connack;
  }
  const std::string_view statement = receivable[static_cast<std::size_t>(type)][column];
  if (statement.empty()) return true;
  fail(Violation{ReasonCode::protocol_error, statement,
                 std::string(to_string(type)) + " is not allowed here"},
       now);
  return false;
}

void Connection::on_packet(Packet packet, Time now) {
  if (options_.trace_packets || options_.role == Role::any) {
    emit(event::PacketReceived{packet});
    if (options_.role == Role::any) return;
  }
  const PacketType type = type_of(packet);
  if (!allowed(type, now)) return;
  switch (type) {
    case PacketType::connect:
      return on_connect(std::get<Connect>(std::move(packet)), now);
    case PacketType::connack:
      return on_connack(std::get<Connack>(std::move(packet)), now);
    case PacketType::publish:
      return on_publish(std::get<Publish>(std::move(packet)), now);
    case PacketType::puback:
      return on_puback(std::get<Puback>(packet), now);
    case PacketType::pubrec:
      return on_pubrec(std::get<Pubrec>(packet), now);
    case PacketType::pubrel:
      return on_pubrel(std::get<Pubrel>(packet), now);
    case PacketType::pubcomp:
      return on_pubcomp(std::get<Pubcomp>(packet), now);
    case PacketType::subscribe:
      return on_subscribe(std::get<Subscribe>(std::move(packet)), now);
    case PacketType::suback:
      return on_suback(std::get<Suback>(std::move(packet)), now);
    case PacketType::unsubscribe:
      return on_unsubscribe(std::get<Unsubscribe>(std::move(packet)), now);
    case PacketType::unsuback:
      return on_unsuback(std::get<Unsuback>(std::move(packet)), now);
    case PacketType::pingreq:
      return send_packet(Pingresp{}, now);  // [MQTT-3.12.4-1]
    case PacketType::pingresp:
      ping_outstanding_ = false;
      set_timer(ping_timer, std::nullopt);
      return;
    case PacketType::disconnect:
      return on_disconnect(std::get<Disconnect>(std::move(packet)), now);
    case PacketType::auth:
      return on_auth(std::get<Auth>(std::move(packet)), now);
  }
}

// What on_packet() does with the ShortAck's packet.
void Connection::on_short_ack(ShortAck ack, Time now) {
  if (!allowed(ack.type, now)) return;
  switch (ack.type) {
    case PacketType::puback:
      return on_puback(Puback{ack.packet_id, ReasonCode::success, {}, {}}, now);
    case PacketType::pubrec:
      return on_pubrec(Pubrec{ack.packet_id, ReasonCode::success, {}, {}}, now);
    case PacketType::pubrel:
      return on_pubrel(Pubrel{ack.packet_id, ReasonCode::success, {}, {}}, now);
    default:
      return on_pubcomp(Pubcomp{ack.packet_id, ReasonCode::success, {}, {}}, now);
  }
}

void Connection::handle_timeout(Time now) {
  const auto due = [&](Timer t) { return timers_[t] <= now; };  // never > any now
  if (due(connect_timer)) {
    set_timer(connect_timer, std::nullopt);
    request_close(CloseCause::connect_timeout);
  }
  if (due(ping_timer)) {
    set_timer(ping_timer, std::nullopt);
    request_close(CloseCause::keep_alive_timeout);
  }
  if (due(keep_alive_timer)) {
    set_timer(keep_alive_timer, std::nullopt);
    if (options_.role == Role::server) {
      // Nothing for 1.5 x Keep Alive [MQTT-3.1.2-22]: as if the network failed.
      if (version_ == Version::v5) {
        send_packet(Disconnect{ReasonCode::keep_alive_timeout, {}, {}}, now);
      }
      request_close(CloseCause::keep_alive_timeout);
    } else if (state_ == State::connected && !ping_outstanding_) {
      send_packet(Pingreq{}, now);  // [MQTT-3.1.2-20]
      ping_outstanding_ = true;
      const Duration wait = options_.ping_timeout.count() > 0
                                ? options_.ping_timeout
                                : Duration(std::chrono::seconds(keep_alive_));
      set_timer(ping_timer, now + wait);
    }
  }
}

void Connection::transport_closed(Time) {
  if (state_ == State::closed) return;
  if (state_ != State::closing) close_cause_ = CloseCause::transport_closed;
  state_ = State::closed;
  timers_.fill(never);
  // Flows of this connection end with it; the session keeps what must be
  // resent. A client's SUBSCRIBE/UNSUBSCRIBE ids are freed: they are never
  // resent (a server's are the client's, not from its session).
  if (options_.role == Role::client) {
    for (const auto& [id, n] : subscribes_)
      session_.release_packet_id(id);
    for (const auto& [id, n] : unsubscribes_)
      session_.release_packet_id(id);
  }
  subscribes_.clear();
  unsubscribes_.clear();
  for (auto& f : session_.inflight_)
    f.sent = false;
  inflight_sent_ = 0;
  const bool will = options_.role == Role::server && will_declared_ &&
                    !normal_disconnect_received_ && connack_sent_ &&
                    connack_code_ == ReasonCode::success;
  emit(event::Closed{close_cause_, will});
}

// ---- output ---------------------------------------------------------------

std::optional<Event> Connection::poll_event() {
  if (events_.empty()) return std::nullopt;
  std::optional<Event> e(std::in_place, std::move(events_.front()));
  events_.pop_front();
  return e;
}

void Connection::shrink() {
  events_.release();
  decoder_.shrink();
  if (tx_.empty()) Bytes().swap(tx_);
}

void Connection::consume_transmit(std::size_t n) {
  require(n <= tx_.size(), "consume_transmit(): more than is pending");
  if (n == tx_.size()) {
    Bytes().swap(tx_);  // as poll_transmit() would have taken it
  } else {
    tx_.erase(tx_.begin(), tx_.begin() + static_cast<std::ptrdiff_t>(n));
  }
}

bool Connection::poll_transmit(Bytes& out) {
  if (tx_.empty()) return false;
  if (out.empty()) {
    out.swap(tx_);
  } else {
    out.insert(out.end(), tx_.begin(), tx_.end());
    tx_.clear();
  }
  return true;
}

std::optional<Time> Connection::next_deadline() const {
  const Time next = *std::min_element(timers_.begin(), timers_.end());
  if (next == never) return std::nullopt;
  return next;
}

void Connection::send_packet(Packet packet, Time now) {
  if (state_ == State::closing || state_ == State::closed) return;
  // [MQTT-3.1.2-29]: without Request Problem Information the server sends
  // no Reason String or User Property but on PUBLISH, CONNACK, DISCONNECT.
  const PacketType type = type_of(packet);
  const bool strip = options_.role == Role::server && !peer_wants_problem_information_ &&
                     type != PacketType::publish && type != PacketType::connack &&
                     type != PacketType::disconnect;
  auto strip_problem_information = [](Packet& p) {
    std::visit(
        [](auto& x) {
          if constexpr (requires { x.properties; }) {
            x.properties.erase(PropertyId::reason_string);
            x.properties.erase(PropertyId::user_property);
          }
        },
        p);
  };
  if (strip) strip_problem_information(packet);
  // The peer's Maximum Packet Size: drop the optional properties that do
  // not fit (e.g. [MQTT-3.4.2-2], [MQTT-3.14.2-3]).
  // (Nothing can exceed the protocol's own maximum: skip the sizing then.)
  if (type != PacketType::connect && peer_maximum_packet_size_ < max_packet_size &&
      encoded_size(packet, version_) > peer_maximum_packet_size_) {
    strip_problem_information(packet);
  }
  encode(packet, version_, tx_);
  if (options_.role == Role::client) restart_keep_alive(now);
  if (options_.trace_packets) emit(event::PacketSent{std::move(packet)});
}

void Connection::restart_keep_alive(Time now) {
  if (keep_alive_ == 0 || state_ != State::connected) return;
  const Duration interval = std::chrono::seconds(keep_alive_);
  // Server: 1.5 x Keep Alive after the last packet received [MQTT-3.1.2-22].
  // Client: one Keep Alive after the last packet sent [MQTT-3.1.2-20].
  set_timer(keep_alive_timer,
            options_.role == Role::server ? now + interval + interval / 2 : now + interval);
}

void Connection::request_close(CloseCause cause) {
  if (state_ == State::closing || state_ == State::closed) return;
  state_ = State::closing;
  close_cause_ = cause;
  timers_.fill(never);
  emit(event::CloseRequested{cause});
}

// The one place where a peer's violation becomes the reply the spec asks for.
void Connection::fail(Violation violation, Time now) {
  if (state_ == State::closing || state_ == State::closed) return;
  const ReasonCode rc = violation.reason;
  emit(event::ViolationDetected{std::move(violation), Side::remote});
  // A CONNACK answers only what was (or claimed to be) a CONNECT.
  const bool got_connect =
      state_ == State::awaiting_decision || (first_count_ > 0 && (first_bytes_[0] >> 4) == 1);
  if (options_.role == Role::server && !connack_sent_ && !got_connect) {
    // Not even a CONNECT: close without a word [MQTT-3.1.0-1].
  } else if (options_.role == Role::server && !connack_sent_) {
    // Before CONNACK: a refusing CONNACK where the version allows it
    // (4.13.1); never a DISCONNECT [MQTT-3.14.0-1].
    if (state_ == State::awaiting_connect && first_count_ >= 2) {
      // Not decoded: read the Protocol Level the CONNECT announced.
      const std::size_t header = (first_bytes_[1] & 0x80) ? 3 : 2;
      if (first_count_ > header + 6) {
        const std::uint8_t level = first_bytes_[header + 6];
        version_ = level == 5 ? Version::v5 : Version::v3_1_1;
      }
    }
    Connack refusal;
    if (version_ == Version::v5) {
      refusal.reason_code = allowed_in(rc, PacketType::connack) ? rc : ReasonCode::protocol_error;
      send_packet(refusal, now);
    } else if (connack_code_v311(rc) && rc != ReasonCode::success) {
      refusal.reason_code = rc;  // 0x01 unacceptable protocol version, 0x02 identifier rejected
      send_packet(refusal, now);
    }
  } else if (version_ == Version::v5 && state_ != State::awaiting_connect) {
    Disconnect d;
    d.reason_code = allowed_in(rc, PacketType::disconnect) ? rc : ReasonCode::protocol_error;
    send_packet(d, now);
  }
  request_close(CloseCause::protocol_violation);
}

// ---- commands shared by the roles ----------------------------------------

void Connection::disconnect(Disconnect packet, Time now) {
  require(state_ != State::idle && state_ != State::awaiting_connect,
          "disconnect() before the connection started");
  if (state_ == State::closing || state_ == State::closed) return;
  if (options_.role == Role::server) {
    require(!packet.properties.contains(PropertyId::session_expiry_interval),
            "a server must not send Session Expiry Interval in DISCONNECT [MQTT-3.14.2-2]");
    // 3.1.1 servers have no DISCONNECT; 5.0 servers only after CONNACK [MQTT-3.14.0-1].
    if (version_ == Version::v5 && connack_sent_) send_packet(std::move(packet), now);
  } else if (version_ == Version::v5 || packet.reason_code == ReasonCode::success) {
    send_packet(std::move(packet), now);
  }
  request_close(CloseCause::disconnect_sent);
}

void Connection::close(CloseCause cause, Time) {
  request_close(cause);
}

void Connection::send(const Packet& packet, Time now) {
  require(options_.role == Role::any, "send() is for the any role");
  encode(packet,
         std::holds_alternative<Connect>(packet) ? std::get<Connect>(packet).version : version_,
         tx_);
  (void)now;
}

void Connection::send_raw(ByteView bytes, Time) {
  require(options_.role == Role::any, "send_raw() is for the any role");
  tx_.insert(tx_.end(), bytes.begin(), bytes.end());
}

}  // namespace assay::mqtt
