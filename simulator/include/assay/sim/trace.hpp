// What the simulator records as it runs: the events the checkers read
// (docs/guarantees.md, "Trace model"), at application level (publish,
// completion, delivery), connection level (opened, connected, lost) and
// fault level (crashes, partitions, heal). Every event has the virtual
// time and a sequence number; clients and brokers are numbered by the
// World (World::client_name() gives their names).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "assay/client/engine.hpp"
#include "assay/mqtt/packets.hpp"
#include "assay/sim/scenario.hpp"

namespace assay::sim {

// A message's id in the run: every publish (and every Will, per connection)
// gets a new one, carried in its payload as "m" + 16 hex digits ({msg}).
using MessageId = std::uint64_t;
using ClientIndex = std::uint32_t;
using BrokerIndex = std::uint32_t;
using LinkId = std::uint64_t;

std::string message_tag(MessageId id);                 // "m000000000000002a"
MessageId find_message_tag(std::string_view payload);  // 0 when there is none

namespace trace {

// A client handed a message to its engine.
struct Publish {
  ClientIndex client;
  MessageId msg;
  std::string topic;
  mqtt::QoS qos;
  bool retain;
  bool empty;  // a zero-length payload (a retained message's removal)
  std::optional<std::uint32_t> expiry_s;
};
// The engine said how the publish ended (ok: acknowledged; otherwise the
// outcome, which for a QoS 1/2 message lost with a session is "info").
struct PublishDone {
  ClientIndex client;
  MessageId msg;
  client::Outcome outcome;
  mqtt::ReasonCode reason_code;
};
// The engine handed a message to the application.
struct Deliver {
  ClientIndex client;
  MessageId msg;  // 0: the payload names no message (unexpected)
  std::string topic;
  mqtt::QoS qos;
  bool retain;
  bool dup;
};
// A SUBACK: the subscription is in the client's session from now on.
struct Subscribed {
  ClientIndex client;
  std::string filter;
  mqtt::QoS granted;
  bool refused;
};
// CONNACK Success. resumed: Session Present. will: the Will's message id
// for this connection (0: none).
// A connection attempt: the client opened a link and will send CONNECT on
// it, with this Will (0: none). The broker may accept it and publish the
// Will even if the CONNACK never reaches the client.
struct Connecting {
  ClientIndex client;
  LinkId link;
  MessageId will;
};
struct Connected {
  ClientIndex client;
  LinkId link;
  bool resumed;
  bool clean_start;
  MessageId will;
};
// A connection ended as the client saw it. normal: it sent DISCONNECT with
// Success itself (the Will must not be published).
struct Lost {
  ClientIndex client;
  LinkId link;
  client::Cause cause;
  bool normal;
  std::optional<mqtt::ReasonCode> reason_code;
};
// Bytes the client sent on `link` reached a broker that had closed it (or
// crashed): whatever they said, such as a DISCONNECT, it never read.
struct Unheard {
  ClientIndex client;
  LinkId link;
};
// The engine saw a protocol violation by the broker: always a failure.
struct Violation {
  ClientIndex client;
  std::string detail;
};
struct BrokerCrash {
  BrokerIndex broker;
  // Links are numbered in the order they were opened: these many were
  // opened before the crash (what arrives on them later, a CONNACK still on
  // its way say, the broker sent before it went down).
  LinkId links_before;
};
struct BrokerRestart {
  BrokerIndex broker;
  bool durable;  // its state was loaded from its store
};
struct ClientCrash {
  ClientIndex client;
  bool durable_store;  // its session survives in its store
};
struct ClientRestart {
  ClientIndex client;
};
// The broker dropped its copy of a message for a subscriber's session and
// said so (broker::DropReason): a Will or QoS 0 copy nobody was told was
// taken. The checkers excuse exactly these.
struct Dropped {
  BrokerIndex broker;
  ClientIndex client;
  MessageId msg;
  enum class Why : std::uint8_t { queue_full, offline_qos0, session_ended } why;
};
// A control packet as its receiver got it (with World::set_wire_trace):
// to_broker, or to the client. The wire checker reads these.
struct Packet {
  ClientIndex client;
  LinkId link;
  bool to_broker;
  mqtt::Packet packet;
};
// A fault began or ended (partition, hold, degrade, reset...), for people.
struct Fault {
  std::string what;
};
// The fault phase is over: everything healed, the liveness phase begins.
struct Heal {};

using Event = std::variant<Publish, PublishDone, Deliver, Subscribed, Connecting, Connected, Lost,
                           Violation, BrokerCrash, BrokerRestart, ClientCrash, ClientRestart, Fault,
                           Heal, Packet, Dropped, Unheard>;

}  // namespace trace

// Receives every event in order.
class Observer {
 public:
  virtual ~Observer() = default;
  virtual void on(Nanos t, std::uint64_t seq, const trace::Event& e) = 0;
};

}  // namespace assay::sim
