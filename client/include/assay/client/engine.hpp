// The client engine (sans-IO, like the broker engine): one MQTT client
// across any number of network connections. It reconnects with backoff and
// jitter, resumes its session, keeps an offline queue, restores
// subscriptions the server lost, and can keep its whole session in a Store.
// No sockets, clocks, threads or ambient randomness: the Asio library, the
// simulator and tests drive the same code.
//
// Driver contract (the protocol Connection's, one level up):
//   start() once; then the inputs transport_opened(), transport_failed(),
//   receive(), transport_closed(), handle_timeout() and the commands
//   (publish, subscribe, unsubscribe, disconnect), each with `now`.
//   After every input, pull in this order:
//     1. poll_event() until nullopt. OpenTransport: open a network
//        connection to its server, then call transport_opened() or
//        transport_failed(). CloseTransport: write what poll_transmit()
//        holds, close, then call transport_closed().
//     2. poll_transmit(): write the bytes to the open transport.
//     3. next_deadline(): call handle_timeout() then (or at any input
//        after it).
//   There is at most one transport at a time; bytes of a transport that
//   was closed must not be fed to receive().
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "assay/client/config.hpp"
#include "assay/client/store.hpp"
#include "assay/mqtt/connection.hpp"

namespace assay::client {

using mqtt::Outcome;
using mqtt::Ticket;

// Identifies a subscribe() or unsubscribe() call in its completion event.
// 0 is the engine's own: the SUBSCRIBE that restores subscriptions a
// server lost.
using RequestId = std::uint64_t;

// Why a connection ended, or an attempt failed.
enum class Cause : std::uint8_t {
  unreachable,         // the transport could not be opened (transport_failed, or not in time)
  connect_timeout,     // no CONNACK within connect_timeout
  refused,             // CONNACK with an error code (reason_code says which)
  server_disconnect,   // the server sent DISCONNECT (reason_code)
  keep_alive_timeout,  // no PINGRESP in time
  protocol_violation,  // the server broke a rule (reason_code: what we told it)
  transport_closed,    // the network connection ended without DISCONNECT
  local,               // disconnect() was called
};

std::string_view to_string(Cause c);

namespace event {
// Open a network connection to `server`, then call transport_opened() or
// transport_failed(). `attempt` counts attempts since the last stable
// connection (1 for the first).
struct OpenTransport {
  Server server;
  std::uint64_t attempt = 1;
};
// Write what poll_transmit() holds, close the transport, then call
// transport_closed().
struct CloseTransport {};
// CONNACK with Success. resumed: Session Present (the server kept our
// session); otherwise lost subscriptions are being restored.
struct Connected {
  mqtt::Connack connack;
  bool resumed = false;
  bool clean_start = false;  // what the CONNECT asked for
};
// A connection ended or an attempt failed. retry_at: when the next
// attempt opens (nullopt: the engine has stopped; Stopped follows).
struct ConnectionLost {
  Cause cause = Cause::transport_closed;
  std::optional<mqtt::ReasonCode> reason_code;  // CONNACK's, DISCONNECT's
  std::string detail;
  std::optional<Time> retry_at;
};
// An application message from the server. With QoS 2 it comes once
// [MQTT-4.3.3-10]; with a store, its QoS 2 state is durable first.
struct Message {
  mqtt::Publish message;
};
// A publish() has ended: QoS 0 written, QoS 1 PUBACK, QoS 2 PUBCOMP, or
// refused (>= 0x80), discarded (reason says why) or expired while queued.
struct PublishDone {
  Ticket ticket = 0;
  mqtt::QoS qos = mqtt::QoS::at_most_once;
  Outcome outcome = Outcome::acknowledged;
  mqtt::ReasonCode reason_code = mqtt::ReasonCode::success;
};
// SUBACK for a subscribe() (id 0: a restoring SUBSCRIBE), one code per
// filter, in the order given.
struct SubscribeDone {
  RequestId id = 0;
  std::vector<std::string> filters;
  std::vector<mqtt::ReasonCode> reason_codes;
  mqtt::Properties properties;
};
// UNSUBACK (3.1.1 carries no codes: each reads Success).
struct UnsubscribeDone {
  RequestId id = 0;
  std::vector<std::string> filters;
  std::vector<mqtt::ReasonCode> reason_codes;
};
// The engine will not connect again: disconnect() was called, a refusal was
// final, or max_attempts was reached. Messages still queued stay in the
// session (and the store).
struct Stopped {
  Cause cause = Cause::local;
  std::optional<mqtt::ReasonCode> reason_code;
};
// With trace_packets: every control packet, both ways.
struct PacketSent {
  mqtt::Packet packet;
};
struct PacketReceived {
  mqtt::Packet packet;
};
}  // namespace event

using Event =
    std::variant<event::OpenTransport, event::CloseTransport, event::Connected,
                 event::ConnectionLost, event::Message, event::PublishDone, event::SubscribeDone,
                 event::UnsubscribeDone, event::Stopped, event::PacketSent, event::PacketReceived>;

class Engine {
 public:
  enum class State : std::uint8_t {
    idle,        // start() not called
    waiting,     // for the reconnect delay
    opening,     // OpenTransport emitted
    connecting,  // CONNECT sent, CONNACK awaited
    connected,
    closing,  // CloseTransport emitted
    stopped,
  };

