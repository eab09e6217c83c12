// Deliveries: what reached each subscriber against what was published.
//   S1  no creation: a delivered message was published (or is a Will), on
//       the topic it was published to, which one of the subscriber's
//       filters matches [MQTT-4.7.2-1];
//   S2  its QoS is the published QoS lowered to a matching subscription's
//       [MQTT-3.8.4-8], [MQTT-3.3.4-2];
//   S3  QoS 0: at most once per matching subscription [MQTT-4.3.1-1];
//   S4  QoS 2: at most once [MQTT-4.3.3-10] (a subscriber that crashed
//       without its store and resumed its session forgot which QoS 2 ids
//       it had received, and is excused: duplicated_by_client_amnesia);
//   S11 a live delivery has RETAIN 0 [MQTT-3.3.1-9]/[MQTT-3.3.1-12], and a
//       RETAIN 1 delivery is a retained message;
//   L1  after the heal, every QoS 1 message the publisher was told is
//       acknowledged reached every entitled subscriber at least once;
//   L2  QoS 2 exactly once; a message whose publisher never heard (pending)
//       may arrive: "recovered".
// Entitled: a matching subscription was granted before the publish and the
// subscriber's session did not end since (a Clean Start, a lost session, a
// broker crash in volatile mode). Shared subscriptions: one delivery per
// group.
#include <unordered_map>

#include "checkers.hpp"

namespace assay::sim::checkers {

namespace {

std::uint64_t key(ClientIndex s, MessageId m) {
  return (static_cast<std::uint64_t>(s) << 40) | m;
}

}  // namespace

class DeliveryChecker final : public Checker {
 public:
  DeliveryChecker(const World& w, const Model& model) : Checker(w), model_(model) {}
  std::string name() const override { return "delivery"; }

  void on(Nanos t, std::uint64_t seq, const trace::Event& e) override {
    const auto* d = std::get_if<trace::Deliver>(&e);
    if (d == nullptr) return;
    const Message* m = model_.message(d->msg);
    const std::string who = world_.client_name(d->client);
    if (m == nullptr) {
      count("unexpected");
      return find("S1", "MQTT-4.7.2-1",
                  who + " was delivered a message nobody published (topic " + d->topic + ")", t,
                  seq);
    }
    if (!m->will && d->topic != m->topic) {
      count("unexpected");
      return find(
          "S1", "MQTT-3.3.2-3",
          who + " got " + message_tag(d->msg) + " on " + d->topic + ", published to " + m->topic, t,
          seq);
    }
    const auto subs = model_.matching(d->client, d->topic);
    if (!model_.ever_matched(d->client, d->topic) && !m->will) {
      count("unexpected");
      return find("S1", "MQTT-4.7.2-1",
                  who + " got " + d->topic + ", which none of its subscriptions matches", t, seq);
    }
    if (!m->will) {
      bool downgrade_ok = subs.empty();  // a subscription not yet acknowledged: any QoS up to
      for (const Subscription* s : subs) {
        downgrade_ok = downgrade_ok || d->qos == std::min(m->qos, s->granted);
      }
      if (!downgrade_ok || d->qos > m->qos) {
        find("S2", "MQTT-3.8.4-8",
             who + " got " + message_tag(d->msg) + " at QoS " +
                 std::to_string(static_cast<int>(d->qos)) + ", published at " +
                 std::to_string(static_cast<int>(m->qos)),
             t, seq);
      }
    }
    if (d->retain && !m->retain && !m->will) {
      find("S11", "MQTT-3.3.1-12",
           who + " got " + message_tag(d->msg) + " with RETAIN 1; it was not published retained", t,
           seq);
    }
    // Deliveries at subscribe time (RETAIN 1) are new publications of the
    // retained message, not duplicates of the live one.
    if (d->retain) {
      ++retained_[key(d->client, d->msg)];
      return;
    }
    Copies& seen = delivered_[key(d->client, d->msg)];
    const std::uint32_t copies = ++seen.count;
    const Nanos previous = seen.last;
    seen.last = t;
    const std::size_t bound = std::max<std::size_t>(1, subs.size());
    if (d->qos == mqtt::QoS::at_most_once && copies > bound) {
      count("duplicated");
      find("S3", "MQTT-4.3.1-1",
           who + " got QoS 0 " + message_tag(d->msg) + " " + std::to_string(copies) + " times", t,
           seq);
    }
    if (d->qos == mqtt::QoS::exactly_once && copies > bound && m->resent_as_new) {
      count("duplicated_after_session_loss");  // at least once is all a lost session leaves
    } else if (d->qos == mqtt::QoS::exactly_once && copies > bound &&
               model_.forgot_since(d->client, previous)) {
      count("duplicated_by_client_amnesia");  // it crashed without its store and resumed
    } else if (d->qos == mqtt::QoS::exactly_once && copies > bound) {
      count("duplicated");
      find("S4", "MQTT-4.3.3-10",
           who + " got QoS 2 " + message_tag(d->msg) + " " + std::to_string(copies) + " times", t,
           seq);
    }
    for (const Subscription* s : subs) {
      if (s->group) delivered_groups_[group_key(*s->group, d->msg)] += 1;
    }
  }

