// Stateful property tests (rc::state) of the QoS 1 and 2 flows between a
// client and a server Connection: messages both ways, random latency and
// chunking, the link cut at random bytes, session resumption, and a server
// that acknowledges in random order. After the faults a healed phase lets
// everything drain. Asserted, from docs/guarantees.md:
//   S4 QoS 2 exactly once (never delivered twice, across reconnects)
//   S5 packet id discipline (a new PUBLISH never reuses an id in flight)
//   S6 retransmission only on resumption, DUP=1 exactly then
//   S7 acknowledgement order (PUBACK/PUBREC as PUBLISHes came, PUBREL as PUBRECs came)
//   L1-L3 at least once for QoS 1, exactly once for QoS 2, nothing left in flight.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#include <rapidcheck/state.h>

#include <map>
#include <set>

#include "pair.hpp"

namespace assay::mqtt::test {
namespace {

// Watches one direction of application messages on the wire.
struct FlowChecker {
  std::set<std::uint16_t> inflight;           // sender's ids not yet acknowledged
  std::set<std::uint16_t> inflight_at_start;  // ... when this connection began
  std::set<std::uint16_t> publish_sent;       // ids PUBLISHed on this connection
  std::set<std::uint16_t> awaiting_pubcomp_at_start;
  std::set<std::uint16_t> released;                        // ids with PUBREL sent (stage 2)
  std::deque<std::uint16_t> pubrec_order;                  // PUBRECs received, owed a PUBREL
  std::deque<std::uint16_t> qos1_received, qos2_received;  // at the receiver

  void new_connection() {
    inflight_at_start = inflight;
    awaiting_pubcomp_at_start = released;
    publish_sent.clear();
    pubrec_order.clear();
    qos1_received.clear();
    qos2_received.clear();
  }

  void sender_sent(const Packet& p) {
    if (const auto* pub = std::get_if<Publish>(&p); pub && pub->qos != QoS::at_most_once) {
      const auto id = pub->packet_id;
      RC_ASSERT(!publish_sent.contains(id));  // S6: no resend within a connection
      if (pub->dup) {
        RC_ASSERT(inflight_at_start.contains(id));  // S6: DUP only when resuming
        RC_ASSERT(!released.contains(id));          // [MQTT-4.3.3-6]
      } else {
        RC_ASSERT(!inflight.contains(id));  // S5
      }
      publish_sent.insert(id);
      inflight.insert(id);
    } else if (const auto* rel = std::get_if<Pubrel>(&p)) {
      if (awaiting_pubcomp_at_start.contains(rel->packet_id) &&
          (pubrec_order.empty() || pubrec_order.front() != rel->packet_id)) {
        awaiting_pubcomp_at_start.erase(rel->packet_id);  // a resend on resumption
      } else {
        RC_ASSERT(!pubrec_order.empty());
        RC_ASSERT(pubrec_order.front() == rel->packet_id);  // S7 [MQTT-4.6.0-4]
        pubrec_order.pop_front();
      }
      released.insert(rel->packet_id);
    }
  }

  void sender_received(const Packet& p) {
    if (const auto* a = std::get_if<Puback>(&p)) inflight.erase(a->packet_id);
    if (const auto* c = std::get_if<Pubcomp>(&p)) {
      inflight.erase(c->packet_id);
      released.erase(c->packet_id);
    }
    if (const auto* r = std::get_if<Pubrec>(&p)) {
      if (is_error(r->reason_code)) {
        inflight.erase(r->packet_id);
      } else if (inflight.contains(r->packet_id)) {
        pubrec_order.push_back(r->packet_id);
      }
    }
  }

  void receiver_received(const Packet& p) {
    if (const auto* pub = std::get_if<Publish>(&p)) {
      if (pub->qos == QoS::at_least_once) qos1_received.push_back(pub->packet_id);
      if (pub->qos == QoS::exactly_once) qos2_received.push_back(pub->packet_id);
    }
  }

  void receiver_sent(const Packet& p) {
    // S7 [MQTT-4.6.0-2], [MQTT-4.6.0-3]
    if (const auto* a = std::get_if<Puback>(&p)) {
      RC_ASSERT(!qos1_received.empty());
      RC_ASSERT(qos1_received.front() == a->packet_id);
      qos1_received.pop_front();
    }
    if (const auto* a = std::get_if<Pubrec>(&p)) {
      RC_ASSERT(!qos2_received.empty());
      RC_ASSERT(qos2_received.front() == a->packet_id);
      qos2_received.pop_front();
    }
  }
};

struct Published {
  QoS qos;
  bool up;  // client to server
};

struct System {
  explicit System(Version version, std::uint32_t seed, std::uint16_t receive_maximum)
      : v(version), pair(client_options(), server_options(), LinkOptions{3ms, 17, seed}) {
    connack.properties = {};
    if (v == Version::v5) {
      connack.properties.add(PropertyId::receive_maximum, std::uint32_t{receive_maximum});
    }
    pair.on_server = [this](Pair& p, const Event& e) { on_server(p, e); };
    pair.on_client = [this](Pair& p, const Event& e) { on_client(p, e); };
    connect(Session{});
  }

