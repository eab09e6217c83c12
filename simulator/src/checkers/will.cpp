// Wills, per connection (each has a Will of its own, with its own id):
//   S12 a connection ended by the client's DISCONNECT (Success) never has
//       its Will published [MQTT-3.1.2-10], [MQTT-3.14.4-3], unless the
//       broker closed it before reading that DISCONNECT (trace::Unheard);
//   S13 a Will reaches a subscriber at most once per matching subscription
//       (a QoS 1 copy resent with DUP 1 is the same one: will_redelivered)
//       [MQTT-3.1.2-10];
//   L4  a connection that ended any other way (reset, keep alive, a crashed
//       client, a takeover) has its Will published to every subscriber
//       whose matching subscription was granted before it ended
//       [MQTT-3.1.2-8], unless the broker said it dropped that copy (the
//       subscriber's queue was full) or, at QoS 0, the subscriber's own
//       connection broke after it was due. A broker crash excuses the Wills of the
//       connections it had: it MAY publish them after a restart (§3.1.2.5).
#include <limits>
#include <set>
#include <unordered_map>

#include "checkers.hpp"

namespace assay::sim::checkers {

class WillChecker final : public Checker {
 public:
  WillChecker(const World& w, const Model& model)
      : Checker(w), model_(model), current_(w.clients()) {}
  std::string name() const override { return "will"; }

  void on(Nanos t, std::uint64_t seq, const trace::Event& e) override {
    if (const auto* c = std::get_if<trace::Connected>(&e)) {
      connected_since_[c->client] = t;
      end(c->client, t, false);  // a connection the client gave up on silently
      if (c->will != 0) {
        link_will_[c->link] = c->will;
        current_[c->client] = c->will;
        Will& w = wills_[c->will] = Will{c->client, State::open, 0};
        w.delivered_any = early_.contains(c->will);
        // Its CONNACK left a broker that crashed before the client read it:
        // excused as the crash excused the others.
        if (c->link != 0 && c->link <= crashed_links_) w.state = State::excused;
      }
    } else if (const auto* l = std::get_if<trace::Lost>(&e)) {
      connected_since_[l->client] = never;
      end(l->client, t, l->normal);
    } else if (const auto* cc = std::get_if<trace::ClientCrash>(&e)) {
      connected_since_[cc->client] = never;
      end(cc->client, t, false);
    } else if (const auto* u = std::get_if<trace::Unheard>(&e)) {
      // The broker did not read all the client said on that connection
      // (its DISCONNECT, say): it may publish the Will, or not.
      if (const auto it = link_will_.find(u->link); it != link_will_.end()) {
        Will& w = wills_[it->second];
        if (w.state == State::normal) w.state = State::excused;
      }
    } else if (const auto* bc = std::get_if<trace::BrokerCrash>(&e)) {
      crashed_links_ = bc->links_before;
      for (auto& [id, w] : wills_) {
        if (w.state == State::open || (w.state == State::due && !w.delivered_any)) {
          w.state = State::excused;
        }
      }
    } else if (const auto* d = std::get_if<trace::Deliver>(&e)) {
      const auto it = wills_.find(d->msg);
      if (it == wills_.end()) {
        // The Will of a connection the broker accepted and lost before its
        // CONNACK reached the client: counted when that CONNACK comes.
        const Message* m = model_.message(d->msg);
        if (m != nullptr && m->will) {
          ++delivered_[(static_cast<std::uint64_t>(d->client) << 40) | d->msg];
          early_.insert(d->msg);
        }
        return;
      }
      Will& w = it->second;
      w.delivered_any = true;
      const std::string who = world_.client_name(w.client);
      // Judged at the end: the broker may turn out not to have read that
      // DISCONNECT (trace::Unheard comes when the held bytes arrive).
      if (w.state == State::normal) spurious_.push_back(Spurious{d->msg, t, seq});
      // A QoS 1 copy sent again (DUP 1) after its PUBACK was lost is the
      // same publication, as QoS 1 allows: not a second Will.
      if (d->qos == mqtt::QoS::at_least_once && d->dup) {
        count("will_redelivered");
        delivered_.try_emplace((static_cast<std::uint64_t>(d->client) << 40) | d->msg, 0);
        return;
      }
      const std::size_t bound =
          std::max<std::size_t>(1, model_.matching(d->client, d->topic).size());
      if (++delivered_[(static_cast<std::uint64_t>(d->client) << 40) | d->msg] > bound) {
        count("will_dup");
        find("S13", "MQTT-3.1.2-10",
             "the Will of " + who + " reached " + world_.client_name(d->client) + " twice", t, seq);
      }
    }
  }

