// The Connection state machine (sans-IO): one network connection, in the
// client role, the server role, or the `any` role that test tools use to
// send what the rules forbid.
//
// Inputs, each with `now`: receive(bytes), the commands (connect, accept,
// publish, ...), handle_timeout(), transport_closed().
// Outputs, pulled by the driver:
//   1. poll_event() until it returns nullopt, handling each event (handling
//      may call more commands);
//   2. poll_transmit() and write the bytes to the transport;
//   3. next_deadline(): call handle_timeout() at that time (or on any input
//      after it);
//   4. after a CloseRequested event and the last bytes are written, close the
//      transport and call transport_closed().
// Nothing here reads a clock, opens a socket or starts a thread. Peer input
// never throws: it becomes a ViolationDetected event, the reply the spec
// asks for (CONNACK or DISCONNECT with a reason code in 5.0, a close in
// 3.1.1) and a CloseRequested. Local misuse (a command in the wrong state, a
// packet the version cannot carry) throws std::logic_error or EncodeError.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "assay/mqtt/codec.hpp"
#include "assay/mqtt/constants.hpp"
#include "assay/mqtt/fifo.hpp"
#include "assay/mqtt/packets.hpp"
#include "assay/mqtt/session.hpp"
#include "assay/mqtt/time.hpp"

namespace assay::mqtt {

enum class Role : std::uint8_t { client, server, any };
enum class Side : std::uint8_t { local, remote };

enum class CloseCause : std::uint8_t {
  disconnect_sent,      // we sent DISCONNECT (or closed on purpose, 3.1.1 server)
  disconnect_received,  // the peer sent DISCONNECT
  protocol_violation,   // the peer broke a rule
  keep_alive_timeout,   // server: nothing within 1.5 x Keep Alive; client: no PINGRESP
  connect_timeout,      // no CONNECT (server) or CONNACK (client) in time
  connection_refused,   // a CONNACK with an error code
  transport_closed,     // the network connection ended without DISCONNECT
};

std::string_view to_string(CloseCause c);

struct ConnectionOptions {
  Role role = Role::client;
  // The version the `any` role decodes under until a CONNECT says otherwise
  // (the client takes it from its CONNECT, the server from the peer's).
  Version version = Version::v5;
  // The largest packet accepted before the limits are negotiated (a server
  // decoding CONNECT). Afterwards the Maximum Packet Size we announced holds.
  std::uint32_t maximum_packet_size = max_packet_size;
  // Server: CONNECT must arrive within this; client: CONNACK.
  Duration connect_timeout = std::chrono::seconds(10);
  // Client: how long to wait for PINGRESP; 0 means one Keep Alive interval.
  Duration ping_timeout{0};
  // Wait for acknowledge() before sending PUBACK/PUBREC (a broker acks once
  // it owns the message); otherwise acknowledge on receipt with Success.
  bool manual_ack = false;
  // Give outgoing topics Topic Aliases when the peer allows them.
  bool auto_topic_alias = true;
  // Report every packet sent and received as an event (tracing, tests).
  bool trace_packets = false;
  // Test only: a planted bug (retransmissions go out with DUP 0), so that
  // the simulator can show its checkers find it. Never set otherwise.
  bool planted_resend_without_dup = false;
};

// How an outgoing application message ended.
enum class Outcome : std::uint8_t {
  acknowledged,  // QoS 0 sent; QoS 1 PUBACK / QoS 2 PUBCOMP with a code < 0x80
  refused,       // PUBACK/PUBREC with a code >= 0x80 [MQTT-4.4.0-2]
  discarded,     // never sent: too large for the peer, QoS or retain not
                 // supported, or the session was discarded (reason_code says)
  expired,       // its Message Expiry Interval passed while it was queued
};

namespace event {
struct PacketReceived {
  Packet packet;
};
struct PacketSent {
  Packet packet;
};
// Server: a CONNECT arrived. Answer with accept(), reject() or auth().
struct ConnectReceived {
  Connect connect;
};
// An AUTH step (5.0 enhanced authentication); answer with auth(), or, on a
// server during CONNECT, accept()/reject().
struct AuthReceived {
  Auth auth;
};
// Both roles: the CONNACK with Success went out (server) or came in (client).
struct Connected {
  Connack connack;
};
// Client: the server refused the connection.
struct ConnectRefused {
  Connack connack;
};
// An application message from the peer, Topic Alias resolved. With
// manual_ack and QoS > 0, call acknowledge(packet_id) once it is owned.
struct MessageReceived {
  Publish message;
  bool awaiting_ack = false;
};
// An application message we published has ended; its packet id, if it had
// one, is free again.
struct PublishCompleted {
  Ticket ticket = 0;
  std::uint16_t packet_id = 0;
  QoS qos = QoS::at_most_once;
  Outcome outcome = Outcome::acknowledged;
  ReasonCode reason_code = ReasonCode::success;
};
// Server: answer with suback() / unsuback().
struct SubscribeReceived {
  Subscribe subscribe;
};
struct UnsubscribeReceived {
  Unsubscribe unsubscribe;
};
// Client: the answer to subscribe() / unsubscribe(); the packet id is free.
struct SubscribeAcked {
  Suback suback;
};
struct UnsubscribeAcked {
  Unsuback unsuback;
};
struct DisconnectReceived {
  Disconnect disconnect;
};
struct ViolationDetected {
  Violation violation;
  Side side = Side::remote;
};
// Write what poll_transmit() holds, then close the transport.
struct CloseRequested {
  CloseCause cause;
};
// The connection is over. publish_will: the server must publish the Will
// (after its delay): every end but a DISCONNECT with Reason Code 0x00
// [MQTT-3.1.2-8], [MQTT-3.14.4-3].
struct Closed {
  CloseCause cause;
  bool publish_will = false;
};
}  // namespace event

using Event =
    std::variant<event::PacketReceived, event::PacketSent, event::ConnectReceived,
                 event::AuthReceived, event::Connected, event::ConnectRefused,
                 event::MessageReceived, event::PublishCompleted, event::SubscribeReceived,
                 event::UnsubscribeReceived, event::SubscribeAcked, event::UnsubscribeAcked,
                 event::DisconnectReceived, event::ViolationDetected, event::CloseRequested,
                 event::Closed>;

class Connection {
 public:
  enum class State : std::uint8_t {
    idle,               // client: connect() not called yet
    awaiting_connect,   // server: waiting for CONNECT
    awaiting_connack,   // client: CONNECT sent
    awaiting_decision,  // server: CONNECT (or AUTH) received, accept/reject/auth pending
    connected,
    closing,  // CloseRequested emitted, waiting for transport_closed()
    closed,
  };

