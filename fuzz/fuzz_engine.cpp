// Fuzz target: the broker engine with several client connections. The input
// is a sequence of operations on three client slots: connect (version, Clean
// Start, expiry, a Will), subscribe, publish, unsubscribe, drop the network,
// disconnect, raw bytes from a client, and time advancing. Every input runs
// twice: against one engine, and against two engines made one broker as
// `assay broker --threads 2` does, in the in-process Harness
// (assay/broker/harness.hpp: the connecting slot's op byte picks the engine
// that accepts it; handoffs and forwarded messages are delivered at once; the
// lock throws, and so aborts, if an engine takes it twice; a handoff or
// forward to a wrong shard throws too).
//
// The clients are real client-role Connections, so the safety invariants of
// docs/guarantees.md can be asserted inside the target (a violation
// aborts):
//  - the broker never sends a conforming client anything its Connection
//    reports as a violation (S20 from the client's side);
//  - S1: every delivered payload was published (or is a Will);
//  - S4: a message published at QoS 2 and delivered at QoS 2 reaches a
//    session at most once;
//  - S18: No Local subscriptions never see their own messages;
//  - S19: at most one live connection per client id.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "assay/broker/harness.hpp"
#include "assay/mqtt/topic.hpp"

namespace {

using namespace assay::mqtt;
using assay::broker::Harness;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_engine oracle failed: %s\n", what);
  std::abort();
}

struct Slot {
  std::unique_ptr<Connection> conn;
  Harness::Link link = 0;
  std::string client_id;
  bool live = false;
};

struct World {
  explicit World(std::size_t shards) : broker({}, shards) {}
  Harness broker;
  Time now{0};
  Slot slots[3];
  std::set<std::string> published;                                     // payloads
  std::map<std::string, QoS> published_qos;                            // payload -> QoS published
  std::map<std::string, std::string> publisher_of;                     // payload -> client id
  std::map<std::pair<std::string, std::string>, int> qos2_deliveries;  // (client, payload)
  // The model of each client id's subscriptions: filter -> No Local. It may
  // keep filters the broker dropped (expired sessions), which only makes the
  // No Local check more lenient.
  std::map<std::string, std::map<std::string, bool>> subscriptions;
  // Each client id's own session, kept between its connections as a real
  // client library would: exactly once needs it [MQTT-4.3.3-10].
  std::map<std::string, Session> client_sessions;

  // How many copies a session may get: one for all its non-shared
  // subscriptions together, plus one per matching shared subscription (a
  // different subscription: docs/broker.md).
  int max_copies(const std::string& client, const std::string& topic) {
    int plain = 0;
    int shared = 0;
    for (const auto& [filter, no_local] : subscriptions[client]) {
      if (const auto sh = parse_shared_filter(filter)) {
        shared += topic_matches(sh->filter, topic) ? 1 : 0;
      } else if (topic_matches(filter, topic)) {
        plain = 1;
      }
    }
    return std::max(1, plain + shared);
  }

  // S18 holds unless some matching subscription without No Local exists.
  bool own_delivery_allowed(const std::string& client, const std::string& topic) {
    for (const auto& [filter, no_local] : subscriptions[client]) {
      std::string_view f = filter;
      if (const auto shared = parse_shared_filter(filter)) f = shared->filter;
      if (!no_local && topic_matches(f, topic)) return true;
    }
    return false;
  }
  int counter = 0;

  void pump() {
    for (int round = 0; round < 1000; ++round) {
      bool moved = false;
      for (auto& s : slots) {
        if (!s.live) continue;
        bool closing = false;
        while (auto e = s.conn->poll_event()) {
          moved = true;
          check(s, *e);
          if (std::holds_alternative<event::CloseRequested>(*e)) closing = true;
        }
        Bytes out;
        if (s.conn->poll_transmit(out)) {
          moved = true;
          broker.receive(s.link, out, now);
        }
        if (closing) end(s);
      }
      while (auto d = broker.poll(now)) {
        moved = true;
        for (auto& s : slots) {
          if (!s.live || s.link != d->link) continue;
          s.conn->receive(d->bytes, now);
          while (auto ev = s.conn->poll_event())
            check(s, *ev);
          if (d->close_after) ended(s);  // the broker closed it
        }
      }
      if (!moved) return;
    }
    fail("no quiescence");
  }

  // The client's side closes the connection.
  void end(Slot& s) {
    ended(s);
    broker.close(s.link, now);
  }
  // The client's Connection learns that its transport is gone.
  void ended(Slot& s) {
    s.conn->transport_closed(now);
    while (auto e = s.conn->poll_event())
      check(s, *e);
    s.live = false;
  }

