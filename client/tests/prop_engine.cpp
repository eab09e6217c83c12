// Property: the client engine keeps the QoS guarantees against the broker
// engine whatever happens to the network. RapidCheck generates publishes at
// each QoS, time passing, drops, and cuts of either direction of either
// client's connection at any byte (mid-packet too); the engines reconnect
// on their own. After healing, every QoS 1/2 message the publisher was told
// is done reached the subscriber at least once (QoS 2: exactly once), in
// order of first delivery per QoS; QoS 0 at most once; nothing unpublished
// [docs/guarantees.md S1, S3, S4, S8, L1, L2].
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#include <rapidcheck/state.h>

#include <map>

#include "world.hpp"

namespace assay::client::test {
namespace {

struct System {
  System(Version v, std::uint16_t receive_maximum, std::uint64_t seed)
      : w(broker_config(receive_maximum)) {
    ClientConfig pc = World::config("publisher-1", v, false, 3600);
    pc.queue.max_messages = 10000;
    ClientConfig sc = World::config("subscriber-1", v, false, 3600);
    std::uint64_t state = seed;
    auto random = [state]() mutable {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      return state >> 11;
    };
    s = &w.start(sc, random);
    s->engine->subscribe({Subscription{"p/t", {QoS::exactly_once, false, false, 0}}}, w.now);
    w.pump();
    RC_ASSERT(s->all<event::SubscribeDone>().size() == 1u);
    p = &w.start(pc, random);
    RC_ASSERT(p->engine->connected());
  }
  static broker::EngineConfig broker_config(std::uint16_t rm) {
    broker::EngineConfig c;
    c.receive_maximum = rm;
    c.session_limits.max_queued_messages = 100000;
    return c;
  }

  void publish(QoS qos) {
    const std::string payload = "m" + std::to_string(next++);
    Publish m;
    m.topic = "p/t";
    m.qos = qos;
    m.payload = SharedBytes(std::string_view(payload));
    const Ticket t = p->engine->publish(std::move(m), w.now);
    published[payload] = qos;
    tickets[t] = payload;
    order.push_back(payload);
    w.pump();
  }

  void heal() {
    p->cut_after.reset();
    p->cut_in_after.reset();
    s->cut_after.reset();
    s->cut_in_after.reset();
    w.run_for(std::chrono::seconds(60));
    RC_ASSERT(p->engine->connected());
    RC_ASSERT(s->engine->connected());
    std::map<std::string, int> acked;
    for (const auto& d : p->all<event::PublishDone>()) {
      RC_ASSERT(tickets.count(d.ticket) == 1u);
      RC_ASSERT(d.outcome == Outcome::acknowledged);
      ++acked[tickets[d.ticket]];
    }
    std::map<std::string, int> delivered;
    std::map<QoS, std::vector<std::string>> first;
    for (const auto& m : s->all<event::Message>()) {
      const std::string payload(m.message.payload.as_chars());
      RC_ASSERT(published.count(payload) == 1u);  // S1: nothing unpublished
      if (delivered[payload]++ == 0) first[published[payload]].push_back(payload);
    }
    for (const auto& [payload, qos] : published) {
      RC_ASSERT(acked[payload] == 1);  // every message completes, once
      if (qos == QoS::at_most_once) {
        RC_ASSERT(delivered[payload] <= 1);  // S3
      } else if (qos == QoS::at_least_once) {
        RC_ASSERT(delivered[payload] >= 1);  // L1
      } else {
        RC_ASSERT(delivered[payload] == 1);  // S4, L2
      }
    }
    // S8: first deliveries in publish order, per QoS.
    for (const auto& [qos, got] : first) {
      std::vector<std::string> expected;
      for (const auto& payload : order) {
        if (published[payload] == qos && delivered[payload] > 0) expected.push_back(payload);
      }
      RC_ASSERT(got == expected);
    }
  }

  World w;
  Node* p = nullptr;
  Node* s = nullptr;
  int next = 0;
  std::map<std::string, QoS> published;
  std::map<Ticket, std::string> tickets;
  std::vector<std::string> order;
};

struct Model {};
using Command = rc::state::Command<Model, System>;

struct PublishCmd : Command {
  QoS qos = *rc::gen::element(QoS::at_most_once, QoS::at_least_once, QoS::exactly_once);
  void run(const Model&, System& s) const override { s.publish(qos); }
  void show(std::ostream& os) const override {
    os << "Publish(qos " << static_cast<int>(qos) << ")";
  }
};

struct AdvanceCmd : Command {
  int ms = *rc::gen::inRange(1, 3000);
  void run(const Model&, System& s) const override { s.w.run_for(Duration(ms)); }
  void show(std::ostream& os) const override { os << "Advance(" << ms << "ms)"; }
};

struct CutCmd : Command {
  bool publisher = *rc::gen::arbitrary<bool>();
  bool inbound = *rc::gen::arbitrary<bool>();
  std::size_t bytes = *rc::gen::inRange<std::size_t>(0, 80);
  void run(const Model&, System& s) const override {
    Node& n = publisher ? *s.p : *s.s;
    (inbound ? n.cut_in_after : n.cut_after) = bytes;
    s.w.pump();
  }
  void show(std::ostream& os) const override {
    os << "Cut(" << (publisher ? "publisher" : "subscriber") << (inbound ? " from" : " to")
       << " the broker after " << bytes << " bytes)";
  }
};

struct DropCmd : Command {
  bool publisher = *rc::gen::arbitrary<bool>();
  void run(const Model&, System& s) const override { s.w.drop(publisher ? *s.p : *s.s); }
  void show(std::ostream& os) const override {
    os << "Drop(" << (publisher ? "publisher" : "subscriber") << ")";
  }
};

void check(Version v) {
  const auto rm = *rc::gen::inRange<std::uint16_t>(1, 8);
  const auto seed = *rc::gen::arbitrary<std::uint64_t>();
  System system(v, rm, seed);
  Model model;
  rc::state::check(model, system,
                   rc::state::gen::execOneOfWithArgs<PublishCmd, PublishCmd, PublishCmd, AdvanceCmd,
                                                     CutCmd, CutCmd, DropCmd>());
  system.heal();
}

RC_GTEST_PROP(ClientAgainstBroker, QoSGuaranteesHoldAcrossCutsAtAnyByteV5, ()) {
  check(Version::v5);
}

RC_GTEST_PROP(ClientAgainstBroker, QoSGuaranteesHoldAcrossCutsAtAnyByteV311, ()) {
  check(Version::v3_1_1);
}

}  // namespace
}  // namespace assay::client::test
