// The World and its checkers on small scenarios built in code: a clean run
// holds every guarantee, the same seed gives the same trace, faults happen
// and are healed, and a broker that breaks a guarantee is caught.
#include <gtest/gtest.h>

#include <sstream>

#include "assay/sim/run.hpp"

namespace assay::sim::test {
namespace {

Scenario small(std::size_t sensors = 5, mqtt::QoS qos = mqtt::QoS::at_least_once) {
  Scenario s;
  s.name = "small";
  s.duration = 20 * ns_per_s;
  s.heal = 20 * ns_per_s;
  DeviceClass d;
  d.name = "sensor";
  d.count = sensors;
  d.qos = qos;
  d.topic = "sensors/{id}/temp";
  d.publish.kind = Process::Kind::fixed;
  d.publish.interval = ns_per_s / 2;
  d.values.kind = Values::Kind::random_walk;
  s.devices.push_back(d);
  SubscriberClass b;
  b.name = "backend";
  b.filters = {"sensors/#"};
  b.qos = mqtt::QoS::exactly_once;
  s.subscribers.push_back(b);
  return s;
}

std::string describe(const Report& r) {
  std::string out = std::string(to_string(r.verdict)) + " " + r.crash + "\n";
  for (const auto& [k, v] : r.counts)
    out += k + "=" + std::to_string(v) + " ";
  for (const auto& f : r.findings) {
    out += "\n" + f.finding.invariant + " " + f.finding.detail;
    for (const auto& l : f.window)
      out += "\n    " + l;
  }
  return out;
}

TEST(World, ACleanRunHoldsEveryGuarantee) {
  const Report r = run(small(), 7);
  EXPECT_EQ(r.verdict, Verdict::ok) << describe(r);
  EXPECT_GT(r.stats.published, 150u);
  EXPECT_EQ(r.counts.count("lost"), 0u) << describe(r);
  EXPECT_GT(r.counts.at("ok"), 150u) << describe(r);
}

TEST(World, TheSameSeedGivesTheSameTrace) {
  std::ostringstream a, b;
  RunOptions oa, ob;
  oa.trace = &a;
  ob.trace = &b;
  const Report r1 = run(small(), 42, oa);
  const Report r2 = run(small(), 42, ob);
  EXPECT_EQ(r1.trace_hash, r2.trace_hash);
  EXPECT_EQ(a.str(), b.str());
  const Report r3 = run(small(), 43);
  EXPECT_NE(r1.trace_hash, r3.trace_hash);
}

// A world written as a file (write_scenario) and read back runs the same,
// event for event: a swarm seed saved to a file replays as the seed does.
TEST(World, AWrittenScenarioRunsAsTheOriginal) {
  for (const std::uint64_t seed : {3u, 11u, 27u}) {
    const Scenario s = swarm(seed);
    const Scenario back = parse_scenario(write_scenario(s), "swarm.json");
    EXPECT_EQ(run(s, seed).trace_hash, run(back, seed).trace_hash) << "seed " << seed;
  }
}

TEST(World, FaultsAreSurvived) {
  for (const bool durable : {false, true}) {
    Scenario s = small(8, mqtt::QoS::exactly_once);
    s.brokers[0].durable = durable;
    Stage crash;
    crash.kind = Stage::Kind::broker_crash;
    crash.at = 5 * ns_per_s;
    crash.duration = 2 * ns_per_s;
    s.stages.push_back(crash);
    Stage storm;
    storm.kind = Stage::Kind::reconnect_storm;
    storm.at = 10 * ns_per_s;
    storm.fraction = 0.5;
    s.stages.push_back(storm);
    Stage cut;
    cut.kind = Stage::Kind::partition;
    cut.target = "sensor";
    cut.at = 13 * ns_per_s;
    cut.duration = 3 * ns_per_s;
    s.stages.push_back(cut);
    for (std::uint64_t seed = 1; seed <= 5; ++seed) {
      const Report r = run(s, seed);
      EXPECT_EQ(r.verdict, Verdict::ok) << "durable " << durable << " seed " << seed << "\n"
                                        << describe(r);
      EXPECT_GE(r.stats.faults, 2u);
    }
  }
}

}  // namespace
}  // namespace assay::sim::test