  void check(Slot& s, const Event& e) {
    if (std::holds_alternative<event::ViolationDetected>(e)) {
      fail("the broker sent a client something illegal");
    }
    if (const auto* m = std::get_if<event::MessageReceived>(&e)) {
      const std::string payload(m->message.payload.as_chars());
      if (payload.rfind("will-", 0) == 0) return;
      if (!published.contains(payload)) fail("S1: a delivered message was never published");
      if (publisher_of[payload] == s.client_id && !m->message.retain &&
          !own_delivery_allowed(s.client_id, m->message.topic)) {
        fail("S18: No Local delivered a client's own message");
      }
      // Retained copies are sent again on every subscribe: not counted.
      if (!m->message.retain && published_qos[payload] == QoS::exactly_once &&
          m->message.qos == QoS::exactly_once &&
          ++qos2_deliveries[{s.client_id, payload}] > max_copies(s.client_id, m->message.topic)) {
        fail("S4: a QoS 2 message delivered twice to one session");
      }
    }
  }

  void check_takeover() {
    std::set<std::string> live;
    for (const auto& s : slots) {
      if (s.live && s.conn->state() == Connection::State::connected &&
          !live.insert(s.client_id).second) {
        fail("S19: two live connections for one client id");
      }
    }
  }
};

const char* const topics[] = {"a", "a/b", "a/c", "nl", "$s/x"};
const char* const filters[] = {"a", "a/#", "+/b", "#", "nl", "$share/g/a/#", "$s/+"};

void run(const std::uint8_t* data, std::size_t size, std::size_t shards) {
  World w(shards);
  std::size_t i = 0;
  auto next = [&]() -> std::uint8_t { return i < size ? data[i++] : 0; };
  while (i < size) {
    const std::uint8_t op = next();
    Slot& s = w.slots[op % 3];
    switch ((op >> 2) % 8) {
      case 0: {  // connect
        if (s.live) break;
        const std::uint8_t f = next();
        ConnectionOptions o;
        o.role = Role::client;
        s.conn = std::make_unique<Connection>(o, w.now);
        const auto link = w.broker.open(w.now, static_cast<std::size_t>(op >> 5) % shards);
        if (!link) break;
        s.link = *link;
        s.live = true;
        s.client_id = "c" + std::to_string(f % 4);
        if ((f & 0x20) != 0) w.subscriptions[s.client_id].clear();  // Clean Start
        Connect c;
        c.version = (f & 0x10) != 0 ? Version::v3_1_1 : Version::v5;
        c.client_id = s.client_id;
        c.clean_start = (f & 0x20) != 0;
        if (c.version == Version::v5 && (f & 0x40) != 0) {
          c.properties.add(PropertyId::session_expiry_interval, 60u);
        }
        if ((f & 0x80) != 0) {
          c.will = Will{"a/b",
                        SharedBytes(std::string_view("will-" + s.client_id)),
                        static_cast<QoS>(f % 3),
                        false,
                        {}};
          if (c.version == Version::v5 && (f & 0x08) != 0) {
            c.will->properties.add(PropertyId::will_delay_interval, 5u);
          }
        }
        Session kept;
        if (!c.clean_start) kept = std::move(w.client_sessions[s.client_id]);
        s.conn->connect(std::move(c), std::move(kept), w.now);
        break;
      }
      case 1: {  // subscribe
        if (!s.live || s.conn->state() != Connection::State::connected) break;
        const std::uint8_t f = next();
        Subscription sub{filters[f % 7], {static_cast<QoS>((f >> 3) % 3), false, false, 0}};
        if (s.conn->version() == Version::v5) {
          sub.options.no_local = (f & 0x80) != 0 && sub.filter.rfind("$share", 0) != 0;
          sub.options.retain_handling = static_cast<std::uint8_t>((f >> 5) % 3);
        }
        w.subscriptions[s.client_id][sub.filter] = sub.options.no_local;
        Subscribe packet;
        packet.subscriptions.push_back(sub);
        s.conn->subscribe(std::move(packet), w.now);
        break;
      }
      case 2:
      case 3: {  // publish
        const std::uint8_t f = next();
        Publish p;
        p.topic = topics[f % 5];
        p.qos = static_cast<QoS>((f >> 3) % 3);
        p.retain = (f & 0x80) != 0;
        const std::string payload = "m" + std::to_string(w.counter++);
        p.payload = SharedBytes(std::string_view(payload));
        if (!s.live || s.conn->state() != Connection::State::connected) break;
        w.published.insert(payload);
        w.published_qos[payload] = p.qos;
        w.publisher_of[payload] = s.client_id;
        s.conn->publish(std::move(p), w.now);
        break;
      }
      case 4:  // unsubscribe
        if (s.live && s.conn->state() == Connection::State::connected) {
          const char* filter = filters[next() % 7];
          w.subscriptions[s.client_id].erase(filter);
          s.conn->unsubscribe(Unsubscribe{0, {}, {filter}}, w.now);
        }
        break;
      case 5:  // the network drops
        if (s.live) w.end(s);
        break;
      case 6:  // a normal DISCONNECT
        if (s.live && s.conn->state() == Connection::State::connected) {
          s.conn->disconnect(Disconnect{}, w.now);
        }
        break;
      default: {  // time passes
        w.now += Duration(250 * std::int64_t{next() % 64});
        w.broker.handle_timeout(w.now);
        for (auto& slot : w.slots) {
          if (slot.live) slot.conn->handle_timeout(w.now);
        }
      }
    }
    w.pump();
    w.check_takeover();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  run(data, size, 1);
  run(data, size, 2);
  return 0;
}
