// The encoder: what it writes for packets built in code, and the local misuse
// it refuses with EncodeError.
#include "assay/mqtt/codec.hpp"
#include "test_util.hpp"

namespace assay::mqtt::test {
namespace {

template <class P>
void expect_refused(P p, Version v) {
  EXPECT_THROW(encode(Packet(std::move(p)), v), EncodeError);
}

TEST(Encode, PacketsBuiltInCode) {
  Publish p;
  p.topic = "a/b";
  p.qos = QoS::at_least_once;
  p.packet_id = 1;
  p.payload = SharedBytes(std::string_view("hi"));
  EXPECT_EQ(encode(Packet(p), Version::v3_1_1), hex("32 09 00 03 61 2f 62 00 01 68 69"));
  EXPECT_EQ(encode(Packet(p), Version::v5), hex("32 0a 00 03 61 2f 62 00 01 00 68 69"));
  EXPECT_EQ(encoded_size(Packet(p), Version::v5), 12u);

  Puback ack;
  ack.packet_id = 1;
  ack.reason_code = ReasonCode::no_matching_subscribers;
  EXPECT_EQ(encode(Packet(ack), Version::v5), hex("40 03 00 01 10"));
  ack.properties.add(PropertyId::reason_string, std::string("x"));
  EXPECT_EQ(encode(Packet(ack), Version::v5), hex("40 08 00 01 10 04 1f 00 01 78"));

  Disconnect d;
  EXPECT_EQ(encode(Packet(d), Version::v5), hex("e0 00"));
  d.layout = AckLayout::full;
  EXPECT_EQ(encode(Packet(d), Version::v5), hex("e0 02 00 00"));

  Connack c;
  c.reason_code = ReasonCode::bad_user_name_or_password;
  EXPECT_EQ(encode(Packet(c), Version::v3_1_1), hex("20 02 00 04"));
  EXPECT_EQ(encode(Packet(c), Version::v5), hex("20 03 00 86 00"));
}

// The single-alternative encoder writes the common acknowledgement (success,
// no properties) in four bytes directly; every other form goes through the
// validating encoder. Both must give the Packet encoder's bytes.
template <class Ack>
void expect_ack_bytes(const Ack& ack, Version v, const Bytes& expected) {
  Bytes out{0xAA};  // appends to what the buffer holds
  encode(ack, v, out);
  Bytes want{0xAA};
  want.insert(want.end(), expected.begin(), expected.end());
  EXPECT_EQ(out, want);
  EXPECT_EQ(encode(Packet(ack), v), expected);
}

TEST(Encode, ShortAcknowledgementsInBothVersions) {
  for (const Version v : {Version::v3_1_1, Version::v5}) {
    expect_ack_bytes(Puback{0x1234, ReasonCode::success, {}, {}}, v, hex("40 02 12 34"));
    expect_ack_bytes(Pubrec{0xFFFF, ReasonCode::success, {}, {}}, v, hex("50 02 ff ff"));
    // PUBREL's fixed header flags are 0010 [MQTT-3.6.1-1].
    expect_ack_bytes(Pubrel{1, ReasonCode::success, {}, {}}, v, hex("62 02 00 01"));
    expect_ack_bytes(Pubcomp{0x0100, ReasonCode::success, {}, {}}, v, hex("70 02 01 00"));
  }
  // Not the short form: a Reason Code, a layout that writes it, properties.
  expect_ack_bytes(Puback{1, ReasonCode::no_matching_subscribers, {}, {}}, Version::v5,
                   hex("40 03 00 01 10"));
  expect_ack_bytes(Puback{1, ReasonCode::success, {}, AckLayout::reason_code}, Version::v5,
                   hex("40 03 00 01 00"));
  expect_ack_bytes(Pubcomp{1, ReasonCode::success, {}, AckLayout::full}, Version::v5,
                   hex("70 04 00 01 00 00"));
  expect_ack_bytes(
      Pubrec{1, ReasonCode::success, {{PropertyId::reason_string, std::string("x")}}, {}},
      Version::v5, hex("50 08 00 01 00 04 1f 00 01 78"));
  // A zero Packet Identifier is still refused: an acknowledgement carries its
  // PUBLISH's, never zero [MQTT-2.3.1-6].
  Bytes out;
  EXPECT_THROW(encode(Puback{0, ReasonCode::success, {}, {}}, Version::v5, out), EncodeError);
  EXPECT_THROW(encode(Pubrel{0, ReasonCode::success, {}, {}}, Version::v3_1_1, out), EncodeError);
  EXPECT_TRUE(out.empty());
}

TEST(Encode, LargePayloadUsesLongRemainingLength) {
  Publish p;
  p.topic = "t";
  p.payload = SharedBytes(Bytes(200'000, 0x55));
  const Bytes out = encode(Packet(p), Version::v3_1_1);
  EXPECT_EQ(out.size(), 1 + 3 + 3 + 200'000u);
  EXPECT_EQ(decode_as<Publish>(out, Version::v3_1_1), p);
}

TEST(Encode, RefusesLocalMisuse) {
  Publish p;
  p.topic = "t";
  p.packet_id = 3;  // QoS 0 has no Packet Identifier [MQTT-2.2.1-2]
  expect_refused(p, Version::v5);
  p.packet_id = 0;
  p.dup = true;  // [MQTT-3.3.1-2]
  expect_refused(p, Version::v5);
  p.dup = false;
  p.qos = QoS::at_least_once;  // needs a Packet Identifier
  expect_refused(p, Version::v5);
  p.qos = static_cast<QoS>(3);
  p.packet_id = 1;
  expect_refused(p, Version::v5);
  p.qos = QoS::at_most_once;
  p.packet_id = 0;
  p.properties.add(PropertyId::content_type, std::string("x"));
  expect_refused(p, Version::v3_1_1);  // no properties in 3.1.1
  p.properties = Properties{{PropertyId::session_expiry_interval, 1u}};
  expect_refused(p, Version::v5);  // not a PUBLISH property
  p.properties = {};
  p.topic = std::string(70'000, 'a');
  expect_refused(p, Version::v5);

  expect_refused(Auth{}, Version::v3_1_1);
  expect_refused(Subscribe{1, {}, {}}, Version::v5);
  expect_refused(Subscribe{0, {}, {{"t", {}}}}, Version::v5);
  expect_refused(Subscribe{1, {}, {{"t", {QoS::at_most_once, false, false, 3}}}}, Version::v5);
  expect_refused(Unsubscribe{1, {}, {}}, Version::v5);
  expect_refused(Suback{1, {}, {}}, Version::v5);
  expect_refused(Suback{1, {}, {ReasonCode::not_authorized}}, Version::v3_1_1);
  expect_refused(Unsuback{1, {}, {}}, Version::v5);
  expect_refused(Unsuback{1, {}, {ReasonCode::success}}, Version::v3_1_1);
  expect_refused(Puback{1, ReasonCode::no_matching_subscribers, {}, {}}, Version::v3_1_1);
  expect_refused(Puback{1, ReasonCode::packet_identifier_not_found, {}, {}}, Version::v5);
  expect_refused(Puback{1,
                        ReasonCode::success,
                        {{PropertyId::reason_string, std::string("x")}},
                        AckLayout::reason_code},
                 Version::v5);
  expect_refused(Connack{true, ReasonCode::not_authorized, {}}, Version::v5);
  expect_refused(Connack{false, ReasonCode::banned, {}}, Version::v3_1_1);
  expect_refused(Disconnect{ReasonCode::session_taken_over, {}, {}}, Version::v3_1_1);

  Connect c;
  c.version = Version::v3_1_1;
  c.password = Bytes{1};
  expect_refused(c, Version::v3_1_1);  // [MQTT-3.1.2-22]
  c.version = Version::v5;
  EXPECT_NO_THROW(encode(Packet(c), Version::v5));
  c.will = Will{"t", {}, static_cast<QoS>(3), false, {}};
  expect_refused(c, Version::v5);
  c.will = Will{"t", {}, QoS::at_most_once, false, {{PropertyId::topic_alias, 1u}}};
  expect_refused(c, Version::v5);
}

}  // namespace
}  // namespace assay::mqtt::test
