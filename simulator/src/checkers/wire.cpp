// The wire, as each end received it (trace::Packet), both directions:
//   S5  a PUBLISH whose Packet Identifier is in flight (its receiver has
//       it and has not acknowledged it) is a resend and carries DUP 1
//       [MQTT-3.3.1-1]; after its PUBREL it never comes again [MQTT-4.3.3-6];
//   S6  resends happen only on a new connection of the session, never on
//       the one the PUBLISH went out on [MQTT-4.4.0-1];
//   S7  PUBACKs (and PUBRECs) go back in the order their PUBLISHes came
//       [MQTT-4.6.0-2], [MQTT-4.6.0-3];
//   S17 no more QoS 1/2 PUBLISHes unacknowledged than the receiver's
//       Receive Maximum [MQTT-3.3.4-7], [MQTT-3.3.4-9].
// In-flight state belongs to the session: it goes with a lost session
// (Session Present 0), a crashed client (no store; what it sent before and
// arrives after is the old incarnation's), and, in volatile mode, a
// crashed broker.
#include <unordered_map>
#include <vector>

#include "checkers.hpp"

namespace assay::sim::checkers {

class WireChecker final : public Checker {
 public:
  WireChecker(const World& w, const Model& model)
      : Checker(w), model_(model), sessions_(w.clients()) {}
  std::string name() const override { return "wire"; }

  void on(Nanos t, std::uint64_t seq, const trace::Event& e) override {
    if (const auto* p = std::get_if<trace::Packet>(&e)) return packet(t, seq, *p);
    if (const auto* c = std::get_if<trace::Connected>(&e)) {
      Session& s = sessions_[c->client];
      if (!c->resumed) {
        const LinkId old = s.old_links_upto;
        s = Session{};
        s.old_links_upto = old;
      }
      s.link = c->link;
      return;
    }
    if (const auto* cc = std::get_if<trace::ClientCrash>(&e)) {
      // The client's side of the session is gone, and PUBLISHes it sent
      // before the crash that arrive now are not the new incarnation's.
      Session& s = sessions_[cc->client];
      if (cc->durable_store) return;  // its side of the session is in its store
      s.to_broker = Flows{};
      s.old_links_upto = s.link;
      return;
    }
    if (std::holds_alternative<trace::BrokerCrash>(e) && model_.mode() == Durability::volatile_) {
      for (Session& s : sessions_)
        s.to_client = Flows{};
    }
  }

 private:
  struct Flight {
    LinkId link = 0;        // the connection it last went out on
    bool released = false;  // PUBREL seen: the PUBLISH must not come again
  };
  // Packet Identifiers in the order their acknowledgements are owed: a
  // vector read from `head` (a std::deque allocates even when empty, and
  // every client has four of these).
  struct Owed {
    std::vector<std::uint16_t> ids;
    std::size_t head = 0;
    bool empty() const { return head == ids.size(); }
    std::uint16_t front() const { return ids[head]; }
    auto begin() { return ids.begin() + static_cast<std::ptrdiff_t>(head); }
    auto end() { return ids.end(); }
    void push_back(std::uint16_t id) { ids.push_back(id); }
    void erase(std::vector<std::uint16_t>::iterator pos) { ids.erase(pos); }
    void pop_front() {
      if (++head == ids.size()) return clear();
      if (head >= 32 && 2 * head >= ids.size()) {  // what was read goes, now and then
        ids.erase(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(head));
        head = 0;
      }
    }
    void clear() {
      ids.clear();
      head = 0;
    }
  };
  // One direction of a session: what its sender has in flight, and on each
  // connection, the order acknowledgements are owed in.
  struct Flows {
    std::unordered_map<std::uint16_t, Flight> inflight;
    LinkId link = 0;  // of the queues below
    Owed owed_puback;
    Owed owed_pubrec;
  };
  struct Session {
    LinkId old_links_upto = 0;  // links of incarnations before its last crash
    LinkId link = 0;            // its latest connection
    Flows to_broker;            // the client's PUBLISHes
    Flows to_client;            // the broker's
    std::uint32_t broker_receive_maximum = 65535;
    std::uint32_t client_receive_maximum = 65535;
  };