  // Arms the connect timer from `now`.
  Connection(ConnectionOptions options, Time now);

  // ---- inputs -------------------------------------------------------------
  void receive(ByteView bytes, Time now);
  void handle_timeout(Time now);
  void transport_closed(Time now);

  // Client: sends CONNECT. A Clean Start discards the session's state
  // [MQTT-3.1.2-4]; in-flight messages complete as discarded.
  void connect(Connect packet, Session session, Time now);
  // Server: answers a CONNECT with a Success CONNACK and starts serving
  // `session`. With Session Present, in-flight messages are resent
  // [MQTT-4.4.0-1]; without, the session starts empty.
  void accept(Connack connack, Session session, Time now);
  // Server: answers with an error CONNACK (3.1.1: its return code) and closes.
  void reject(Connack connack, Time now);
  // 5.0 enhanced authentication step, either role.
  void auth(Auth packet, Time now);

  // Hands an application message to the session: sent now if connected and
  // the peer's Receive Maximum allows, else queued in order. Returns the
  // ticket its PublishCompleted will carry. Topic, QoS, RETAIN, properties
  // and payload are used; DUP and the packet id are the connection's.
  Ticket publish(Publish message, Time now);
  // The same under a ticket the driver chose: a client engine that queues
  // messages itself and numbers them across connections hands each one over
  // once can_publish() says it goes out now. The driver keeps tickets unique.
  void publish_as(Ticket ticket, Publish message, Time now);
  // Whether publish() would send `qos` at once rather than queue it: the
  // connection is up, nothing is queued ahead, and for QoS 1/2 the peer's
  // Receive Maximum leaves quota and a Packet Identifier is free.
  bool can_publish(QoS qos) const;
  // Whether a Packet Identifier is free for a SUBSCRIBE or UNSUBSCRIBE (all
  // 65,535 may be held by messages in flight and open requests).
  bool packet_id_available() const { return session_.used_ids_.size() < max_packet_identifier; }
  // With manual_ack: the received QoS 1/2 message `packet_id` was not
  // taken and gets no acknowledgement (3.1.1 has no code to refuse with; the
  // caller closes the connection). Its id is forgotten, so the client's
  // resend is a new message and not a duplicate of one never taken.
  void abandon(std::uint16_t packet_id);
  // With manual_ack: the received QoS 1/2 message `packet_id` is owned (or
  // refused with a code >= 0x80). Acks still leave in receive order
  // [MQTT-4.6.0-2], [MQTT-4.6.0-3].
  void acknowledge(std::uint16_t packet_id, Time now, ReasonCode reason_code = ReasonCode::success,
                   Properties properties = {});

