// `assay decode` as a function: hex parsing, JSON per packet, violations.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "decode_command.hpp"

namespace assay::tools {
namespace {

using nlohmann::json;

std::vector<json> lines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    out.push_back(json::parse(line));
  return out;
}

struct Run {
  int code;
  std::vector<json> out;
  std::string err;
};

Run run(const std::string& hex, DecodeOptions o = {}) {
  std::string error;
  const auto bytes = parse_hex(hex, error);
  EXPECT_TRUE(bytes) << error;
  std::ostringstream out;
  std::ostringstream err;
  const int code = run_decode(*bytes, o, out, err);
  return {code, lines(out.str()), err.str()};
}

TEST(ParseHex, SeparatorsAndPrefixes) {
  std::string error;
  EXPECT_EQ(parse_hex("30:05 0x00,01-74\n", error), (mqtt::Bytes{0x30, 0x05, 0x00, 0x01, 0x74}));
  EXPECT_FALSE(parse_hex("3", error));
  EXPECT_EQ(error, "odd number of hex digits");
  EXPECT_FALSE(parse_hex("zz", error));
}

TEST(Decode, ConnectThenPublishFollowsTheConnectVersion) {
  // A 3.1.1 CONNECT, then a QoS 1 PUBLISH that only parses under 3.1.1 rules.
  const auto r = run("10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 61  32 07 00 01 74 00 01 68 69");
  ASSERT_EQ(r.code, exit_ok) << r.err;
  ASSERT_EQ(r.out.size(), 2u);
  EXPECT_EQ(r.out[0]["type"], "CONNECT");
  EXPECT_EQ(r.out[0]["protocol_version"], "3.1.1");
  EXPECT_EQ(r.out[0]["clean_session"], true);
  EXPECT_EQ(r.out[0]["keep_alive"], 60);
  EXPECT_EQ(r.out[1]["type"], "PUBLISH");
  EXPECT_EQ(r.out[1]["flags"]["qos"], 1);
  EXPECT_EQ(r.out[1]["packet_id"], 1);
  EXPECT_EQ(r.out[1]["payload"]["text"], "hi");
  EXPECT_EQ(r.out[1]["offset"], 15);
}

TEST(Decode, V5PropertiesAsObject) {
  const auto r = run("30 17 00 01 74 13 26 00 01 62 00 01 32 0b 80 01 26 00 01 61 00 01 31 0b 02");
  ASSERT_EQ(r.code, exit_ok) << r.err;
  const auto& props = r.out.at(0)["properties"];
  EXPECT_EQ(props["user_property"], json::parse(R"([["b","2"],["a","1"]])"));
  EXPECT_EQ(props["subscription_identifier"], json::parse("[128, 2]"));
}

TEST(Decode, ViolationPrintsReasonAndStatement) {
  const auto r = run("36 06 00 01 74 00 01 00");
  EXPECT_EQ(r.code, exit_violation);
  ASSERT_EQ(r.out.size(), 1u);
  EXPECT_EQ(r.out[0]["error"], "violation");
  EXPECT_EQ(r.out[0]["reason_code"], "0x81");
  EXPECT_EQ(r.out[0]["reason"], "Malformed Packet");
  EXPECT_EQ(r.out[0]["statement"], "MQTT-3.3.1-4");
  EXPECT_NE(r.err.find("MQTT-3.3.1-4"), std::string::npos);
}

TEST(Decode, ExplicitVersion) {
  // PUBACK with a Reason Code: valid in 5.0, malformed in 3.1.1.
  DecodeOptions v311;
  v311.version = mqtt::Version::v3_1_1;
  EXPECT_EQ(run("40 03 00 01 10", v311).code, exit_violation);
  const auto r = run("40 03 00 01 10");
  ASSERT_EQ(r.code, exit_ok);
  EXPECT_EQ(r.out[0]["reason"], "No matching subscribers");
}

TEST(Decode, TruncatedInput) {
  const auto r = run("c0 00 30 05 00 01");
  EXPECT_EQ(r.code, exit_violation);
  ASSERT_EQ(r.out.size(), 2u);
  EXPECT_EQ(r.out[1]["error"], "truncated");
  EXPECT_EQ(r.out[1]["missing_at_least"], 3);
}

TEST(Decode, MaximumPacketSize) {
  DecodeOptions o;
  o.maximum_packet_size = 4;
  const auto r = run("30 05 00 01 74 68 69", o);
  EXPECT_EQ(r.code, exit_violation);
  EXPECT_EQ(r.out.at(0)["reason_code"], "0x95");
}

TEST(Decode, EveryPacketType) {
  const auto r =
      run("20 03 00 00 00"                         // CONNACK
          "40 02 00 01 50 02 00 01"                // PUBACK, PUBREC
          "62 02 00 01 70 02 00 01"                // PUBREL, PUBCOMP
          "82 07 00 01 00 00 01 74 15"             // SUBSCRIBE
          "90 04 00 01 00 01"                      // SUBACK
          "a2 06 00 01 00 00 01 74"                // UNSUBSCRIBE
          "b0 04 00 01 00 11"                      // UNSUBACK
          "c0 00 d0 00 e0 01 04"                   // PINGREQ, PINGRESP, DISCONNECT
          "f0 0a 18 08 15 00 01 6d 16 00 01 64");  // AUTH
  ASSERT_EQ(r.code, exit_ok) << r.err;
  std::vector<std::string> types;
  for (const auto& j : r.out)
    types.push_back(j["type"]);
  EXPECT_EQ(types, (std::vector<std::string>{"CONNACK", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
                                             "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK",
                                             "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"}));
  EXPECT_EQ(r.out[5]["subscriptions"][0]["retain_handling"], 1);
  EXPECT_EQ(r.out[5]["subscriptions"][0]["no_local"], true);
  EXPECT_EQ(r.out[12]["properties"]["authentication_data"]["hex"], "64");
}

}  // namespace
}  // namespace assay::tools