  ConnectionOptions client_options() const {
    ConnectionOptions o;
    o.role = Role::client;
    o.trace_packets = true;
    return o;
  }
  ConnectionOptions server_options() const {
    ConnectionOptions o;
    o.role = Role::server;
    o.trace_packets = true;
    o.manual_ack = true;
    return o;
  }

  void connect(Session s) {
    up.new_connection();
    down.new_connection();
    Connect c;
    c.version = v;
    c.client_id = "c1";
    c.clean_start = false;
    if (v == Version::v5) c.properties.add(PropertyId::session_expiry_interval, 0xFFFFFFFFu);
    pair.client->connect(c, std::move(s), pair.now);
    RC_ASSERT(pair.run_until([&] {
      return pair.client->state() == Connection::State::connected &&
             pair.server->state() == Connection::State::connected;
    }));
  }

  void on_server(Pair& p, const Event& e) {
    store.handle(p, e, connack);
    if (const auto* m = std::get_if<event::MessageReceived>(&e)) {
      delivered(m->message, true);
      if (m->awaiting_ack) pending.push_back(m->message.packet_id);
    } else if (const auto* s = std::get_if<event::PacketSent>(&e)) {
      up.receiver_sent(s->packet);
      down.sender_sent(s->packet);
    } else if (const auto* r = std::get_if<event::PacketReceived>(&e)) {
      up.receiver_received(r->packet);
      down.sender_received(r->packet);
    } else if (const auto* d = std::get_if<event::PublishCompleted>(&e)) {
      completed(d->ticket, false, d->outcome);
    } else if (std::holds_alternative<event::Closed>(e)) {
      pending.clear();
    }
  }

  void on_client(Pair&, const Event& e) {
    if (const auto* m = std::get_if<event::MessageReceived>(&e)) {
      delivered(m->message, false);
    } else if (const auto* s = std::get_if<event::PacketSent>(&e)) {
      up.sender_sent(s->packet);
      down.receiver_sent(s->packet);
    } else if (const auto* r = std::get_if<event::PacketReceived>(&e)) {
      up.sender_received(r->packet);
      down.receiver_received(r->packet);
    } else if (const auto* d = std::get_if<event::PublishCompleted>(&e)) {
      completed(d->ticket, true, d->outcome);
    }
  }

  void delivered(const Publish& m, bool at_server) {
    const std::string key(m.payload.as_chars());
    const auto it = messages.find(key);
    RC_ASSERT(it != messages.end());        // S1: nothing is created
    RC_ASSERT(it->second.up == at_server);  // and it arrives where it was sent
    const int n = ++deliveries[key];
    if (it->second.qos != QoS::at_least_once) RC_ASSERT(n == 1);  // S3, S4
  }

  void completed(Ticket t, bool client_side, Outcome outcome) {
    RC_ASSERT(outcome == Outcome::acknowledged);  // nothing is refused or lost here
    const int n = ++completions[std::make_pair(client_side, t)];
    RC_ASSERT(n == 1);
  }

  void publish(bool to_server, QoS qos) {
    const std::string key = (to_server ? "u" : "d") + std::to_string(messages.size());
    messages[key] = Published{qos, to_server};
    Publish p;
    p.topic = "t";
    p.qos = qos;
    p.payload = SharedBytes(std::string_view(key));
    Ticket t = 0;
    Connection& c = to_server ? *pair.client : *pair.server;
    if (c.state() == Connection::State::closed) {
      Session& s = to_server ? client_session : store.sessions.at("c1");
      RC_ASSERT(s.enqueue(p, &t) == EnqueueResult::queued);
    } else {
      t = c.publish(p, pair.now);
    }
    tickets[{to_server, t}] = key;
  }

  void acknowledge_some(std::size_t index) {
    if (pending.empty()) return;
    const std::uint16_t id = pending[index % pending.size()];
    pending.erase(pending.begin() + static_cast<long>(index % pending.size()));
    pair.server->acknowledge(id, pair.now);
  }

  void cut(bool to_server, std::size_t bytes) {
    pair.cut(to_server, bytes);
    pair.run_for(20ms);
    if (!pair.both_closed()) {
      pair.client->close(CloseCause::transport_closed, pair.now);
      RC_ASSERT(pair.run_until([&] { return pair.both_closed(); }));
    }
    client_session = pair.client->take_session();
  }