  void finish() override {
    const auto& msgs = model_.messages();
    std::vector<ClientIndex> subscribers;
    for (ClientIndex s = 0; s < model_.clients(); ++s) {
      if (world_.is_subscriber(s)) subscribers.push_back(s);
    }
    for (MessageId id = 1; id <= msgs.size(); ++id) {
      const Message& m = msgs[id - 1];
      if (!m.known || m.will || m.empty) continue;
      for (const ClientIndex s : subscribers)
        check_owed(id, m, s);
    }
    for (const auto& [g, owed] : owed_groups_) {
      const auto it = delivered_groups_.find(g);
      const bool got = it != delivered_groups_.end() && it->second > 0;
      if (got) {
        count("ok");
      } else if (owed.second && model_.message(owed.first)->amnesiac) {
        count("lost_to_client_amnesia");  // as below, for one subscriber
      } else if (owed.second) {
        count("lost");
        find("L1", "MQTT-4.8.2-3",
             "shared group " + g.substr(0, g.find('\n')) + " never got " + message_tag(owed.first),
             model_.heal_time(), 0, true);
      }
    }
  }

 private:
  static std::string group_key(const std::string& group, MessageId m) {
    return group + "\n" + std::to_string(m);
  }

  // Whether `s` was owed `m`, and whether it got it. Owed: a matching
  // subscription was in its session when m was published. Still owed at the
  // end (so lost if missing): that session is still the one it has.
  void check_owed(MessageId id, const Message& m, ClientIndex s) {
    const Subscriber& sub = model_.subscriber(s);
    const auto it = delivered_.find(key(s, id));
    const std::uint32_t copies = it == delivered_.end() ? 0 : it->second.count;
    mqtt::QoS eff = mqtt::QoS::at_most_once;
    bool entitled = false;
    bool still = false;  // by a subscription whose session has not ended
    for (const Subscription& x : sub.subscriptions) {
      if (x.since >= m.invoked || x.until <= m.invoked) continue;
      if (!mqtt::topic_matches(x.matches, m.topic)) continue;
      const mqtt::QoS q = std::min(m.qos, x.granted);
      if (x.group) {
        auto& g = owed_groups_[group_key(*x.group, id)];
        g.first = id;
        g.second = g.second || (x.active() && m.done == Message::Done::ok &&
                                q > mqtt::QoS::at_most_once && !m.expiry_s);
        continue;
      }
      entitled = true;
      eff = std::max(eff, q);
      still = still || x.active();
    }
    if (!entitled) return;
    if (m.done != Message::Done::ok) {
      if (copies > 0) count("recovered");  // its publisher never heard; it came anyway
      return;
    }
    if (copies > 0) {
      count("ok");
      return;
    }
    // Not delivered: lost, unless QoS 0, the session ended since, or it
    // may have expired on the way.
    if (eff == mqtt::QoS::at_most_once || !still || m.expiry_s) {
      count(eff == mqtt::QoS::at_most_once ? "dropped_qos0" : "excused");
      return;
    }
    if (m.amnesiac) {
      count("lost_to_client_amnesia");  // its publisher resumed a session it had lost
      return;
    }
    // A drop the broker owned up to is still a loss: it acknowledged the
    // message, so it had to have room for every copy (or refuse it).
    static constexpr const char* why[] = {"; the broker dropped it: the queue was full",
                                          "; the broker dropped it as QoS 0 while offline",
                                          "; the broker dropped it: the session ended"};
    const auto dropped = model_.dropped(s, id);
    count("lost");
    find(eff == mqtt::QoS::exactly_once ? "L2" : "L1",
         eff == mqtt::QoS::exactly_once ? "MQTT-4.3.3-1" : "MQTT-4.3.2-1",
         world_.client_name(s) + " never got " + message_tag(id) + " (QoS " +
             std::to_string(static_cast<int>(eff)) + ", acknowledged to " +
             world_.client_name(m.publisher) + (dropped ? why[static_cast<int>(*dropped)] : "") +
             ")",
         model_.heal_time(), 0, true);
  }

  const Model& model_;
  struct Copies {
    std::uint32_t count = 0;
    Nanos last = 0;  // the latest one
  };
  std::unordered_map<std::uint64_t, Copies> delivered_;
  std::unordered_map<std::uint64_t, std::uint32_t> retained_;
  std::unordered_map<std::string, std::uint32_t> delivered_groups_;
  std::map<std::string, std::pair<MessageId, bool>> owed_groups_;  // in order: stable reports
};

std::unique_ptr<Checker> make_delivery_checker(const World& w, const Model& m) {
  return std::make_unique<DeliveryChecker>(w, m);
}

}  // namespace assay::sim::checkers