  // Loads the session from config.store, if any. Throws std::invalid_argument
  // for a configuration that cannot work (no server, a bad client id for
  // the version, a store whose records it did not write).
  Engine(ClientConfig config, Random random, Time now);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // ---- inputs -------------------------------------------------------------
  // The first attempt, at once.
  void start(Time now);
  void transport_opened(Time now);
  void transport_failed(Time now, std::string why);
  void receive(mqtt::ByteView bytes, Time now);
  void transport_closed(Time now);
  void handle_timeout(Time now);

  // ---- commands -----------------------------------------------------------
  // Sends now if connected and the server's Receive Maximum allows, else
  // queues (bounded by QueueLimits; a full queue applies its Overflow
  // policy). Its PublishDone carries the returned ticket. Throws
  // std::invalid_argument for a topic that is not a valid Topic Name.
  Ticket publish(mqtt::Publish message, Time now);
  // Sent when connected (queued until then), and restored on every
  // reconnect whose session the server lost. `properties` may carry a
  // Subscription Identifier and User Properties. Throws
  // std::invalid_argument for an invalid filter or an empty list.
  RequestId subscribe(std::vector<mqtt::Subscription> subscriptions, Time now,
                      mqtt::Properties properties = {});
  RequestId unsubscribe(std::vector<std::string> filters, Time now,
                        mqtt::Properties properties = {});
  // Ends the session's connection with DISCONNECT (5.0: `packet`'s reason
  // code and properties, e.g. 0x04 to have the Will published) and stops.
  void disconnect(Time now, mqtt::Disconnect packet = {});
  // 5.0: starts a re-authentication (AUTH 0x19) with the Authenticator.
  void reauthenticate(Time now);
  // The Will of the connections opened from now on (the current one keeps
  // the Will it was opened with).
  void set_will(std::optional<mqtt::Will> will) { config_.connect.will = std::move(will); }

  // ---- outputs ------------------------------------------------------------
  std::optional<Event> poll_event();
  bool has_events() const { return !events_.empty(); }
  bool poll_transmit(mqtt::Bytes& out);
  std::optional<Time> next_deadline() const;

  // ---- state --------------------------------------------------------------
  State state() const { return state_; }
  bool connected() const { return state_ == State::connected; }
  // Messages waiting for a connection, quota or a Packet Identifier.
  std::size_t queued_messages() const { return queue_.size(); }
  std::size_t queued_bytes() const { return queued_bytes_; }
  // QoS 1/2 messages sent and not yet fully acknowledged.
  std::size_t inflight_messages() const;
  // The client id in use (the server's Assigned Client Identifier once
  // given).
  const std::string& client_id() const { return config_.connect.client_id; }
  const ClientConfig& config() const { return config_; }
  // The server of the current or next attempt.
  const Server& server() const;
  // The connection while one is open (for its negotiated limits).
  const mqtt::Connection* connection() const { return conn_.get(); }
  // Subscriptions the engine keeps (restored after a session loss).
  std::vector<mqtt::Subscription> subscriptions() const;

  // What the engine loaded from its store at construction.
  struct Recovered {
    std::size_t inflight = 0;
    std::size_t queued = 0;
    std::size_t incoming_qos2 = 0;
    std::size_t subscriptions = 0;
  };
  const Recovered& recovered() const { return recovered_; }

