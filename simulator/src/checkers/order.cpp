// S8 message ordering [MQTT-4.6.0-5], [MQTT-4.6.0-6]: for one publisher,
// one topic and one QoS, a subscriber on a non-shared subscription gets
// the first copy of each message in the order they were published.
// Duplicates may come later (QoS 1 after a reconnect); QoS 0 messages may
// be missing, so only what was delivered is compared. Retained copies
// (RETAIN 1, sent at subscribe time) are not live traffic and are skipped.
#include <unordered_map>
#include <unordered_set>

#include "checkers.hpp"

namespace assay::sim::checkers {

class OrderChecker final : public Checker {
 public:
  OrderChecker(const World& w, const Model& model) : Checker(w), model_(model) {}
  std::string name() const override { return "order"; }

  void on(Nanos t, std::uint64_t seq, const trace::Event& e) override {
    const auto* d = std::get_if<trace::Deliver>(&e);
    if (d == nullptr || d->retain) return;
    const Message* m = model_.message(d->msg);
    if (m == nullptr || m->will) return;
    bool shared_only = true;
    for (const Subscription* s : model_.matching(d->client, d->topic))
      shared_only = shared_only && s->group.has_value();
    if (shared_only) return;
    if (!seen_.insert((static_cast<std::uint64_t>(d->client) << 40) | d->msg).second) return;
    Stream& s = streams_[stream_key(d->client, *m)];
    if (s.any && m->order < s.last) {
      count("out_of_order");
      find("S8", "MQTT-4.6.0-6",
           world_.client_name(d->client) + " got " + message_tag(d->msg) + " of " +
               world_.client_name(m->publisher) + " on " + m->topic + " after a later one",
           t, seq);
    }
    s.any = true;
    s.last = std::max(s.last, m->order);
  }

 private:
  struct Stream {
    bool any = false;
    std::uint64_t last = 0;
  };
  static std::string stream_key(ClientIndex s, const Message& m) {
    return std::to_string(s) + "\n" + std::to_string(m.publisher) + "\n" + m.topic + "\n" +
           std::to_string(static_cast<int>(m.qos));
  }
  const Model& model_;
  std::unordered_set<std::uint64_t> seen_;
  std::unordered_map<std::string, Stream> streams_;
};

std::unique_ptr<Checker> make_order_checker(const World& w, const Model& m) {
  return std::make_unique<OrderChecker>(w, m);
}

}  // namespace assay::sim::checkers
