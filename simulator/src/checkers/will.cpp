// Wills, per connection (each has a Will of its own, with its own id):
//   S12 a connection ended by the client's DISCONNECT (Success) never has
//       its Will published [MQTT-3.1.2-10], [MQTT-3.14.4-3];
//   S13 a Will reaches a subscriber at most once per matching subscription
//       [MQTT-3.1.2-10];
//   L4  a connection that ended any other way (reset, keep alive, a crashed
//       client, a takeover) has its Will published to every subscriber
//       whose matching subscription was granted before it ended
//       [MQTT-3.1.2-8]. A broker crash excuses the Wills of the
//       connections it had: it MAY publish them after a restart (§3.1.2.5).
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
      end(c->client, t, false);  // a connection the client gave up on silently
      if (c->will != 0) {
        current_[c->client] = c->will;
        wills_[c->will] = Will{c->client, State::open, 0};
      }
    } else if (const auto* l = std::get_if<trace::Lost>(&e)) {
      end(l->client, t, l->normal);
    } else if (const auto* cc = std::get_if<trace::ClientCrash>(&e)) {
      end(cc->client, t, false);
    } else if (std::holds_alternative<trace::BrokerCrash>(e)) {
      for (auto& [id, w] : wills_) {
        if (w.state == State::open || (w.state == State::due && !w.delivered_any)) {
          w.state = State::excused;
        }
      }
    } else if (const auto* d = std::get_if<trace::Deliver>(&e)) {
      const auto it = wills_.find(d->msg);
      if (it == wills_.end()) return;
      Will& w = it->second;
      w.delivered_any = true;
      const std::string who = world_.client_name(w.client);
      if (w.state == State::normal) {
        count("will_spurious");
        find("S12", "MQTT-3.1.2-10",
             "the Will of " + who + " was published although it disconnected normally", t, seq);
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
    for (const auto& [id, w] : wills_) {
      if (w.state != State::due) continue;
      const Message* m = model_.message(id);
      if (m == nullptr) continue;
      const std::string& topic = will_topic(w.client);
      for (ClientIndex s = 0; s < model_.clients(); ++s) {
        if (!world_.is_subscriber(s)) continue;
        bool owed = false;  // a subscription of the current session, made before
        for (const Subscription* x : model_.matching(s, topic)) {
          owed = owed || (x->since < w.due_at && !x->group);
        }
        if (!owed) continue;
        if (delivered_.contains((static_cast<std::uint64_t>(s) << 40) | id)) {
          count("will_ok");
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
  const std::string& will_topic(ClientIndex c) const {
    static const std::string none;
    const client::Engine* e = world_.engine(c);
    return e != nullptr && e->config().connect.will ? e->config().connect.will->topic : none;
  }
  const Model& model_;
  std::vector<MessageId> current_;  // per client: the Will of its open connection
  std::map<MessageId, Will> wills_;
  std::unordered_map<std::uint64_t, std::uint32_t> delivered_;
};

std::unique_ptr<Checker> make_will_checker(const World& w, const Model& m) {
  return std::make_unique<WillChecker>(w, m);
}

}  // namespace assay::sim::checkers