  void packet(Nanos t, std::uint64_t seq, const trace::Packet& p) {
    Session& s = sessions_[p.client];
    const std::string who = world_.client_name(p.client);
    // The flows this packet belongs to: a PUBLISH to the broker is the
    // client's; an acknowledgement to the broker answers the broker's.
    if (const auto* c = std::get_if<mqtt::Connect>(&p.packet)) {
      s.client_receive_maximum =
          c->properties.integer(mqtt::PropertyId::receive_maximum).value_or(65535);
      return;
    }
    if (const auto* c = std::get_if<mqtt::Connack>(&p.packet)) {
      s.broker_receive_maximum =
          c->properties.integer(mqtt::PropertyId::receive_maximum).value_or(65535);
      return;
    }
    if (const auto* m = std::get_if<mqtt::Publish>(&p.packet)) {
      Flows& f = p.to_broker ? s.to_broker : s.to_client;
      const std::string dir = p.to_broker ? who + " to the broker" : "the broker to " + who;
      if (m->qos == mqtt::QoS::at_most_once) return;
      if (p.to_broker && p.link <= s.old_links_upto) return;  // from before the crash
      if (f.link != p.link) {
        f.link = p.link;
        f.owed_puback.clear();
        f.owed_pubrec.clear();
      }
      (m->qos == mqtt::QoS::at_least_once ? f.owed_puback : f.owed_pubrec).push_back(m->packet_id);
      const auto it = f.inflight.find(m->packet_id);
      if (it != f.inflight.end()) {
        if (it->second.link == p.link) {
          count("resent_on_same_connection");
          find("S6", "MQTT-4.4.0-1",
               dir + ": PUBLISH " + std::to_string(m->packet_id) +
                   " sent again on the same connection",
               t, seq);
        } else if (!m->dup) {
          count("resent_without_dup");
          find("S5", "MQTT-3.3.1-1",
               dir + ": PUBLISH " + std::to_string(m->packet_id) + " resent with DUP 0", t, seq);
        }
        if (it->second.released) {
          find("S5", "MQTT-4.3.3-6",
               dir + ": PUBLISH " + std::to_string(m->packet_id) + " resent after its PUBREL", t,
               seq);
        }
        it->second.link = p.link;
        return;
      }
      // (DUP 1 on an id not seen is no finding: the copy before may have
      // been lost with the connection before it arrived.)
      f.inflight[m->packet_id] = Flight{p.link, false};
      const std::uint32_t maximum =
          p.to_broker ? s.broker_receive_maximum : s.client_receive_maximum;
      std::size_t open = 0;
      for (const auto& [id, fl] : f.inflight)
        open += fl.link == p.link ? 1 : 0;
      if (open > maximum) {
        count("over_receive_maximum");
        find("S17", p.to_broker ? "MQTT-3.3.4-9" : "MQTT-3.3.4-7",
             dir + ": " + std::to_string(open) +
                 " QoS 1/2 PUBLISHes unacknowledged, Receive Maximum " + std::to_string(maximum),
             t, seq);
      }
      return;
    }
    // Acknowledgements: to the broker they answer the broker's PUBLISHes.
    Flows& f = p.to_broker ? s.to_client : s.to_broker;
    const std::string dir = p.to_broker ? who + " to the broker" : "the broker to " + who;
    auto in_order = [&](Owed& owed, std::uint16_t id, const char* what, const char* statement) {
      if (f.link != p.link || owed.empty()) return;  // owed on another connection
      if (owed.front() != id) {
        const auto pos = std::find(owed.begin(), owed.end(), id);
        if (pos == owed.end()) return;  // a duplicate's answer
        count("ack_out_of_order");
        find("S7", statement,
             dir + ": " + what + " " + std::to_string(id) + " before " +
                 std::to_string(owed.front()),
             t, seq);
        owed.erase(pos);
        return;
      }
      owed.pop_front();
    };
    if (const auto* a = std::get_if<mqtt::Puback>(&p.packet)) {
      in_order(f.owed_puback, a->packet_id, "PUBACK", "MQTT-4.6.0-2");
      f.inflight.erase(a->packet_id);
    } else if (const auto* r = std::get_if<mqtt::Pubrec>(&p.packet)) {
      in_order(f.owed_pubrec, r->packet_id, "PUBREC", "MQTT-4.6.0-3");
      if (mqtt::is_error(r->reason_code)) f.inflight.erase(r->packet_id);
    } else if (const auto* rel = std::get_if<mqtt::Pubrel>(&p.packet)) {
      // A PUBREL to the broker releases the client's PUBLISH; to the client, the broker's.
      Flows& sender = p.to_broker ? s.to_broker : s.to_client;
      if (const auto it = sender.inflight.find(rel->packet_id); it != sender.inflight.end()) {
        it->second.released = true;
      }
    } else if (const auto* comp = std::get_if<mqtt::Pubcomp>(&p.packet)) {
      f.inflight.erase(comp->packet_id);
    }
  }

  const Model& model_;
  std::vector<Session> sessions_;
};

std::unique_ptr<Checker> make_wire_checker(const World& w, const Model& m) {
  return std::make_unique<WireChecker>(w, m);
}

}  // namespace assay::sim::checkers
