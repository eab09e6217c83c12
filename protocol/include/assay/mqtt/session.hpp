// The Session (MQTT 5.0 §4.1): the state that outlives a network connection,
// the same for both roles. A Connection borrows it while it is open; the
// driver keeps it in between (the broker in its session store, the client
// library in memory or on disk) and can serialise it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "assay/mqtt/fifo.hpp"
#include "assay/mqtt/id_set.hpp"
#include "assay/mqtt/packets.hpp"
#include "assay/mqtt/time.hpp"

namespace assay::mqtt {

// Identifies an application message handed to the session for delivery, so
// that the driver can match completions to what it published.
using Ticket = std::uint64_t;

// A QoS 1 or 2 message sent to the peer and not yet fully acknowledged.
struct InFlight {
  enum class Stage : std::uint8_t {
    awaiting_puback,   // QoS 1 PUBLISH sent
    awaiting_pubrec,   // QoS 2 PUBLISH sent
    awaiting_pubcomp,  // QoS 2 PUBREL sent [MQTT-4.3.3-5]
  };
  Ticket ticket = 0;
  Publish publish;  // packet_id assigned; the topic is always the full name
  Stage stage = Stage::awaiting_puback;
  // Not part of the stored state: whether it went out on the current
  // connection. After a reconnect nothing has, until it is retransmitted.
  bool sent = false;
  friend bool operator==(const InFlight& a, const InFlight& b) {
    return a.ticket == b.ticket && a.publish == b.publish && a.stage == b.stage;
  }
};

// A message waiting for a connection or for send quota.
struct Queued {
  Ticket ticket = 0;
  Publish publish;  // packet_id not assigned yet
  // When it was queued: a Message Expiry Interval counts from here, and the
  // PUBLISH goes out with what is left of it [MQTT-3.3.2-5/6].
  Time queued_at{0};
  friend bool operator==(const Queued&, const Queued&) = default;
};

// Ages a message that waited from `since` to `now`: its Message Expiry
// Interval is lowered by the whole seconds it waited [MQTT-3.3.2-6]. False
// when the interval has passed, and the message must not be sent
// [MQTT-3.3.2-5]. A message without the property never expires. Used for
// queued messages here and for retained messages by the broker.
bool age_message_expiry(Publish& message, Time since, Time now);

struct SessionLimits {
  std::size_t max_queued_messages = 1000;
  std::size_t max_queued_bytes = 16 * 1024 * 1024;  // payload + topic bytes
  friend bool operator==(const SessionLimits&, const SessionLimits&) = default;
};

enum class EnqueueResult : std::uint8_t {
  queued,
  // The queue is full. The caller applies its policy: a QoS 0 message is
  // dropped; a QoS 1/2 message is refused (the broker counts it, answers
  // with Quota exceeded, or disconnects).
  full,
};

class Session {
 public:
  Session() = default;
  explicit Session(std::string client_id, SessionLimits limits = {})
      : client_id_(std::move(client_id)), limits_(limits) {}

  const std::string& client_id() const { return client_id_; }
  void set_client_id(std::string id) { client_id_ = std::move(id); }
  // 5.0 Session Expiry Interval in seconds (0: ends with the connection;
  // session_never_expires). 3.1.1 CleanSession=0 sessions use that too.
  std::uint32_t expiry_interval() const { return expiry_interval_; }
  void set_expiry_interval(std::uint32_t s) { expiry_interval_ = s; }
  const SessionLimits& limits() const { return limits_; }
  void set_limits(SessionLimits l) { limits_ = l; }

  // Adds a message to the send queue (QoS 0 too, while offline). Assigns
  // and returns its ticket through `ticket`.
  EnqueueResult enqueue(Publish message, Ticket* ticket = nullptr, Time now = Time{0});
  // Whether enqueue() would take `message` now.
  bool has_room(const Publish& message) const;

  const std::vector<InFlight>& inflight() const { return inflight_; }
  const Fifo<Queued>& queue() const { return queue_; }
  const IdSet& incoming_qos2() const { return incoming_qos2_; }
  std::size_t queued_bytes() const { return queued_bytes_; }
  bool empty() const { return inflight_.empty() && queue_.empty() && incoming_qos2_.empty(); }

  // Discards all state but the client id, expiry and limits (Clean Start).
  void clear();

  // For a driver rebuilding a session it stored piece by piece (the client
  // engine's store): an in-flight message, appended after those restored
  // before it (false if its Packet Identifier is 0 or already in use), and
  // an incoming QoS 2 Packet Identifier awaiting PUBREL.
  bool restore_inflight(InFlight entry);
  void restore_incoming_qos2(std::uint16_t id) { incoming_qos2_.insert(id); }

  // A stable binary form (versioned) for persistence; parse() returns
  // nullopt on anything it did not write.
  Bytes serialize() const;
  static std::optional<Session> parse(ByteView bytes);

  friend bool operator==(const Session&, const Session&) = default;

 private:
  friend class Connection;

  // Packet identifiers in use by this side: in-flight PUBLISH, plus the
  // SUBSCRIBE/UNSUBSCRIBE of the current connection [MQTT-2.2.1-3].
  std::optional<std::uint16_t> allocate_packet_id();
  void release_packet_id(std::uint16_t id) { used_ids_.erase(id); }

  std::string client_id_;
  std::uint32_t expiry_interval_ = 0;
  std::uint16_t next_id_ = 1;  // beside expiry_interval_: no padding
  SessionLimits limits_;
  Ticket next_ticket_ = 1;
  IdSet used_ids_;
  std::vector<InFlight> inflight_;  // in the order first sent [MQTT-4.6.0-1]
  Fifo<Queued> queue_;
  std::size_t queued_bytes_ = 0;
  IdSet incoming_qos2_;  // PUBREC owed or sent, PUBREL not yet received
};

}  // namespace assay::mqtt
