// The checkers find real bugs: each bug planted in the broker or client
// engine (broker::PlantedBug, client::PlantedBug, test only) is caught
// within a few seeds of a scenario that exercises it, and the report names
// the invariant it breaks; the same scenarios without the bug pass.
#include <gtest/gtest.h>

#include <functional>

#include "assay/sim/run.hpp"

namespace assay::sim::test {
namespace {

using mqtt::QoS;

Scenario base(QoS qos, bool retain = false) {
  Scenario s;
  s.duration = 20 * ns_per_s;
  s.heal = 20 * ns_per_s;
  DeviceClass d;
  d.name = "sensor";
  d.count = 4;
  d.qos = qos;
  d.retain = retain;
  d.topic = "sensors/{id}/temp";
  d.publish.interval = ns_per_s / 4;
  d.keep_alive_s = 10;
  s.devices.push_back(d);
  SubscriberClass b;
  b.name = "backend";
  b.filters = {"sensors/#", "status/#"};
  b.qos = QoS::exactly_once;
  b.keep_alive_s = 10;
  s.subscribers.push_back(b);
  return s;
}

Stage stage(Stage::Kind kind, double at_s, double duration_s, std::string target = "",
            double fraction = 1.0) {
  Stage st;
  st.kind = kind;
  st.at = static_cast<Nanos>(at_s * 1e9);
  st.duration = static_cast<Nanos>(duration_s * 1e9);
  st.target = std::move(target);
  st.fraction = fraction;
  return st;
}

struct Case {
  const char* name;
  std::function<Scenario()> make;
  std::function<void(Scenario&)> plant;
  std::vector<std::string> invariants;  // any of them
};

std::vector<Case> cases() {
  return {
      {"lose a QoS 2 message after PUBREC",
       [] { return base(QoS::exactly_once); },
       [](Scenario& s) { s.brokers[0].planted_bug = broker::PlantedBug::lose_qos2_after_pubrec; },
       {"L2"}},
      {"publish the Will on a normal DISCONNECT",
       [] {
         Scenario s = base(QoS::at_least_once);
         WillSpec w;
         w.topic = "status/{id}";
         w.payload = "offline {msg}";
         s.devices[0].will = w;
         s.stages.push_back(stage(Stage::Kind::leave, 10, 0, "sensor", 0.5));
         return s;
       },
       [](Scenario& s) {
         s.brokers[0].planted_bug = broker::PlantedBug::will_on_normal_disconnect;
       },
       {"S12"}},
      {"drop the session on takeover",
       [] {
         Scenario s = base(QoS::at_least_once);
         Stage vanish = stage(Stage::Kind::client_crash, 8, 1, "sensor", 0.5);
         vanish.half_open = true;  // restarted while the broker still holds the connection
         s.stages.push_back(vanish);
         return s;
       },
       [](Scenario& s) { s.brokers[0].planted_bug = broker::PlantedBug::drop_session_on_takeover; },
       {"S15"}},
      {"deliver a retained message with RETAIN 0 on subscribe",
       [] {
         Scenario s = base(QoS::at_least_once, true);
         s.subscribers[0].start = 5 * ns_per_s;
         return s;
       },
       [](Scenario& s) {
         s.brokers[0].planted_bug = broker::PlantedBug::retained_without_retain_flag;
       },
       {"S10"}},
      {"forget in-flight messages on resumption",
       [] {
         Scenario s = base(QoS::at_least_once);
         s.brokers[0].receive_maximum = 20;
         s.devices[0].count = 8;
         s.devices[0].publish.interval = ns_per_s / 20;
         for (double t = 4; t < 18; t += 2)
           s.stages.push_back(stage(Stage::Kind::reconnect_storm, t, 0, "backend"));
         return s;
       },
       [](Scenario& s) {
         s.brokers[0].planted_bug = broker::PlantedBug::forget_inflight_on_resume;
       },
       {"L1", "L2"}},
      {"reorder a session's queue",
       [] {
         Scenario s = base(QoS::at_least_once);
         s.devices[0].count = 1;  // S8 is per publisher: one makes every pair count
         s.stages.push_back(stage(Stage::Kind::client_crash, 6, 3, "backend"));
         return s;
       },
       [](Scenario& s) { s.brokers[0].planted_bug = broker::PlantedBug::reorder_queue; },
       {"S8"}},
      {"acknowledge before storing with persistence on",
       [] {
         Scenario s = base(QoS::at_least_once);
         s.brokers[0].durable = true;
         s.stages.push_back(stage(Stage::Kind::client_crash, 5, 6, "backend"));
         s.stages.push_back(stage(Stage::Kind::broker_crash, 9, 1));
         return s;
       },
       [](Scenario& s) { s.brokers[0].planted_bug = broker::PlantedBug::ack_before_store; },
       {"L1", "L2"}},
      {"resend without DUP (client)",
       [] {
         Scenario s = base(QoS::at_least_once);
         s.devices[0].count = 8;
         s.devices[0].publish.interval = ns_per_s / 20;
         for (double t = 4; t < 18; t += 2)
           s.stages.push_back(stage(Stage::Kind::reconnect_storm, t, 0, "sensor"));
         return s;
       },
       [](Scenario& s) { s.devices[0].planted_bug = client::PlantedBug::resend_without_dup; },
       {"S5"}},
      {"forget in-flight messages on resumption (client)",
       [] {
         Scenario s = base(QoS::at_least_once);
         s.devices[0].count = 8;
         s.devices[0].publish.interval = ns_per_s / 20;
         for (double t = 4; t < 18; t += 2)
           s.stages.push_back(stage(Stage::Kind::reconnect_storm, t, 0, "sensor"));
         return s;
       },
       [](Scenario& s) {
         s.devices[0].planted_bug = client::PlantedBug::forget_inflight_on_resume;
       },
       {"L3"}},
  };
}

std::string summary(const Report& r) {
  std::string out = std::string(to_string(r.verdict));
  for (const auto& f : r.findings)
    out += "\n  " + f.finding.invariant + " " + f.finding.detail;
  return out;
}

class Planted : public ::testing::TestWithParam<std::size_t> {};

TEST_P(Planted, IsFoundWithinTenSeedsAndNamed) {
  const Case c = cases()[GetParam()];
  // Without the bug: every seed passes.
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    const Report r = run(c.make(), seed);
    ASSERT_EQ(r.verdict, Verdict::ok) << c.name << ", no bug, seed " << seed << ": " << summary(r);
  }
  Scenario buggy = c.make();
  c.plant(buggy);
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    const Report r = run(buggy, seed);
    if (r.verdict == Verdict::ok) continue;
    bool named = false;
    for (const auto& f : r.findings) {
      for (const auto& inv : c.invariants)
        named = named || f.finding.invariant == inv;
    }
    EXPECT_TRUE(named) << c.name << ": found at seed " << seed << " but not as " << c.invariants[0]
                       << ": " << summary(r);
    return;
  }
  FAIL() << c.name << ": not found in 10 seeds";
}

INSTANTIATE_TEST_SUITE_P(Bugs, Planted, ::testing::Range<std::size_t>(0, 9),
                         [](const auto& p) { return "bug" + std::to_string(p.param); });

}  // namespace
}  // namespace assay::sim::test