  void finish() override {
    for (const Spurious& x : spurious_) {
      const Will& w = wills_.at(x.will);
      if (w.state != State::normal) continue;
      count("will_spurious");
      find("S12", "MQTT-3.1.2-10",
           "the Will of " + world_.client_name(w.client) +
               " was published although it disconnected normally",
           x.t, x.seq);
    }
    for (const auto& [id, w] : wills_) {
      if (w.state != State::due) continue;
      const Message* m = model_.message(id);
      if (m == nullptr) continue;
      const std::string& topic = will_topic(w.client);
      for (ClientIndex s = 0; s < model_.clients(); ++s) {
        if (!world_.is_subscriber(s)) continue;
        bool owed = false;  // a subscription of the current session, made before
        mqtt::QoS qos = mqtt::QoS::at_most_once;
        for (const Subscription* x : model_.matching(s, topic)) {
          if (x->since >= w.due_at || x->group) continue;
          owed = true;
          qos = std::max(qos, std::min(x->granted, will_qos(w.client)));
        }
        if (!owed) continue;
        if (delivered_.contains((static_cast<std::uint64_t>(s) << 40) | id)) {
          count("will_ok");
        } else if (qos == mqtt::QoS::at_most_once && connected_since_[s] > w.due_at) {
          // At most once: a QoS 0 Will is owed only to a subscriber that was
          // connected throughout (one whose connection broke may lose it).
          count("will_dropped_qos0");
        } else if (model_.dropped(s, id)) {
          count("will_dropped");  // a full queue (nobody was told it was taken)
        } else {
          count("will_missing");
          find("L4", "MQTT-3.1.2-8",
               "the Will of " + world_.client_name(w.client) + " never reached " +
                   world_.client_name(s),
               model_.heal_time(), 0, true);
        }
      }
    }
  }

 private:
  enum class State : std::uint8_t { open, normal, due, excused };
  struct Will {
    ClientIndex client = 0;
    State state = State::open;
    Nanos due_at = 0;
    bool delivered_any = false;
  };
  void end(ClientIndex c, Nanos t, bool normal) {
    const MessageId id = current_[c];
    if (id == 0) return;
    current_[c] = 0;
    Will& w = wills_[id];
    if (w.state != State::open) return;
    w.state = normal ? State::normal : State::due;
    w.due_at = t;
  }
  mqtt::QoS will_qos(ClientIndex c) const {
    const client::Engine* e = world_.engine(c);
    return e != nullptr && e->config().connect.will ? e->config().connect.will->qos
                                                    : mqtt::QoS::at_most_once;
  }
  const std::string& will_topic(ClientIndex c) const {
    static const std::string none;
    const client::Engine* e = world_.engine(c);
    return e != nullptr && e->config().connect.will ? e->config().connect.will->topic : none;
  }
  const Model& model_;
  static constexpr Nanos never = std::numeric_limits<Nanos>::max();
  std::vector<MessageId> current_;  // per client: the Will of its open connection
  std::vector<Nanos> connected_since_ = std::vector<Nanos>(world_.clients(), never);
  std::map<MessageId, Will> wills_;
  std::unordered_map<LinkId, MessageId> link_will_;
  struct Spurious {
    MessageId will;
    Nanos t;
    std::uint64_t seq;
  };
  std::vector<Spurious> spurious_;  // deliveries of Wills whose connection ended normally
  std::unordered_map<std::uint64_t, std::uint32_t> delivered_;
  std::set<MessageId> early_;  // Wills delivered before their Connected
  LinkId crashed_links_ = 0;   // links opened before the last broker crash
};

std::unique_ptr<Checker> make_will_checker(const World& w, const Model& m) {
  return std::make_unique<WillChecker>(w, m);
}

}  // namespace assay::sim::checkers