  // Client: sends SUBSCRIBE/UNSUBSCRIBE with a fresh packet id (returned;
  // 0 if the connection has ended).
  std::uint16_t subscribe(Subscribe packet, Time now);
  std::uint16_t unsubscribe(Unsubscribe packet, Time now);
  // Server: the answers, one reason code per filter [MQTT-3.8.4-6].
  void suback(Suback packet, Time now);
  void unsuback(Unsuback packet, Time now);

  // Sends DISCONNECT (when the version and role allow) and asks to close.
  void disconnect(Disconnect packet, Time now);
  // Asks to close without sending anything.
  void close(CloseCause cause, Time now);

  // `any` role: send a packet or raw bytes as they are.
  void send(const Packet& packet, Time now);
  void send_raw(ByteView bytes, Time now);

  // ---- outputs ------------------------------------------------------------
  std::optional<Event> poll_event();
  // Frees the storage of drained queues. For a driver with many connections
  // that may stay idle: after CONNECT or SUBSCRIBE, say, not after every
  // packet (freeing and growing again on every message costs more than the
  // memory is worth while messages flow).
  void shrink();
  // Appends the bytes to transmit to `out`; false if there were none.
  bool poll_transmit(Bytes& out);
  // The bytes to transmit, left in place; consume_transmit(n) drops the
  // first n of them once the driver has written them.
  ByteView pending_transmit() const { return tx_; }
  void consume_transmit(std::size_t n);
  std::optional<Time> next_deadline() const;

  // ---- state --------------------------------------------------------------
  State state() const { return state_; }
  // Closing or closed. Commands that answer events (accept, reject, auth,
  // suback, unsuback, acknowledge) and subscribe/unsubscribe are ignored
  // then: the connection may have failed while the event waited.
  bool ended() const { return state_ == State::closing || state_ == State::closed; }
  Role role() const { return options_.role; }
  Version version() const { return version_; }
  const Session& session() const { return session_; }
  // The session, for the driver to keep after the connection ends; an empty
  // one (no client id) stays.
  Session take_session() { return std::exchange(session_, Session{}); }
  // The Keep Alive in force (seconds), after Server Keep Alive.
  std::uint16_t keep_alive() const { return keep_alive_; }
  // The peer's limits as negotiated.
  std::uint16_t peer_receive_maximum() const { return peer_receive_maximum_; }
  std::uint32_t peer_maximum_packet_size() const { return peer_maximum_packet_size_; }
  std::uint16_t peer_topic_alias_maximum() const { return peer_topic_alias_maximum_; }
  // The CONNECT sent (client) or received (server; until it is answered).
  const Connect* connect_packet() const { return connect_.get(); }
  // 5.0: the CONNECT's Authentication Method, which every AUTH of the
  // connection carries [MQTT-4.12.0-5]; null without enhanced authentication.
  const std::string* authentication_method() const {
    return extras_ && extras_->authentication_method ? &*extras_->authentication_method : nullptr;
  }

 private:
  enum Timer : std::size_t { connect_timer, keep_alive_timer, ping_timer, timer_count };

  // connection.cpp: the frame of the machine
  void on_packet(Packet packet, Time now);
  void on_short_ack(ShortAck ack, Time now);
  bool allowed(PacketType type, Time now);
  void send_packet(Packet packet, Time now);
  template <PacketType T>
  void send_ack(PublishAck<T> ack, Time now);
  template <class E>
  void emit(E&& e) {  // built in place: an Event is a quarter of a kilobyte
    events_.emplace_back(std::in_place_type<std::decay_t<E>>, std::forward<E>(e));
  }
  void fail(Violation violation, Time now);
  void request_close(CloseCause cause);
  static constexpr Time never = Time::max();
  void set_timer(Timer t, std::optional<Time> at) { timers_[t] = at.value_or(never); }
  void restart_keep_alive(Time now);
  void require(bool ok, const char* what) const;

  // connection_connect.cpp
  void on_connect(Connect packet, Time now);
  void on_connack(Connack packet, Time now);
  void on_auth(Auth packet, Time now);
  void on_disconnect(Disconnect packet, Time now);
  void start_session(bool session_present, Time now);

  // connection_publish.cpp
  void on_publish(Publish packet, Time now);
  void on_puback(const Puback& packet, Time now);
  void on_pubrec(const Pubrec& packet, Time now);
  void on_pubrel(const Pubrel& packet, Time now);
  void on_pubcomp(const Pubcomp& packet, Time now);
  void send_publish(InFlight* entry, Publish message, Ticket ticket, Time now);
  void drain(Time now);
  void complete(Ticket ticket, std::uint16_t packet_id, QoS qos, Outcome outcome, ReasonCode rc);
  void flush_acks(Time now);
  void discard_session_state(ReasonCode why);
  void erase_inflight(std::vector<InFlight>::iterator it);

