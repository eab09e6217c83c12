// S20 protocol hygiene, seen from our clients: the client engines are
// conforming, so a protocol violation one of them reports (a malformed
// packet from the broker, a packet not allowed in its state, a SUBACK for
// nothing...) is the broker's [MQTT-4.13.1-1].
#include "checkers.hpp"

namespace assay::sim::checkers {

class ProtocolChecker final : public Checker {
 public:
  ProtocolChecker(const World& w, const Model&) : Checker(w) {}
  std::string name() const override { return "protocol"; }
  void on(Nanos t, std::uint64_t seq, const trace::Event& e) override {
    if (const auto* v = std::get_if<trace::Violation>(&e)) {
      count("violations");
      find("S20", "MQTT-4.13.1-1",
           "the broker broke the protocol towards " + world_.client_name(v->client) + ": " +
               v->detail,
           t, seq);
    }
  }
};

std::unique_ptr<Checker> make_protocol_checker(const World& w, const Model& m) {
  return std::make_unique<ProtocolChecker>(w, m);
}

}  // namespace assay::sim::checkers
