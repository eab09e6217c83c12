// What a client engine is configured with: the servers to try, the CONNECT
// it sends, how it reconnects, how its offline queue is bounded, and the
// hooks it calls (enhanced authentication, a store for its session).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "assay/mqtt/packets.hpp"
#include "assay/mqtt/time.hpp"

namespace assay::client {

using mqtt::Duration;
using mqtt::Time;

// A broker to connect to. The engine does not resolve names: the driver
// opens a transport to it (TCP, TLS, a simulated link).
struct Server {
  std::string host = "127.0.0.1";
  std::uint16_t port = 1883;
  friend bool operator==(const Server&, const Server&) = default;
};

// "host", "host:port" or "[v6addr]:port"; nullopt when it is none of them.
// A 5.0 Server Reference may list several servers separated by spaces: the
// first is taken.
std::optional<Server> parse_server(std::string_view text, std::uint16_t default_port);

// Reconnection with exponential backoff and full jitter: the delay before
// retry n (n = 1, 2, ...) is drawn uniformly from
// [0, min(maximum, initial * 2^(n-1))] with the engine's random source, so a
// fleet that lost its broker at one instant does not return at one instant.
struct Backoff {
  bool enabled = true;
  Duration initial = std::chrono::seconds(1);
  Duration maximum = std::chrono::seconds(60);
  // The failure count goes back to zero only after a connection has stayed
  // up this long: a broker that accepts and drops at once is not hammered.
  Duration stable_after = std::chrono::seconds(30);
  // After a refusal that an immediate retry cannot cure (bad credentials
  // 0x86, not authorised 0x87, banned 0x8A, bad authentication method 0x8C,
  // client id not valid 0x85, unsupported version 0x84, and the 3.1.1 codes
  // that mean the same), the next attempt waits at least this long. Zero
  // stops the engine instead: the refusal is final.
  Duration after_refusal = std::chrono::seconds(60);
  // Consecutive failed attempts after which the engine stops; 0: never.
  std::size_t max_attempts = 0;
};

// What happens to a message published while the queue is full.
enum class Overflow : std::uint8_t {
  refuse_new,   // the new message completes at once, discarded with Quota exceeded
  drop_oldest,  // the oldest queued message of the same QoS is discarded to make room
};

// The queue of messages not yet handed to a connection: published while
// offline, or waiting for send quota (the server's Receive Maximum) or a
// Packet Identifier. Bounded by count and by bytes (topic + payload).
struct QueueLimits {
  std::size_t max_messages = 1000;
  std::size_t max_bytes = 16 * 1024 * 1024;
  Overflow qos0 = Overflow::drop_oldest;
  Overflow qos1 = Overflow::refuse_new;
  Overflow qos2 = Overflow::refuse_new;
};

// 5.0 enhanced authentication (§4.12). The engine puts method() and
// initial_data() into CONNECT (or a re-authentication's first AUTH), answers
// each AUTH with Continue authentication by respond(), and calls
// completed() with the properties of the CONNACK or AUTH that ends the
// exchange with Success.
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  virtual std::string method() const = 0;
  virtual std::optional<mqtt::Bytes> initial_data() = 0;
  // The Authentication Data to answer a challenge with; nullopt gives up
  // (the engine disconnects with Not authorized).
  virtual std::optional<mqtt::Bytes> respond(const mqtt::Auth& challenge) = 0;
  // False rejects the server (e.g. its final proof does not verify): the
  // engine disconnects with Not authorized.
  virtual bool completed(const mqtt::Properties& /*properties*/) { return true; }
};

class Store;

// Test only: a bug planted on purpose, so that the simulator can show that
// its checkers find it (docs/simulator.md, "Planted bugs"). Never set it in
// a client people use.
enum class PlantedBug : std::uint8_t {
  none,
  resend_without_dup,         // retransmitted PUBLISHes carry DUP 0 [MQTT-3.3.1-1]
  forget_inflight_on_resume,  // a reconnect drops what was in flight
};

struct ClientConfig {
  // Tried in turn, one per failed attempt. A Server Reference with 0x9D
  // (Server moved) replaces the server that sent it; with 0x9C (Use another
  // server) it is used until an attempt fails without one.
  std::vector<Server> servers{Server{}};
  // The CONNECT of every connection: version, client id, keep alive, will,
  // credentials and 5.0 properties (Session Expiry Interval, Receive
  // Maximum, Maximum Packet Size, Topic Alias Maximum, User Property, ...).
  // clean_start applies to the first connection of a session; reconnects
  // resume it (Clean Start 0) whenever the session can outlive a connection
  // (5.0: Session Expiry Interval > 0; 3.1.1: CleanSession 0).
  mqtt::Connect connect;
  Backoff reconnect;
  QueueLimits queue;
  // Give outgoing topics Topic Aliases up to the server's Topic Alias Maximum.
  bool topic_aliases = true;
  // How long opening a transport and then receiving CONNACK may take.
  Duration connect_timeout = std::chrono::seconds(10);
  // How long to wait for PINGRESP; 0: one Keep Alive.
  Duration ping_timeout{0};
  // When the server has no session for us (Session Present 0 after a
  // reconnect), messages in flight are sent again as new messages, so QoS 1
  // stays at least once; QoS 2 messages whose PUBREC had come count as
  // delivered. Off: they complete as discarded.
  bool resend_after_session_loss = true;
  // Report every packet sent and received (PacketSent/PacketReceived).
  bool trace_packets = false;
  std::shared_ptr<Authenticator> authenticator;
  // Where the session is kept so that a restarted process neither loses nor
  // duplicates; none: in memory only.
  std::shared_ptr<Store> store;
  PlantedBug planted_bug = PlantedBug::none;
};

// The engine's source of randomness (reconnect jitter): uniformly random
// 64-bit values. Injected, so that a simulation with a seed is repeatable.
using Random = std::function<std::uint64_t()>;

}  // namespace assay::client