  // connection_subscribe.cpp
  void on_subscribe(Subscribe packet, Time now);
  void on_unsubscribe(Unsubscribe packet, Time now);
  void on_suback(Suback packet, Time now);
  void on_unsuback(Unsuback packet, Time now);

  ConnectionOptions options_;
  State state_;
  Version version_ = Version::v5;
  std::uint8_t first_count_ = 0;  // of first_bytes_
  StreamDecoder decoder_;
  Bytes tx_;
  Fifo<Event> events_;
  std::array<Time, timer_count> timers_{never, never, never};  // `never`: not set
  // Server: the start of the stream, to answer a bad CONNECT.
  std::array<std::uint8_t, 16> first_bytes_{};

  Session session_;
  // Sent (client) or received (server, dropped once answered: a broker
  // holds tens of thousands of connections).
  std::unique_ptr<Connect> connect_;
  bool will_declared_ = false;  // server: the CONNECT had a Will
  // The CONNACK's Reason Code, sent (server) or received (client).
  std::optional<ReasonCode> connack_code_;
  bool connack_sent_ = false;
  bool normal_disconnect_received_ = false;
  CloseCause close_cause_ = CloseCause::transport_closed;

  // Negotiated values (5.0 defaults when absent).
  std::uint16_t keep_alive_ = 0;
  std::uint16_t receive_maximum_ = default_receive_maximum;  // ours
  std::uint16_t topic_alias_maximum_ = 0;                    // ours
  std::uint16_t peer_receive_maximum_ = default_receive_maximum;
  std::uint32_t peer_maximum_packet_size_ = max_packet_size;
  std::uint16_t peer_topic_alias_maximum_ = 0;
  QoS peer_maximum_qos_ = QoS::exactly_once;  // client: the server's Maximum QoS
  bool peer_retain_available_ = true;
  QoS maximum_qos_ = QoS::exactly_once;  // server: what we announced
  bool retain_available_ = true;
  bool peer_wants_problem_information_ = true;
  bool ping_outstanding_ = false;

  // Incoming flows on this connection.
  struct PendingAck {
    std::uint16_t packet_id;
    QoS qos;
    bool ready;
    ReasonCode reason_code;
    Properties properties;
    bool silent = false;  // abandon(): leaves the queue without a packet
  };
  Fifo<PendingAck> pending_acks_;  // in receive order
  // How many of the session's in-flight messages went out on this
  // connection (InFlight::sent), counted rather than counted again.
  std::size_t inflight_sent_ = 0;
  IdSet incoming_open_;  // QoS>0 PUBLISHes counted against our Receive Maximum
  // What few connections use, made on first use and kept off the object.
  struct Extras {
    std::optional<std::string> authentication_method;  // enhanced authentication
    std::vector<std::string> incoming_aliases;         // index: Topic Alias
    // Given by auto_topic_alias to a peer that takes aliases.
    std::unordered_map<std::string, std::uint16_t> outgoing_aliases;
  };
  std::unique_ptr<Extras> extras_;
  Extras& extras() {
    if (!extras_) extras_ = std::make_unique<Extras>();
    return *extras_;
  }

  // Packet id -> number of filters, for the few SUBSCRIBE/UNSUBSCRIBE flows
  // open at once: a vector made on first use (8 bytes until then; an
  // unordered_map costs 56 empty, a vector 24).
  class IdCounts {
   public:
    using Entry = std::pair<std::uint16_t, std::size_t>;
    std::size_t* find(std::uint16_t id) {
      if (!entries_) return nullptr;
      for (auto& [k, n] : *entries_) {
        if (k == id) return &n;
      }
      return nullptr;
    }
    bool emplace(std::uint16_t id, std::size_t n) {
      if (find(id) != nullptr) return false;
      if (!entries_) entries_ = std::make_unique<std::vector<Entry>>();
      entries_->emplace_back(id, n);
      return true;
    }
    void erase(std::uint16_t id) {
      if (entries_) std::erase_if(*entries_, [id](const Entry& e) { return e.first == id; });
    }
    void clear() { entries_.reset(); }
    const Entry* begin() const { return entries_ ? entries_->data() : nullptr; }
    const Entry* end() const { return entries_ ? entries_->data() + entries_->size() : nullptr; }

   private:
    std::unique_ptr<std::vector<Entry>> entries_;
  };
  // SUBSCRIBE/UNSUBSCRIBE flows open: a client's awaiting their acks, a
  // server's awaiting suback()/unsuback().
  IdCounts subscribes_;
  IdCounts unsubscribes_;
};

}  // namespace assay::mqtt
