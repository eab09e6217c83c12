// L3 handshakes drain [MQTT-4.4.0-1]: once healed, every client is
// connected and nothing is left in flight or queued at any of them: no
// QoS 1/2 message waits for its acknowledgement, no PUBREL for its PUBCOMP.
// A client that left for good (disconnect()) abandons what it had pending.
#include "checkers.hpp"

namespace assay::sim::checkers {

class DrainChecker final : public Checker {
 public:
  DrainChecker(const World& w, const Model& model) : Checker(w), model_(model) {}
  std::string name() const override { return "drain"; }
  void on(Nanos, std::uint64_t, const trace::Event&) override {}
  void finish() override {
    // Every publish of a client that did not crash under it has ended.
    for (MessageId id = 1; id <= model_.messages().size(); ++id) {
      const Message& m = model_.messages()[id - 1];
      if (!m.known || m.will || m.orphaned || m.done != Message::Done::pending) continue;
      const client::Engine* e = world_.engine(m.publisher);
      if (e == nullptr) continue;
      if (e->state() == client::Engine::State::stopped) {
        count("abandoned");  // its publisher left for good (disconnect()) with it pending
        continue;
      }
      count("never_completed");
      find(
          "L3", "MQTT-4.4.0-1",
          world_.client_name(m.publisher) + "'s publish of " + message_tag(id) + " never completed",
          world_.now(), 0, true);
    }
    for (ClientIndex c = 0; c < world_.clients(); ++c) {
      const client::Engine* e = world_.engine(c);
      if (e == nullptr) continue;  // left for good
      if (e->state() == client::Engine::State::stopped) continue;
      if (!e->connected()) {
        count("not_reconnected");
        find("L3", "MQTT-4.4.0-1", world_.client_name(c) + " is not connected after the heal",
             world_.now(), 0, true);
        continue;
      }
      if (e->inflight_messages() > 0 || e->queued_messages() > 0) {
        count("stuck");
        find("L3", "MQTT-4.4.0-1",
             world_.client_name(c) + " still has " + std::to_string(e->inflight_messages()) +
                 " in flight and " + std::to_string(e->queued_messages()) + " queued",
             world_.now(), 0, true);
      }
    }
  }

 private:
  const Model& model_;
};

std::unique_ptr<Checker> make_drain_checker(const World& w, const Model& m) {
  return std::make_unique<DrainChecker>(w, m);
}

}  // namespace assay::sim::checkers
