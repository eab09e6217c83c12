// Property tests of whole runs (RapidCheck): small fleets with generated
// workloads and fault schedules.
//   - Without a planted bug every run holds every guarantee.
//   - With one (each of the nine planted bugs), RapidCheck finds a failing
//     schedule and shrinks it (fewer faults, fewer and simpler devices,
//     earlier and shorter faults); the smallest failing case is saved as a scenario file
//     (write_scenario()) that `assay sim FILE` replays with the same verdict, and the test checks
//     that it does and that the report names the invariant.
// Runs use seed 1, the default of `assay sim`, so a saved file replays as
// it is. RC_PARAMS="max_success=N" raises the count.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <filesystem>
#include <fstream>
#include <optional>

#include "assay/sim/run.hpp"

namespace assay::sim::test {
namespace {

using mqtt::QoS;

// A generated fault: its kind (0 shrinks to a reconnect storm), when, how
// long (tenths of a second), and on whom.
struct Fault {
  int kind = 0;
  int at_ds = 10;
  int duration_ds = 0;
  bool on_subscriber = false;
  bool half_open = false;
};

Stage to_stage(const Fault& f, std::size_t i, Nanos duration) {
  static constexpr Stage::Kind kinds[] = {Stage::Kind::reconnect_storm,
                                          Stage::Kind::client_crash,
                                          Stage::Kind::broker_crash,
                                          Stage::Kind::partition,
                                          Stage::Kind::degrade,
                                          Stage::Kind::slow_consumer,
                                          Stage::Kind::leave};
  Stage st;
  st.kind = kinds[f.kind];
  st.name = "fault " + std::to_string(i);
  st.at = f.at_ds * (ns_per_s / 10);
  st.duration = std::min<Nanos>(f.duration_ds * (ns_per_s / 10), duration - st.at);
  st.target = f.on_subscriber ? "backend" : "sensor";
  if (st.kind == Stage::Kind::broker_crash) st.target = "";
  if (st.kind == Stage::Kind::slow_consumer) {
    st.target = "backend";
    st.read_bytes_per_s = 500;
  }
  if (st.kind == Stage::Kind::leave) st.target = "sensor";
  if (st.kind == Stage::Kind::degrade) {
    LinkProfile p;
    p.latency = 100 * ns_per_ms;
    p.jitter = 50 * ns_per_ms;
    p.max_chunk = 3;
    st.profile = p;
  }
  st.half_open = st.kind == Stage::Kind::client_crash && f.half_open;
  if (st.kind == Stage::Kind::leave) st.fraction = 0.5;
  return st;
}

// Everything RapidCheck chooses for one run; each value shrinks toward the
// simplest world (one device, QoS 0, no faults, 5.0, volatile, no stores).
Scenario generated_scenario() {
  Scenario s;
  s.name = "generated";
  s.duration = 12 * ns_per_s;
  s.heal = 10 * ns_per_s;
  BrokerSpec& b = s.brokers[0];
  b.durable = *rc::gen::arbitrary<bool>();
  b.receive_maximum = static_cast<std::uint16_t>(*rc::gen::inRange(1, 21));
  b.max_queued_messages = static_cast<std::size_t>(*rc::gen::inRange(1000, 1001));
  DeviceClass d;
  d.name = "sensor";
  d.count = static_cast<std::size_t>(*rc::gen::inRange(1, 5));
  d.topic = "sensors/{id}";
  d.qos = static_cast<QoS>(*rc::gen::inRange(0, 3));
  d.retain = *rc::gen::arbitrary<bool>();
  d.version = *rc::gen::arbitrary<bool>() ? mqtt::Version::v3_1_1 : mqtt::Version::v5;
  d.keep_alive_s = 5;
  d.durable_store = *rc::gen::arbitrary<bool>();
  d.publish.interval = *rc::gen::inRange(1, 11) * (ns_per_s / 20);
  if (*rc::gen::arbitrary<bool>()) {
    WillSpec w;
    w.topic = "status/{id}";
    w.payload = "gone {msg}";
    d.will = w;
  }
  s.devices.push_back(d);
  SubscriberClass c;
  c.name = "backend";
  c.filters = {"sensors/#", "status/#"};
  c.qos = static_cast<QoS>(*rc::gen::inRange(1, 3));
  c.keep_alive_s = 5;
  c.durable_store = *rc::gen::arbitrary<bool>();
  c.start = *rc::gen::inRange(0, 30) * (ns_per_s / 10);
  s.subscribers.push_back(c);
  const auto faults = *rc::gen::container<std::vector<Fault>>(
      rc::gen::build<Fault>(rc::gen::set(&Fault::kind, rc::gen::inRange(0, 7)),
                            rc::gen::set(&Fault::at_ds, rc::gen::inRange(10, 100)),
                            rc::gen::set(&Fault::duration_ds, rc::gen::inRange(0, 40)),
                            rc::gen::set(&Fault::on_subscriber, rc::gen::arbitrary<bool>()),
                            rc::gen::set(&Fault::half_open, rc::gen::arbitrary<bool>())));
  for (std::size_t i = 0; i < faults.size() && i < 4; ++i)
    s.stages.push_back(to_stage(faults[i], i, s.duration));
  return s;
}

std::string summary(const Report& r) {
  std::string out(to_string(r.verdict));
  for (const auto& f : r.findings)
    out += "\n  " + f.finding.invariant + " " + f.finding.detail;
  return out;
}

TEST(SimProperties, EveryGeneratedRunHoldsEveryGuarantee) {
  EXPECT_TRUE(rc::check("a generated fleet under generated faults keeps every guarantee", [] {
    const Scenario s = generated_scenario();
    const Report r = run(s, 1);
    if (r.verdict != Verdict::ok) RC_LOG() << write_scenario(s);
    RC_ASSERT(r.verdict == Verdict::ok);
  }));
}

struct Planted {
  const char* name;
  std::function<void(Scenario&)> plant;
  std::vector<std::string> invariants;  // the report must name one of them
};

// gtest (and ctest's list) names a case by this, not by its bytes.
void PrintTo(const Planted& p, std::ostream* os) {
  *os << p.name;
}

class Shrinks : public ::testing::TestWithParam<Planted> {};

TEST_P(Shrinks, ToAFileThatReplaysTheFailure) {
  const Planted& bug = GetParam();
  const std::filesystem::path file =
      std::filesystem::current_path() / ("shrunk-" + std::string(bug.name) + ".json");
  // The first failing case, and the last one RapidCheck tried (each step
  // of its shrinking is a failing case, so the last is its minimum).
  std::optional<Scenario> first, smallest;
  const bool held = rc::check(std::string("with ") + bug.name + " planted", [&] {
    Scenario s = generated_scenario();
    bug.plant(s);
    const Report r = run(s, 1);
    if (r.verdict != Verdict::ok) {
      if (!first) first = s;
      smallest = s;
    }
    RC_ASSERT(r.verdict == Verdict::ok);
  });
  ASSERT_FALSE(held) << bug.name << " was never found";
  ASSERT_TRUE(smallest);
  // The case kept is the shrunk one: no bigger than the first failing case
  // in faults and devices.
  EXPECT_LE(smallest->stages.size(), first->stages.size());
  EXPECT_LE(smallest->devices[0].count, first->devices[0].count);
  smallest->description = std::string("The smallest failing case RapidCheck found with ") +
                          bug.name + " planted; assay sim replays it (seed 1)";
  {
    std::ofstream out(file);
    out << write_scenario(*smallest);
  }
  // The saved file, read back, fails the same way.
  const Scenario back = load_scenario(file.string());
  const Report r = run(back, 1);
  ASSERT_NE(r.verdict, Verdict::ok) << file;
  bool named = false;
  for (const auto& f : r.findings) {
    for (const auto& inv : bug.invariants)
      named = named || f.finding.invariant == inv;
  }
  EXPECT_TRUE(named) << bug.name << ": " << summary(r) << "\n" << write_scenario(back);
  std::cout << "replay: assay sim " << file.string() << "\n";
}

INSTANTIATE_TEST_SUITE_P(
    Bugs, Shrinks,
    ::testing::Values(
        Planted{"lose_qos2_after_pubrec",
                [](Scenario& s) {
                  s.brokers[0].planted_bug = broker::PlantedBug::lose_qos2_after_pubrec;
                  s.devices[0].qos = QoS::exactly_once;  // where it can show
                },
                {"L1", "L2"}},  // L1 when the subscription is QoS 1
        Planted{"forget_inflight_on_resume",
                [](Scenario& s) {
                  s.brokers[0].planted_bug = broker::PlantedBug::forget_inflight_on_resume;
                },
                {"L1", "L2", "L4"}},  // L4: the Will in flight to the subscriber
        Planted{"will_on_normal_disconnect",
                [](Scenario& s) {
                  s.brokers[0].planted_bug = broker::PlantedBug::will_on_normal_disconnect;
                  if (!s.devices[0].will) s.devices[0].will = WillSpec{"status/{id}", "gone {msg}"};
                },
                {"S12"}},
        Planted{"drop_session_on_takeover",
                [](Scenario& s) {
                  s.brokers[0].planted_bug = broker::PlantedBug::drop_session_on_takeover;
                },
                {"S15", "L1", "L2", "L3"}},
        Planted{"retained_without_retain_flag",
                [](Scenario& s) {
                  s.brokers[0].planted_bug = broker::PlantedBug::retained_without_retain_flag;
                  s.devices[0].retain = true;
                },
                // S3/S4: a retained copy without RETAIN 1 is a second live one.
                {"S10", "S11", "S3", "S4"}},
        Planted{"reorder_queue",
                [](Scenario& s) { s.brokers[0].planted_bug = broker::PlantedBug::reorder_queue; },
                // L1/L2/L4: the copy it holds back is lost when no other follows.
                {"S8", "L1", "L2", "L4"}},
        Planted{"ack_before_store",
                [](Scenario& s) {
                  s.brokers[0].planted_bug = broker::PlantedBug::ack_before_store;
                  s.brokers[0].durable = true;
                },
                {"L1", "L2"}},
        Planted{"client_forget_inflight_on_resume",
                [](Scenario& s) {
                  s.devices[0].planted_bug = client::PlantedBug::forget_inflight_on_resume;
                  if (s.devices[0].qos == QoS::at_most_once) s.devices[0].qos = QoS::at_least_once;
                  s.devices[0].publish.interval = ns_per_s / 50;
                },
                {"L3", "L1", "L2"}},
        Planted{"resend_without_dup",
                [](Scenario& s) {
                  s.devices[0].planted_bug = client::PlantedBug::resend_without_dup;
                  // Resends need a message in flight when a connection
                  // breaks: QoS 1 or 2, published often.
                  if (s.devices[0].qos == QoS::at_most_once) s.devices[0].qos = QoS::at_least_once;
                  s.devices[0].publish.interval = ns_per_s / 50;
                },
                {"S5"}}),
    [](const ::testing::TestParamInfo<Planted>& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace assay::sim::test
