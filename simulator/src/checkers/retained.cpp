// S10 retained messages on subscribe [MQTT-3.3.1-6], [MQTT-3.3.1-9],
// [MQTT-3.8.4-3]: after a subscription is granted (Retain Handling 0, not
// shared), each matching topic's retained message comes with RETAIN 1.
// Checked where the answer is certain: a QoS 1/2 (QoS 0 ones MAY be
// discarded), non-empty retained message of the topic was acknowledged to
// its publisher a second before the subscription was granted (so the
// broker held one before the SUBSCRIBE) and no removal came since; then a
// RETAIN 1 copy of some message of that topic must arrive. A broker crash
// in volatile mode ends the retained store (and acknowledgements still on
// the way from it, read after the crash, do not count).
#include <set>

#include "checkers.hpp"

namespace assay::sim::checkers {

class RetainedChecker final : public Checker {
 public:
  RetainedChecker(const World& w, const Model& model) : Checker(w), model_(model) {}
  std::string name() const override { return "retained"; }

  void on(Nanos t, std::uint64_t seq, const trace::Event& e) override {
    if (const auto* p = std::get_if<trace::Publish>(&e)) {
      if (!p->retain) return;
      Topic& topic = topics_[p->topic];
      // A removal (empty payload) makes the topic's state uncertain until
      // another retained message is acknowledged.
      if (p->empty) topic.kept_since = -1;
      topic.cleared = topic.cleared || p->empty;
    } else if (const auto* d = std::get_if<trace::PublishDone>(&e)) {
      const Message* m = model_.message(d->msg);
      if (m == nullptr || !m->retain || m->empty || d->outcome != client::Outcome::acknowledged) {
        return;
      }
      // An acknowledgement the crashed broker sent before it went down says
      // nothing about the store it lost: only those on a later connection.
      if (stale_.contains(d->client)) return;
      Topic& topic = topics_[m->topic];
      if (m->qos == mqtt::QoS::at_most_once || m->expiry_s) return;  // MAY be discarded; may expire
      if (topic.kept_since < 0) topic.kept_since = t;
    } else if (const auto* s = std::get_if<trace::Subscribed>(&e)) {
      if (s->refused || s->granted == mqtt::QoS::at_most_once ||
          mqtt::parse_shared_filter(s->filter)) {
        return;
      }
      // Topics whose retained message the broker surely held before this
      // SUBSCRIBE left: a retained copy of one of their messages must come.
      for (const auto& [name, topic] : topics_) {
        if (topic.kept_since < 0 || topic.kept_since > t - ns_per_s) continue;
        if (!mqtt::topic_matches(s->filter, name)) continue;
        expected_.push_back(Expected{s->client, name, t, seq, false});
      }
    } else if (const auto* got = std::get_if<trace::Deliver>(&e)) {
      if (!got->retain) return;
      for (Expected& x : expected_) {
        if (x.client == got->client && x.topic == got->topic && x.since <= t) x.got = true;
      }
    } else if (const auto* c = std::get_if<trace::Connected>(&e)) {
      stale_.erase(c->client);
      if (!c->resumed) forget(c->client, t);  // its session ended: so did what it was owed
    } else if (std::holds_alternative<trace::BrokerCrash>(e) &&
               model_.mode() == Durability::volatile_) {
      topics_.clear();
      for (Expected& x : expected_)
        x.got = true;  // excused: the store is gone
      for (ClientIndex i = 0; i < world_.clients(); ++i)
        stale_.insert(i);
    }
  }

  void finish() override {
    for (const Expected& x : expected_) {
      if (x.got) {
        count("retained_ok");
        continue;
      }
      count("retained_wrong");
      find("S10", "MQTT-3.3.1-9",
           world_.client_name(x.client) + " subscribed but never got the retained message of " +
               x.topic + " with RETAIN 1",
           x.since, x.seq);
    }
  }

 private:
  struct Topic {
    Nanos kept_since = -1;  // since when a retained message is surely stored
    bool cleared = false;
  };
  struct Expected {
    ClientIndex client;
    std::string topic;
    Nanos since;
    std::uint64_t seq;
    bool got;
  };
  void forget(ClientIndex c, Nanos t) {
    for (Expected& x : expected_) {
      if (x.client == c && x.since < t) x.got = true;
    }
  }
  const Model& model_;
  std::map<std::string, Topic> topics_;
  std::vector<Expected> expected_;
  std::set<ClientIndex> stale_;  // not connected since the last volatile crash
};

std::unique_ptr<Checker> make_retained_checker(const World& w, const Model& m) {
  return std::make_unique<RetainedChecker>(w, m);
}

}  // namespace assay::sim::checkers