  void reconnect() {
    pair.reconnect(client_options(), server_options());
    connect(std::move(client_session));
  }

  // The liveness phase: no more faults; everything owed is delivered.
  void heal() {
    if (pair.both_closed()) reconnect();
    RC_ASSERT(pair.run_until(
        [&] {
          while (!pending.empty())
            acknowledge_some(0);
          return pair.client->session().inflight().empty() &&
                 pair.client->session().queue().empty() &&
                 pair.server->session().inflight().empty() &&
                 pair.server->session().queue().empty() &&
                 pair.server->session().incoming_qos2().empty() &&
                 pair.client->session().incoming_qos2().empty();
        },
        120s));
    for (const auto& [key, m] : messages) {
      const int n = deliveries.contains(key) ? deliveries.at(key) : 0;
      if (m.qos == QoS::exactly_once) RC_ASSERT(n == 1);   // L2
      if (m.qos == QoS::at_least_once) RC_ASSERT(n >= 1);  // L1
      if (m.qos == QoS::at_most_once) RC_ASSERT(n <= 1);
    }
    for (const auto& [t, key] : tickets) {
      if (messages.at(key).qos != QoS::at_most_once) RC_ASSERT(completions.contains(t));
    }
  }

  Version v;
  Pair pair;
  SessionStore store;
  Connack connack;
  Session client_session;
  FlowChecker up;                      // client to server
  FlowChecker down;                    // server to client
  std::vector<std::uint16_t> pending;  // server: messages awaiting acknowledge()
  std::map<std::string, Published> messages;
  std::map<std::string, int> deliveries;
  std::map<std::pair<bool, Ticket>, std::string> tickets;
  std::map<std::pair<bool, Ticket>, int> completions;
};

struct Model {
  bool connected = true;
};

using Command = rc::state::Command<Model, System>;

struct PublishCmd : Command {
  bool to_server = *rc::gen::arbitrary<bool>();
  QoS qos = *rc::gen::element(QoS::at_most_once, QoS::at_least_once, QoS::exactly_once);
  void run(const Model&, System& s) const override { s.publish(to_server, qos); }
  void show(std::ostream& os) const override {
    os << "Publish(" << (to_server ? "up" : "down") << ", qos " << static_cast<int>(qos) << ")";
  }
};

struct AdvanceCmd : Command {
  int ms = *rc::gen::inRange(1, 40);
  void run(const Model&, System& s) const override { s.pair.run_for(Duration(ms)); }
  void show(std::ostream& os) const override { os << "Advance(" << ms << "ms)"; }
};

struct AckCmd : Command {
  std::size_t index = *rc::gen::inRange<std::size_t>(0, 8);
  void run(const Model&, System& s) const override {
    s.acknowledge_some(index);
    s.pair.run_for(Duration(1));
  }
  void show(std::ostream& os) const override { os << "Ack(" << index << ")"; }
};

struct CutCmd : Command {
  bool to_server = *rc::gen::arbitrary<bool>();
  std::size_t bytes = *rc::gen::inRange<std::size_t>(0, 60);
  void checkPreconditions(const Model& m) const override { RC_PRE(m.connected); }
  void apply(Model& m) const override { m.connected = false; }
  void run(const Model&, System& s) const override { s.cut(to_server, bytes); }
  void show(std::ostream& os) const override {
    os << "Cut(" << (to_server ? "up" : "down") << " after " << bytes << " bytes)";
  }
};

struct ReconnectCmd : Command {
  void checkPreconditions(const Model& m) const override { RC_PRE(!m.connected); }
  void apply(Model& m) const override { m.connected = true; }
  void run(const Model&, System& s) const override { s.reconnect(); }
  void show(std::ostream& os) const override { os << "Reconnect"; }
};

void check_flows(Version v) {
  const auto seed = *rc::gen::arbitrary<std::uint32_t>();
  const auto receive_maximum = *rc::gen::inRange<std::uint16_t>(1, 6);
  System system(v, seed, receive_maximum);
  Model model;
  rc::state::check(model, system,
                   rc::state::gen::execOneOfWithArgs<PublishCmd, PublishCmd, PublishCmd, AdvanceCmd,
                                                     AckCmd, AckCmd, CutCmd, ReconnectCmd>());
  system.heal();
}

RC_GTEST_PROP(ConnectionFlows, QoSGuaranteesHoldAcrossCutsAndResumptionV5, ()) {
  check_flows(Version::v5);
}

RC_GTEST_PROP(ConnectionFlows, QoSGuaranteesHoldAcrossCutsAndResumptionV311, ()) {
  check_flows(Version::v3_1_1);
}

}  // namespace
}  // namespace assay::mqtt::test
