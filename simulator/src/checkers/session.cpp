// S15 Session Present [MQTT-3.2.2-2], [MQTT-3.2.2-3], [MQTT-4.1.0-1/2]: a
// CONNACK says Session Present exactly when the broker must still hold the
// client's session: Clean Start 0, and a session made before that has not
// ended (a Clean Start since, its Session Expiry Interval passed since the
// connection ended, or a broker crash in volatile mode). Near the expiry
// boundary (the broker sees a connection end up to a keep alive later than
// the client) nothing is checked, nor after a CONNECT whose CONNACK the
// client never read (the broker may have acted on it), nor a CONNACK read
// after a volatile crash that the broker sent before it
// (connack_before_crash).
#include "checkers.hpp"

namespace assay::sim::checkers {

class SessionChecker final : public Checker {
 public:
  SessionChecker(const World& w, const Model& model)
      : Checker(w), model_(model), state_(w.clients()) {}
  std::string name() const override { return "session"; }

  void on(Nanos t, std::uint64_t seq, const trace::Event& e) override {
    if (const auto* c = std::get_if<trace::Connected>(&e)) {
      State& s = state_[c->client];
      const std::string who = world_.client_name(c->client);
      if (model_.mode() == Durability::volatile_ && c->link != 0 && c->link <= crashed_links_) {
        // A CONNACK the broker sent before a crash, read after it: it
        // spoke of a session the crash then ended.
        count("connack_before_crash");
        s.known = true;
        s.exists = false;
        s.ended = t;
        s.expiry = -1;
        return;
      }
      // A CONNECT whose CONNACK the client never read may have made or
      // resumed (or, with Clean Start, ended) a session at the broker.
      const bool unread = s.unread_connect;
      s.unread_connect = false;
      s.connecting = false;
      const bool uncertain = unread || (s.ended >= 0 && s.expiry >= 0 &&
                                        std::abs(t - (s.ended + s.expiry)) < s.tolerance);
      const bool owed =
          !c->clean_start && s.exists && (s.ended < 0 || s.expiry < 0 || t < s.ended + s.expiry);
      if (!uncertain && s.known) {
        if (c->resumed && !owed) {
          count("spurious_session");
          find("S15", c->clean_start ? "MQTT-3.2.2-2" : "MQTT-4.1.0-2",
               who + " was told Session Present, but no session should exist", t, seq);
        } else if (!c->resumed && owed) {
          count("session_lost");
          find("S15", "MQTT-4.1.0-1", who + " lost its session (Session Present 0)", t, seq);
        }
      }
      s.known = true;
      s.exists = world_.persistent(c->client);
      s.ended = -1;
      s.expiry = expiry_of(c->client);
      s.tolerance = std::max<Nanos>(2 * ns_per_s, 3 * keep_alive_of(c->client) / 2);
    } else if (const auto* cn = std::get_if<trace::Connecting>(&e)) {
      state_[cn->client].connecting = true;
    } else if (const auto* l = std::get_if<trace::Lost>(&e)) {
      State& s = state_[l->client];
      if (s.connecting) s.unread_connect = true;
      s.connecting = false;
      if (s.ended < 0) s.ended = t;
    } else if (const auto* cc = std::get_if<trace::ClientCrash>(&e)) {
      State& s = state_[cc->client];
      if (s.connecting) s.unread_connect = true;
      s.connecting = false;
      if (s.ended < 0) s.ended = t;
    } else if (const auto* bc = std::get_if<trace::BrokerCrash>(&e);
               bc != nullptr && model_.mode() == Durability::volatile_) {
      for (State& s : state_)
        s.exists = false;
      crashed_links_ = bc->links_before;
    }
  }

 private:
  struct State {
    bool known = false;   // connected before: what the broker must hold is known
    bool exists = false;  // a session that can outlive its connection was made
    Nanos ended = -1;     // when its last connection ended (-1: connected)
    Nanos expiry = -1;    // its lifetime after that (-1: never expires)
    Nanos tolerance = 0;
    bool connecting = false;      // a CONNECT went out, no CONNACK read yet
    bool unread_connect = false;  // and its connection ended so
  };
  Nanos expiry_of(ClientIndex c) const {
    const client::Engine* e = world_.engine(c);
    if (e == nullptr) return -1;
    const auto& connect = e->config().connect;
    if (connect.version == mqtt::Version::v3_1_1) return -1;
    const auto s =
        connect.properties.integer(mqtt::PropertyId::session_expiry_interval).value_or(0);
    return s == 0xFFFFFFFF ? -1 : static_cast<Nanos>(s) * ns_per_s;
  }
  Nanos keep_alive_of(ClientIndex c) const {
    const client::Engine* e = world_.engine(c);
    return e == nullptr ? 0 : static_cast<Nanos>(e->config().connect.keep_alive) * ns_per_s;
  }
  const Model& model_;
  std::vector<State> state_;
  LinkId crashed_links_ = 0;  // links opened before the last volatile crash
};

std::unique_ptr<Checker> make_session_checker(const World& w, const Model& m) {
  return std::make_unique<SessionChecker>(w, m);
}

}  // namespace assay::sim::checkers
