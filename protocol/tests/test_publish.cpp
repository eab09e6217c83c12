// PUBLISH and PUBACK/PUBREC/PUBREL/PUBCOMP, both versions.
#include "assay/mqtt/codec.hpp"
#include "test_util.hpp"

namespace assay::mqtt::test {
namespace {

TEST(Publish, V311QoS0RoundTrip) {
  const auto p = roundtrip<Publish>(hex("31 08"           // PUBLISH, RETAIN, QoS 0, length 8
                                        "00 03 61 2f 62"  // Topic Name "a/b"
                                        "68 69 21"),      // Payload "hi!"
                                    Version::v3_1_1);
  EXPECT_TRUE(p.retain);
  EXPECT_EQ(p.qos, QoS::at_most_once);
  EXPECT_EQ(p.topic, "a/b");
  EXPECT_EQ(p.packet_id, 0);
  EXPECT_EQ(p.payload.as_chars(), "hi!");
}

TEST(Publish, V311QoS2DupRoundTrip) {
  const auto p = roundtrip<Publish>(hex("3c 07"     // PUBLISH, DUP, QoS 2, length 7
                                        "00 01 74"  // Topic Name "t"
                                        "12 34"     // Packet Identifier 0x1234
                                        "ff 00"),   // Payload ff 00
                                    Version::v3_1_1);
  EXPECT_TRUE(p.dup);
  EXPECT_EQ(p.qos, QoS::exactly_once);
  EXPECT_EQ(p.packet_id, 0x1234);
}

TEST(Publish, V5PropertiesRoundTrip) {
  const auto p = roundtrip<Publish>(hex("32 27"                 // PUBLISH, QoS 1, length 39
                                        "00 01 74"              // Topic Name "t"
                                        "00 07"                 // Packet Identifier 7
                                        "20"                    // Property Length 32
                                        "01 01"                 //   Payload Format Indicator 1
                                        "02 00 00 00 3c"        //   Message Expiry Interval 60
                                        "03 00 04 74 65 78 74"  //   Content Type "text"
                                        "08 00 01 72"           //   Response Topic "r"
                                        "09 00 02 ca fe"        //   Correlation Data ca fe
                                        "26 00 01 61 00 01 31"  //   User Property ("a", "1")
                                        "0b 05"                 //   Subscription Identifier 5
                                        "78"),                  // Payload "x"
                                    Version::v5);
  EXPECT_EQ(p.properties.size(), 7u);
  EXPECT_EQ(*p.properties.string(PropertyId::content_type), "text");
  EXPECT_EQ(p.properties.subscription_identifiers(), (std::vector<std::uint32_t>{5}));
}

TEST(Publish, V5SeveralSubscriptionIdentifiersAndUserPropertiesKeepOrder) {
  // [MQTT-3.3.4-4] several identifiers; [MQTT-3.3.2-18] user property order.
  const auto p = roundtrip<Publish>(hex("30 17"                 // PUBLISH QoS 0, length 23
                                        "00 01 74"              // Topic Name "t"
                                        "13"                    // Property Length 19
                                        "26 00 01 62 00 01 32"  //   User Property ("b", "2")
                                        "0b 80 01"              //   Subscription Identifier 128
                                        "26 00 01 61 00 01 31"  //   User Property ("a", "1")
                                        "0b 02"),               //   Subscription Identifier 2
                                    Version::v5);
  EXPECT_EQ(p.properties.subscription_identifiers(), (std::vector<std::uint32_t>{128, 2}));
  EXPECT_EQ(p.properties.user_properties(), (std::vector<StringPair>{{"b", "2"}, {"a", "1"}}));
}

TEST(Publish, V5EmptyTopicWithAliasIsAllowed) {
  const auto p = roundtrip<Publish>(hex("30 07 00 00"  // PUBLISH, empty Topic Name
                                        "03 23 00 01"  // Topic Alias 1
                                        "7a"),         // Payload "z"
                                    Version::v5);
  EXPECT_TRUE(p.topic.empty());
}

TEST(Publish, V5EmptyTopicWithoutAliasIsProtocolError) {
  expect_violation(hex("30 04 00 00 00 7a"), Version::v5, ReasonCode::protocol_error, "§3.3.2.3.4");
}

TEST(Publish, MQTT_4_7_3_1_V311EmptyTopic) {
  expect_violation(hex("30 03 00 00 7a"), Version::v3_1_1, ReasonCode::topic_name_invalid,
                   "MQTT-4.7.3-1");
}

TEST(Publish, MQTT_3_3_1_4_BothQoSBitsSet) {
  expect_violation(hex("36 05 00 01 74 00 01"), Version::v3_1_1, ReasonCode::malformed_packet,
                   "MQTT-3.3.1-4");
  expect_violation(hex("36 06 00 01 74 00 01 00"), Version::v5, ReasonCode::malformed_packet,
                   "MQTT-3.3.1-4");
}

TEST(Publish, MQTT_3_3_1_2_DupOnQoS0) {
  expect_violation(hex("38 03 00 01 74"), Version::v3_1_1, ReasonCode::malformed_packet,
                   "MQTT-3.3.1-2");
}

TEST(Publish, MQTT_3_3_2_2_NoWildcardsInTopicName) {
  expect_violation(hex("30 05 00 03 61 2f 2b"), Version::v3_1_1, ReasonCode::topic_name_invalid,
                   "MQTT-3.3.2-2");
  expect_violation(hex("30 04 00 01 23 00"), Version::v5, ReasonCode::topic_name_invalid,
                   "MQTT-3.3.2-2");
}

TEST(Publish, MQTT_3_3_2_1_TopicNameMustBeUtf8) {
  // U+D800 encoded as ed a0 80 is a surrogate [MQTT-1.5.4-1]; U+0000 [MQTT-1.5.4-2].
  expect_violation(hex("30 06 00 03 ed a0 80 00"), Version::v5, ReasonCode::malformed_packet,
                   "MQTT-1.5.4-1");
  expect_violation(hex("30 05 00 03 61 00 62"), Version::v3_1_1, ReasonCode::malformed_packet,
                   "MQTT-1.5.3-2");
}

TEST(Publish, PacketIdentifierMustBeNonZero) {
  // 3.1.1 [MQTT-2.3.1-1], 5.0 [MQTT-2.2.1-3].
  expect_violation(hex("32 05 00 01 74 00 00"), Version::v3_1_1, ReasonCode::protocol_error,
                   "MQTT-2.3.1-1");
  expect_violation(hex("32 06 00 01 74 00 00 00"), Version::v5, ReasonCode::protocol_error,
                   "MQTT-2.2.1-3");
}

TEST(Publish, MQTT_3_3_2_8_TopicAliasZero) {
  expect_violation(hex("30 07 00 01 74 03 23 00 00"), Version::v5, ReasonCode::protocol_error,
                   "MQTT-3.3.2-8");
}

TEST(Publish, MQTT_3_3_2_14_ResponseTopicWithoutWildcards) {
  expect_violation(hex("30 08 00 01 74 04 08 00 01 23"), Version::v5, ReasonCode::protocol_error,
                   "MQTT-3.3.2-14");
}

TEST(Publish, PayloadFormatIndicatorMustBe0Or1) {
  expect_violation(hex("30 06 00 01 74 02 01 02"), Version::v5, ReasonCode::protocol_error,
                   "§2.2.2.2");
}

TEST(Publish, DuplicateMessageExpiryIsProtocolError) {
  expect_violation(hex("30 0e 00 01 74 0a 02 00 00 00 01 02 00 00 00 02"), Version::v5,
                   ReasonCode::protocol_error, "§2.2.2.2");
}

TEST(Publish, PropertyLengthBeyondPacket) {
  expect_violation(hex("30 06 00 01 74 09 01 01"), Version::v5, ReasonCode::malformed_packet,
                   "§2.2.2.1");
}

TEST(PublishAck, V311Forms) {
  auto a = roundtrip<Puback>(hex("40 02 00 05"), Version::v3_1_1);  // PUBACK, Packet Id 5
  EXPECT_EQ(a.packet_id, 5);
  roundtrip<Pubrec>(hex("50 02 ff ff"), Version::v3_1_1);  // PUBREC, Packet Id 65535
  roundtrip<Pubrel>(hex("62 02 00 01"), Version::v3_1_1);  // PUBREL (flags 0010)
  roundtrip<Pubcomp>(hex("70 02 00 01"), Version::v3_1_1);
  // 3.1.1 acknowledgements have exactly two bytes.
  expect_violation(hex("40 03 00 05 00"), Version::v3_1_1, ReasonCode::malformed_packet, "§2.2.3");
}

TEST(PublishAck, V5AllThreeLayoutsRoundTrip) {
  // Remaining Length 2: Success, no properties.
  auto a = roundtrip<Puback>(hex("40 02 00 05"), Version::v5);
  EXPECT_EQ(a.layout, AckLayout::shortest);
  // Remaining Length 3: a Reason Code, no Property Length.
  a = roundtrip<Puback>(hex("40 03 00 05 10"), Version::v5);
  EXPECT_EQ(a.reason_code, ReasonCode::no_matching_subscribers);
  EXPECT_EQ(a.layout, AckLayout::shortest);
  // Remaining Length 3 with 0x00 is longer than it must be: recorded.
  a = roundtrip<Puback>(hex("40 03 00 05 00"), Version::v5);
  EXPECT_EQ(a.layout, AckLayout::reason_code);
  // Remaining Length 4: Reason Code and an empty property block.
  a = roundtrip<Puback>(hex("40 04 00 05 00 00"), Version::v5);
  EXPECT_EQ(a.layout, AckLayout::full);
  // With a Reason String.
  const auto c = roundtrip<Pubcomp>(hex("70 08 00 05 92 04 1f 00 01 78"), Version::v5);
  EXPECT_EQ(c.reason_code, ReasonCode::packet_identifier_not_found);
  EXPECT_EQ(*c.properties.string(PropertyId::reason_string), "x");
}

TEST(PublishAck, ReasonCodesPerPacket) {
  // [MQTT-3.4.2-1] PUBACK, [MQTT-3.5.2-1] PUBREC, [MQTT-3.6.2-1] PUBREL, [MQTT-3.7.2-1] PUBCOMP.
  expect_violation(hex("40 03 00 05 92"), Version::v5, ReasonCode::protocol_error, "MQTT-3.4.2-1");
  expect_violation(hex("50 03 00 05 92"), Version::v5, ReasonCode::protocol_error, "MQTT-3.5.2-1");
  expect_violation(hex("62 03 00 05 10"), Version::v5, ReasonCode::protocol_error, "MQTT-3.6.2-1");
  expect_violation(hex("70 03 00 05 80"), Version::v5, ReasonCode::protocol_error, "MQTT-3.7.2-1");
}

TEST(PublishAck, MQTT_3_6_1_1_PubrelFlags) {
  expect_violation(hex("60 02 00 01"), Version::v3_1_1, ReasonCode::malformed_packet,
                   "MQTT-3.6.1-1");
  expect_violation(hex("60 02 00 01"), Version::v5, ReasonCode::malformed_packet, "MQTT-3.6.1-1");
}

TEST(PublishAck, ReservedFlagsOnPuback) {
  // 3.1.1 [MQTT-2.2.2-2], 5.0 [MQTT-2.1.3-1].
  expect_violation(hex("41 02 00 01"), Version::v3_1_1, ReasonCode::malformed_packet,
                   "MQTT-2.2.2-2");
  expect_violation(hex("41 02 00 01"), Version::v5, ReasonCode::malformed_packet, "MQTT-2.1.3-1");
}

TEST(PublishAck, PacketIdentifierZero) {
  expect_violation(hex("40 02 00 00"), Version::v5, ReasonCode::protocol_error, "§2.2.1");
}

TEST(PublishAck, PropertyNotAllowed) {
  // Topic Alias in PUBACK.
  expect_violation(hex("40 07 00 01 00 03 23 00 01"), Version::v5, ReasonCode::malformed_packet,
                   "§2.2.2.2");
}

}  // namespace
}  // namespace assay::mqtt::test
