// The whole conformance suite against our broker engine, in process with a
// fake clock; and checks that the suite catches brokers that misbehave.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>

#include "assay/broker/security/file_security.hpp"
#include "assay/conformance/engine_network.hpp"
#include "assay/conformance/simulated_network.hpp"
#include "assay/conformance/suite.hpp"

namespace assay::conformance {
namespace {

std::string failures(const Report& r) {
  std::string out;
  for (const CaseResult& c : r.results) {
    if (c.verdict != Verdict::failed) continue;
    out += c.test->id() + ": " + c.message + "\n";
    for (const TraceLine& l : c.trace) {
      out += "    " + std::to_string(l.at.count()) + "ms " + l.peer + " " + l.direction + " " +
             l.text + "\n";
    }
  }
  return out;
}

// Rewrites a chunk the engine sent frame by frame (each chunk holds whole
// packets): `fn` appends what should go out instead of each frame.
void each_frame(mqtt::Bytes& bytes,
                const std::function<void(const mqtt::Bytes& frame, mqtt::Bytes& out)>& fn) {
  mqtt::Bytes out;
  std::size_t i = 0;
  while (i < bytes.size()) {
    std::size_t length = 0;
    std::size_t header = 1;
    for (unsigned shift = 0;; shift += 7) {
      const std::uint8_t b = bytes[i + header++];
      length |= static_cast<std::size_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) break;
    }
    const mqtt::Bytes frame(bytes.begin() + static_cast<long>(i),
                            bytes.begin() + static_cast<long>(i + header + length));
    fn(frame, out);
    i += header + length;
  }
  bytes = std::move(out);
}

// The engine's defaults, plus the broker's FileSecurity with one SCRAM
// account (anonymous access on), so that the enhanced authentication cases
// run in process too.
broker::EngineConfig with_scram() {
  const auto dir = std::filesystem::temp_directory_path() / "assay-conformance-scram";
  std::filesystem::create_directories(dir);
  broker::security::PasswordFile file;
  file.set("conform", broker::security::PasswordHash::make_scram("secret", 4096));
  std::ofstream(dir / "passwd", std::ios::trunc) << file.text();
  broker::security::SecurityOptions o;
  o.allow_anonymous = true;
  o.password_file = (dir / "passwd").string();
  auto opened = broker::security::FileSecurity::open(o, {});
  std::filesystem::remove_all(dir);
  if (opened.index() != 0) throw std::runtime_error(std::get<std::string>(opened));
  broker::EngineConfig config;
  config.authenticator = std::get<0>(opened);
  return config;
}

Options quick() {
  Options o;
  o.token = std::string("t");
  o.stress_messages = 100;
  o.scram = Options::Account{"conform", "secret"};
  return o;
}

TEST(Suite, EveryCaseHasAUniqueIdAndStatements) {
  std::set<std::string> ids;
  for (const Case& c : all_cases()) {
    EXPECT_TRUE(ids.insert(c.id()).second) << c.id();
    EXPECT_FALSE(c.statements.empty()) << c.id();
    for (const std::string& s : c.statements) {
      EXPECT_TRUE(s.rfind("MQTT-", 0) == 0 || s.rfind("§", 0) == 0) << c.id() << ": " << s;
    }
  }
  EXPECT_GT(ids.size(), 100u);
}

// Every case passes against our broker: with its defaults, or, for the
// cases about brokers that offer less, configured to offer less.
TEST(Suite, OurBrokerPassesEveryApplicableCase) {
  EngineNetwork net(with_scram());
  const Report r = run_suite(net, quick());
  EXPECT_TRUE(r.capabilities.v5);
  EXPECT_TRUE(r.capabilities.v3_1_1);
  EXPECT_EQ(r.count(Verdict::failed), 0u) << failures(r);
  EXPECT_EQ(r.results.size(), all_cases().size());
  Options limited_cases = quick();
  std::size_t websocket_only = 0;  // not applicable in process, whatever the engine offers
  for (const CaseResult& c : r.results) {
    if (c.verdict != Verdict::not_applicable) continue;
    if (c.test->name == "stream.websocket-text-message") {
      ++websocket_only;
    } else {
      limited_cases.only.push_back(c.test->id());
    }
  }
  EXPECT_EQ(websocket_only, 2u);
  EXPECT_EQ(limited_cases.only.size(), 3u);  // the Maximum QoS and Retain Available cases
  broker::EngineConfig config;
  config.maximum_qos = mqtt::QoS::at_least_once;
  config.retain_available = false;
  EngineNetwork limited(config);
  const Report l = run_suite(limited, limited_cases);
  EXPECT_EQ(l.count(Verdict::failed), 0u) << failures(l);
  EXPECT_EQ(l.count(Verdict::passed), limited_cases.only.size());
}

// The same suite against three engines that make one broker, as `assay
// broker --threads 3` runs them: sessions on their client id's shard,
// subscriptions and retained messages shared, messages forwarded.
TEST(Suite, OurShardedBrokerPassesEveryApplicableCase) {
  EngineNetwork net(with_scram(), 3);
  const Report r = run_suite(net, quick());
  EXPECT_EQ(r.count(Verdict::failed), 0u) << failures(r);
  EXPECT_EQ(r.count(Verdict::passed) + r.count(Verdict::not_applicable), all_cases().size());
  // For brokers that offer less, and the two WebSocket-only cases.
  EXPECT_EQ(r.count(Verdict::not_applicable), 5u);
  EXPECT_GT(net.handoffs(), 100u);  // most clients' shard is not the first
}

// The same suite over simulated links that cut every write into random
// chunks and delay each (in order): what a case sees must not depend on how
// TCP splits or paces a stream. Three seeds, on one engine and on three.
TEST(Suite, OurBrokerPassesOverSimulatedLinks) {
  for (const std::uint64_t seed : {1u, 2u, 3u}) {
    SimulatedNetwork net(seed, {}, with_scram(), seed % 2 == 1 ? 1 : 3);
    const Report r = run_suite(net, quick());
    EXPECT_EQ(r.count(Verdict::failed), 0u) << "seed " << seed << "\n" << failures(r);
    EXPECT_EQ(r.count(Verdict::not_applicable), 5u);  // as above
    EXPECT_EQ(r.results.size(), all_cases().size());
    // Packets were split: far more chunks than the cases sent packets.
    EXPECT_GT(net.chunks(), 20 * r.results.size());
  }
}

// A broker that answers no 5.0 CONNECT has not said it does not offer 5.0:
// its 5.0 cases fail, they are not "not applicable" (the probe is the
// network's first connection; its CONNACK is swallowed).
TEST(Suite, ABrokerThatAnswersNo5ConnectFailsThe5Run) {
  EngineNetwork net;
  net.set_tamper([](std::uint64_t connection, mqtt::Bytes& bytes) {
    if (connection == 1) bytes.clear();
  });
  Options o = quick();
  o.only = {"connect.client-id-23"};
  const Report r = run_suite(net, o);
  EXPECT_FALSE(r.capabilities.v5);
  EXPECT_FALSE(r.capabilities.v5_unsupported);
  ASSERT_EQ(r.results.size(), 2u);
  for (const CaseResult& c : r.results) {
    if (c.test->version == mqtt::Version::v5) {
      EXPECT_EQ(c.verdict, Verdict::failed);
      EXPECT_NE(c.message.find("accepted no MQTT 5"), std::string::npos) << c.message;
    } else {
      EXPECT_EQ(c.verdict, Verdict::passed) << c.message;
    }
  }
}

// A 3.1.1-only broker answers a 5.0 CONNECT with the 3.1.1 CONNACK return
// code 1 (3.1.1 [MQTT-3.1.2-2]): it said so, and the 5.0 cases are not
// applicable.
TEST(Suite, ABrokerThatRefuses5WithReturnCode1Makes5NotApplicable) {
  EngineNetwork net;
  net.set_tamper([](std::uint64_t connection, mqtt::Bytes& bytes) {
    if (connection == 1) bytes = {0x20, 0x02, 0x00, 0x01};  // CONNACK, return code 1
  });
  Options o = quick();
  o.only = {"connect.client-id-23"};
  const Report r = run_suite(net, o);
  EXPECT_FALSE(r.capabilities.v5);
  EXPECT_TRUE(r.capabilities.v5_unsupported);
  EXPECT_TRUE(r.capabilities.v3_1_1);
  ASSERT_EQ(r.results.size(), 2u);
  for (const CaseResult& c : r.results) {
    EXPECT_EQ(c.verdict,
              c.test->version == mqtt::Version::v5 ? Verdict::not_applicable : Verdict::passed)
        << c.test->id() << ": " << c.message;
  }
}

TEST(Suite, SelectionByStatementSectionAndVersion) {
  Options o = quick();
  o.only = {"3.3.*"};
  o.v3_1_1 = false;
  std::size_t n = 0;
  for (const Case& c : all_cases()) {
    if (!selected(c, o)) continue;
    ++n;
    EXPECT_EQ(c.version, mqtt::Version::v5) << c.id();
  }
  EXPECT_GT(n, 5u);
  o.only = {"MQTT-3.1.0-2"};
  o.v3_1_1 = true;
  n = 0;
  for (const Case& c : all_cases())
    n += selected(c, o) ? 1u : 0u;
  EXPECT_EQ(n, 2u);  // one per version
  o.exclude = {"3.1.1/*"};
  n = 0;
  for (const Case& c : all_cases())
    n += selected(c, o) ? 1u : 0u;
  EXPECT_EQ(n, 1u);
}

// A broker that acknowledges a QoS 2 message and never delivers it: the
// publisher's fifth PUBLISH on stress/p1 reaches the engine with another
// topic, so the engine owns it (PUBREC) and routes it nowhere.
TEST(Suite, StressCatchesAnAcknowledgedMessageThatIsNeverDelivered) {
  EngineNetwork net;
  int seen = 0;
  net.set_inbound_tamper([&](std::uint64_t, mqtt::Bytes& bytes) {
    const std::string needle = "stress/p1";
    std::string s(bytes.begin(), bytes.end());
    for (auto at = s.find(needle); at != std::string::npos; at = s.find(needle, at + 1)) {
      if (++seen == 5) bytes[at + 5] = 'X';
    }
  });
  Options o = quick();
  o.only = {"stress.qos2"};
  o.v5 = false;  // 3.1.1: every PUBLISH carries its topic (no aliases)
  const Report r = run_suite(net, o);
  ASSERT_EQ(r.results.size(), 1u);
  EXPECT_EQ(r.results[0].verdict, Verdict::failed);
  EXPECT_NE(r.results[0].message.find("lost 2"), std::string::npos) << r.results[0].message;
}

// A broker that delivers a QoS 2 message twice.
TEST(Suite, StressCatchesADuplicatedQos2Message) {
  EngineNetwork net;
  bool done = false;
  net.set_tamper([&](std::uint64_t, mqtt::Bytes& bytes) {
    each_frame(bytes, [&](const mqtt::Bytes& frame, mqtt::Bytes& out) {
      out.insert(out.end(), frame.begin(), frame.end());
      // The first QoS 2 PUBLISH (3.1.1, one-byte length) goes out twice, the
      // copy with another packet id: a second, distinct delivery.
      if (done || (frame[0] & 0xF6) != 0x34) return;
      mqtt::Bytes copy = frame;
      const std::size_t topic_len = static_cast<std::size_t>(copy[2] << 8 | copy[3]);
      copy[4 + topic_len + 1] ^= 0x40;
      out.insert(out.end(), copy.begin(), copy.end());
      done = true;
    });
  });
  Options o = quick();
  o.only = {"stress.qos2"};
  o.v5 = false;
  const Report r = run_suite(net, o);
  ASSERT_EQ(r.results.size(), 1u);
  EXPECT_EQ(r.results[0].verdict, Verdict::failed);
  EXPECT_NE(r.results[0].message.find("duplicated 1"), std::string::npos) << r.results[0].message;
}

// A broker that ignores the RETAIN flag fails the retained cases, and the
// failure shows the exchange.
TEST(Suite, AFailureCarriesTheStatementAndTheExchange) {
  EngineNetwork net(broker::EngineConfig{});
  net.set_tamper([](std::uint64_t, mqtt::Bytes& bytes) {
    each_frame(bytes, [](const mqtt::Bytes& frame, mqtt::Bytes& out) {
      out.insert(out.end(), frame.begin(), frame.end());
      if ((frame[0] & 0xF0) == 0x30) out[out.size() - frame.size()] &= 0xFE;  // RETAIN 0
    });
  });
  Options o = quick();
  o.only = {"retain.stored"};
  const Report r = run_suite(net, o);
  ASSERT_EQ(r.results.size(), 2u);
  for (const CaseResult& c : r.results) {
    EXPECT_EQ(c.verdict, Verdict::failed) << c.test->id();
    EXPECT_NE(c.message.find("RETAIN must be 1"), std::string::npos) << c.message;
    EXPECT_FALSE(c.trace.empty());
    EXPECT_FALSE(c.test->statements.empty());
  }
}

}  // namespace
}  // namespace assay::conformance
