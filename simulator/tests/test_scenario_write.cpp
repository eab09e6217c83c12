// write_scenario(): a scenario written and read back is the same scenario,
// for every shipped example and for the worlds swarm mode draws, so that a
// seed's world or a shrunk case can be saved as a file and replayed.
#include <gtest/gtest.h>

#include <filesystem>

#include "assay/sim/scenario.hpp"

namespace assay::sim::test {
namespace {

// Written, read back and written again: the same text, so every field the
// writer knows survived the round trip (and the parser accepted it all).
void expect_round_trip(const Scenario& s, const std::string& where) {
  SCOPED_TRACE(where);
  const std::string text = write_scenario(s);
  try {
    const Scenario back = parse_scenario(text, where);
    EXPECT_EQ(write_scenario(back), text);
  } catch (const ScenarioError& e) {
    ADD_FAILURE() << e.what() << "\n" << text;
  }
}

TEST(ScenarioWrite, EveryExampleRoundTrips) {
  std::size_t count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(ASSAY_SCENARIOS_DIR)) {
    if (entry.path().extension() != ".json") continue;
    ++count;
    expect_round_trip(load_scenario(entry.path().string()), entry.path().string());
  }
  EXPECT_GE(count, 6u);
}

TEST(ScenarioWrite, SwarmWorldsRoundTrip) {
  for (std::uint64_t seed = 1; seed <= 300; ++seed)
    expect_round_trip(swarm(seed), "swarm seed " + std::to_string(seed));
}

TEST(ScenarioWrite, WhatTheFileSays) {
  Scenario s;
  s.name = "w";
  DeviceClass d;
  d.name = "old";
  d.version = mqtt::Version::v3_1_1;
  d.qos = mqtt::QoS::exactly_once;
  d.publish.kind = Process::Kind::poisson;
  d.publish.rate = 2.5;
  d.durable_store = true;
  d.planted_bug = client::PlantedBug::resend_without_dup;
  s.devices.push_back(d);
  Stage st;
  st.kind = Stage::Kind::client_crash;
  st.at = 1500 * ns_per_ms;
  st.duration = 2 * ns_per_s;
  st.half_open = true;
  s.stages.push_back(st);
  const std::string text = write_scenario(s);
  EXPECT_NE(text.find("\"version\": \"3.1.1\""), std::string::npos) << text;
  // A 3.1.1 class has no Session Expiry Interval: the parser would refuse it.
  EXPECT_EQ(text.find("session_expiry"), std::string::npos) << text;
  EXPECT_NE(text.find("\"rate\": 2.5"), std::string::npos) << text;
  EXPECT_NE(text.find("\"store\": \"durable\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"planted_bug\": \"resend_without_dup\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"at\": \"1500ms\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"half_open\": true"), std::string::npos) << text;
  const Scenario back = parse_scenario(text, "w.json");
  ASSERT_EQ(back.devices.size(), 1u);
  EXPECT_EQ(back.devices[0].qos, mqtt::QoS::exactly_once);
  EXPECT_EQ(back.devices[0].publish.rate, 2.5);
  EXPECT_TRUE(back.devices[0].durable_store);
  ASSERT_EQ(back.stages.size(), 1u);
  EXPECT_EQ(back.stages[0].at, 1500 * ns_per_ms);
  EXPECT_TRUE(back.stages[0].half_open);
}

}  // namespace
}  // namespace assay::sim::test
