// What the checkers share: a model of the run built from the trace, kept
// by one Observer that sees every event before the checkers do. Messages
// by id (they are numbered from 1, so a vector), Wills by id, each
// subscriber's subscriptions and when its session last began, and the
// broker crashes.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "assay/mqtt/topic.hpp"
#include "assay/sim/checker.hpp"
#include "assay/sim/world.hpp"

namespace assay::sim::checkers {

struct Message {
  bool known = false;
  bool will = false;  // a Will, published by the broker for a connection
  ClientIndex publisher = 0;
  std::string topic;
  mqtt::QoS qos = mqtt::QoS::at_most_once;
  bool retain = false;
  bool empty = false;
  Nanos invoked = 0;
  std::uint64_t order = 0;  // the publisher's count of messages so far
  std::optional<std::uint32_t> expiry_s;
  enum class Done : std::uint8_t { pending, ok, failed } done = Done::pending;
  bool orphaned = false;  // its publisher crashed while it was pending (no store)
  // Its publisher's session was lost (or the broker's, in a volatile crash)
  // while it was pending: it was sent again as a new message, so QoS 2 may
  // arrive twice (exactly once needs the session).
  bool resent_as_new = false;
  // QoS 2 from a client that crashed without a store and then resumed its
  // session anyway (MQTT-4.1.0-1 broken by the client): the broker may take
  // it for a duplicate of a message on the same id before the crash.
  bool amnesiac = false;
};

struct Subscription {
  std::string filter;   // as subscribed ("$share/g/f" for a group)
  std::string matches;  // the filter topics are matched against
  std::optional<std::string> group;
  mqtt::QoS granted = mqtt::QoS::at_most_once;
  Nanos since = 0;                                  // its SUBACK
  Nanos until = std::numeric_limits<Nanos>::max();  // its session's end, or replaced
  bool active() const { return until == std::numeric_limits<Nanos>::max(); }
};

struct Subscriber {
  // Every subscription the subscriber ever had, in the order granted; the
  // active ones have no end yet.
  std::vector<Subscription> subscriptions;
  Nanos session_since = 0;  // when its current session began
  bool connected_once = false;
  bool connecting = false;  // it has sent a CONNECT (and may have subscribed on it)
};

class Model : public Observer {
 public:
  Model(const World& world, Durability mode);
  void on(Nanos t, std::uint64_t seq, const trace::Event& e) override;

  const Message* message(MessageId id) const {
    return id > 0 && id <= messages_.size() && messages_[id - 1].known ? &messages_[id - 1]
                                                                       : nullptr;
  }
  const std::vector<Message>& messages() const { return messages_; }
  const Subscriber& subscriber(ClientIndex c) const { return subscribers_[c]; }
  std::size_t clients() const { return subscribers_.size(); }
  Durability mode() const { return mode_; }
  // Broker crashes, in order (volatile: every session ended there).
  const std::vector<Nanos>& crashes() const { return crashes_; }
  // Whether a session-ending event for `c` happened in (after, until].
  bool session_ended(ClientIndex c, Nanos after) const;
  Nanos heal_time() const { return heal_; }
  // Whether `c` crashed without a store after `t` and its current
  // connection resumed the session all the same: the incoming QoS 2 ids it
  // had are gone, so a resent PUBLISH is new to it [MQTT-4.1.0-1].
  bool forgot_since(ClientIndex c, Nanos t) const {
    return resumed_amnesiac_[c] && last_amnesia_[c] > t;
  }
  // The active subscriptions of `s` that `topic` matches.
  std::vector<const Subscription*> matching(ClientIndex s, const std::string& topic) const;
  // Whether the broker said it dropped its copy of `m` for `s`, and why.
  std::optional<trace::Dropped::Why> dropped(ClientIndex s, MessageId m) const;
  // Also those that ended, and those asked for whose SUBACK was lost: any
  // `topic` could have come through.
  bool ever_matched(ClientIndex s, const std::string& topic) const;

 private:
  static void end_subscriptions(Subscriber& s, Nanos t);
  void mark_resent(ClientIndex publisher);
  const World& world_;
  Durability mode_;
  std::vector<Message> messages_;
  std::vector<Subscriber> subscribers_;
  std::vector<std::uint64_t> published_;  // per client
  std::vector<bool> amnesiac_;            // crashed without a store, no new session since
  std::vector<bool> resumed_amnesiac_;    // and its current connection resumed the session
  std::vector<Nanos> last_amnesia_;       // its last crash without a store
  std::vector<Nanos> crashes_;
  std::unordered_map<std::uint64_t, trace::Dropped::Why> dropped_;  // (subscriber, message)
  Nanos heal_ = -1;
};

}  // namespace assay::sim::checkers