 private:
  struct Queued {
    Ticket ticket = 0;
    mqtt::Publish publish;
    Time queued_at{0};
  };
  struct Desired {
    mqtt::SubscribeOptions options;
    mqtt::Properties properties;  // of the SUBSCRIBE it came in
    bool confirmed = false;       // a SUBACK granted it
    RequestId request = 0;        // the last request that set it
  };
  struct Request {
    RequestId id = 0;
    std::variant<mqtt::Subscribe, mqtt::Unsubscribe> packet;
    std::uint16_t packet_id = 0;  // on the current connection; 0: not sent yet
  };
  struct Loss {
    Cause cause = Cause::transport_closed;
    std::optional<mqtt::ReasonCode> reason_code;
    std::string detail;
    std::optional<Server> reference;  // a Server Reference with 0x9C/0x9D
    bool moved = false;               // 0x9D: permanently
  };

  // engine.cpp: the connection's life
  void open_transport(Time now);
  mqtt::Connect next_connect() const;
  void pump(Time now);
  void on_connection_event(mqtt::Event& e, Time now);
  void on_connected(const mqtt::Connack& connack, Time now);
  void on_auth(const mqtt::Auth& auth, Time now);
  void on_closed(Time now);
  void lost(Loss loss, Time now);
  void stop(Cause cause, std::optional<mqtt::ReasonCode> rc);

  // reconnect.cpp: when and where the next attempt goes
  void schedule_retry(const Loss& loss, Time now);

  // engine_queue.cpp: messages and requests
  void drain(Time now);
  void send_requests(Time now);
  void restore_subscriptions();
  void on_publish_completed(const mqtt::event::PublishCompleted& c);
  void on_subscribe_acked(const mqtt::Suback& suback);
  void on_unsubscribe_acked(const mqtt::Unsuback& unsuback);
  void enqueue(Queued item);
  bool make_room(const mqtt::Publish& message, Time now);
  void requeue_lost();
  void purge_expired(Time now);
  void done(Ticket ticket, mqtt::QoS qos, Outcome outcome, mqtt::ReasonCode rc);
  template <class E>
  void emit(E&& e) {
    events_.emplace_back(std::in_place_type<std::decay_t<E>>, std::forward<E>(e));
  }

  // persistence.cpp: the session in the store
  void load(Time now);
  void persist();
  void write_changes();
  void sync_store();
  const mqtt::Session& session() const { return conn_ ? conn_->session() : session_; }

  ClientConfig config_;
  Random random_;
  State state_ = State::idle;
  std::unique_ptr<mqtt::Connection> conn_;
  mqtt::Session session_;  // while no connection holds it
  // The server may hold a session for us (we connected with one that can
  // outlive the connection): reconnect with Clean Start 0.
  bool session_started_ = false;
  bool stopping_ = false;  // disconnect() called
  bool close_emitted_ = false;
  std::optional<Loss> loss_;    // what ended the current connection, as learnt
  std::uint64_t failures_ = 0;  // consecutive losses: the backoff's exponent
  std::uint64_t attempts_ = 0;  // since the last stable connection
  std::size_t server_index_ = 0;
  std::optional<Server> redirect_;   // 0x9C: the next attempt only
  bool redirected_ = false;          // the last attempt followed a reference
  Time connected_at_ = Time::max();  // of the current connection; max: none
  Time timer_ = Time::max();         // reconnect delay, or the transport's open deadline

  mqtt::Fifo<Queued> queue_;  // in ticket order
  std::size_t queued_bytes_ = 0;
  Ticket next_ticket_ = 1;
  // In-flight messages of a session the server may have lost, kept until
  // CONNACK tells (resend_after_session_loss).
  std::map<Ticket, mqtt::InFlight> unconfirmed_;
  std::vector<Queued> requeue_;  // collected while a CONNACK's events are handled

  std::map<std::string, Desired> subscriptions_;
  mqtt::Fifo<Request> requests_;  // in the order made
  RequestId next_request_ = 1;

  mqtt::Fifo<Event> events_;

  // What the store holds (with a store only), to write only what changed.
  struct StoredMessage {
    std::uint8_t stage = 0;  // 0 queued, else 1 + InFlight::Stage
    std::uint16_t packet_id = 0;
    friend bool operator==(const StoredMessage&, const StoredMessage&) = default;
  };
  std::map<Ticket, StoredMessage> stored_messages_;
  std::set<std::uint16_t> stored_incoming_;
  std::map<std::string, mqtt::Bytes> stored_subscriptions_;
  bool subscriptions_changed_ = false;
  std::string stored_meta_;
  bool unsynced_ = false;
  Recovered recovered_;
};

}  // namespace assay::client
