// SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH.
#include "assay/mqtt/codec.hpp"
#include "test_util.hpp"

namespace assay::mqtt::test {
namespace {

TEST(Subscribe, V311RoundTrip) {
  const auto s = roundtrip<Subscribe>(hex("82 0c"  // SUBSCRIBE (flags 0010), length 12
                                          "00 0a"  // Packet Identifier 10
                                          "00 03 61 2f 2b"
                                          "01"  // "a/+", QoS 1
                                          "00 01 23"
                                          "02"),  // "#", QoS 2
                                      Version::v3_1_1);
  EXPECT_EQ(s.packet_id, 10);
  ASSERT_EQ(s.subscriptions.size(), 2u);
  EXPECT_EQ(s.subscriptions[0].filter, "a/+");
  EXPECT_EQ(s.subscriptions[1].options.qos, QoS::exactly_once);
}

TEST(Subscribe, V5OptionsAndIdentifierRoundTrip) {
  const auto s = roundtrip<Subscribe>(hex("82 0b"           // SUBSCRIBE, length 11
                                          "00 01"           // Packet Identifier 1
                                          "02 0b 2a"        // Property Length 2, Subscription Id 42
                                          "00 03 61 2f 62"  // "a/b"
                                          "2e"),            // RH 2, RAP, NL, QoS 2
                                      Version::v5);
  EXPECT_EQ(s.properties.integer(PropertyId::subscription_identifier), 42u);
  const auto& o = s.subscriptions.at(0).options;
  EXPECT_EQ(o.qos, QoS::exactly_once);
  EXPECT_TRUE(o.no_local);
  EXPECT_TRUE(o.retain_as_published);
  EXPECT_EQ(o.retain_handling, 2);
}

TEST(Subscribe, MQTT_3_8_1_1_FixedHeaderFlags) {
  expect_violation(hex("80 06 00 01 00 01 61 00"), Version::v3_1_1, ReasonCode::malformed_packet,
                   "MQTT-3.8.1-1");
}

TEST(Subscribe, NoTopicFilter) {
  // 3.1.1 [MQTT-3.8.3-3], 5.0 [MQTT-3.8.3-2].
  expect_violation(hex("82 02 00 01"), Version::v3_1_1, ReasonCode::protocol_error, "MQTT-3.8.3-3");
  expect_violation(hex("82 03 00 01 00"), Version::v5, ReasonCode::protocol_error, "MQTT-3.8.3-2");
}

TEST(Subscribe, MQTT_3_8_3_4_V311ReservedQoSBits) {
  expect_violation(hex("82 06 00 01 00 01 61 04"), Version::v3_1_1, ReasonCode::malformed_packet,
                   "MQTT-3.8.3-4");
  expect_violation(hex("82 06 00 01 00 01 61 03"), Version::v3_1_1, ReasonCode::malformed_packet,
                   "MQTT-3.8.3-4");
}

TEST(Subscribe, MQTT_3_8_3_5_V5ReservedOptionBits) {
  expect_violation(hex("82 07 00 01 00 00 01 61 40"), Version::v5, ReasonCode::malformed_packet,
                   "MQTT-3.8.3-5");
}

TEST(Subscribe, V5QoS3AndRetainHandling3) {
  expect_violation(hex("82 07 00 01 00 00 01 61 03"), Version::v5, ReasonCode::malformed_packet,
                   "§3.8.3.1");
  expect_violation(hex("82 07 00 01 00 00 01 61 30"), Version::v5, ReasonCode::protocol_error,
                   "§3.8.3.1");
}

TEST(Subscribe, MQTT_3_8_3_4_V5NoLocalOnSharedSubscription) {
  expect_violation(hex("82 10 00 01 00 00 0a 24 73 68 61 72 65 2f 67 2f 74 04"), Version::v5,
                   ReasonCode::protocol_error, "MQTT-3.8.3-4");
}

TEST(Subscribe, MQTT_3_8_3_1_TopicFilterMustBeUtf8) {
  expect_violation(hex("82 06 00 01 00 01 c0 00"), Version::v3_1_1, ReasonCode::malformed_packet,
                   "MQTT-1.5.3-1");
}

TEST(Subscribe, WildcardRules) {
  // 5.0 [MQTT-4.7.1-1] '#' last; [MQTT-4.7.1-2] '+' whole level. 3.1.1 numbers them 4.7.1-2/-3.
  expect_violation(hex("82 08 00 01 00 03 23 2f 61 00"), Version::v3_1_1,
                   ReasonCode::topic_filter_invalid, "MQTT-4.7.1-2");
  expect_violation(hex("82 09 00 01 00 00 03 23 2f 61 00"), Version::v5,
                   ReasonCode::topic_filter_invalid, "MQTT-4.7.1-1");
  expect_violation(hex("82 08 00 01 00 03 61 2b 62 00"), Version::v3_1_1,
                   ReasonCode::topic_filter_invalid, "MQTT-4.7.1-3");
  expect_violation(hex("82 09 00 01 00 00 03 61 2b 62 00"), Version::v5,
                   ReasonCode::topic_filter_invalid, "MQTT-4.7.1-2");
}

TEST(Subscribe, SharedSubscriptionRules) {
  // "$share//t": empty ShareName [MQTT-4.8.2-1]; "$share/g": no filter [MQTT-4.8.2-2].
  expect_violation(hex("82 0f 00 01 00 00 09 24 73 68 61 72 65 2f 2f 74 00"), Version::v5,
                   ReasonCode::topic_filter_invalid, "MQTT-4.8.2-1");
  expect_violation(hex("82 0e 00 01 00 00 08 24 73 68 61 72 65 2f 67 00"), Version::v5,
                   ReasonCode::topic_filter_invalid, "MQTT-4.8.2-2");
  // In 3.1.1 "$share/g" is an ordinary filter.
  roundtrip<Subscribe>(hex("82 0d 00 01 00 08 24 73 68 61 72 65 2f 67 00"), Version::v3_1_1);
}

TEST(Suback, RoundTripBothVersions) {
  auto s = roundtrip<Suback>(hex("90 06 00 0a 00 01 02 80"), Version::v3_1_1);
  EXPECT_EQ(s.reason_codes,
            (std::vector<ReasonCode>{ReasonCode::success, ReasonCode::granted_qos_1,
                                     ReasonCode::granted_qos_2, ReasonCode::unspecified_error}));
  s = roundtrip<Suback>(hex("90 05 00 0a 00 a2 97"), Version::v5);
  EXPECT_EQ(s.reason_codes.at(0), ReasonCode::wildcard_subscriptions_not_supported);
}

TEST(Suback, MQTT_3_9_3_2_OnlySubscribeReasonCodes) {
  expect_violation(hex("90 03 00 0a 03"), Version::v3_1_1, ReasonCode::protocol_error,
                   "MQTT-3.9.3-2");
  // 0x87 Not authorized is a Subscribe Reason Code in 5.0; 0x8E Session taken over is not.
  roundtrip<Suback>(hex("90 04 00 0a 00 87"), Version::v5);
  expect_violation(hex("90 04 00 0a 00 8e"), Version::v5, ReasonCode::protocol_error,
                   "MQTT-3.9.3-2");
}

TEST(Unsubscribe, RoundTripBothVersions) {
  auto u = roundtrip<Unsubscribe>(hex("a2 0a 00 02 00 01 61 00 03 62 2f 23"), Version::v3_1_1);
  EXPECT_EQ(u.filters, (std::vector<std::string>{"a", "b/#"}));
  u = roundtrip<Unsubscribe>(hex("a2 0b 00 02 00 00 01 61 00 03 62 2f 23"), Version::v5);
  EXPECT_EQ(u.filters.size(), 2u);
}

TEST(Unsubscribe, MQTT_3_10_1_1_FixedHeaderFlags) {
  expect_violation(hex("a0 05 00 02 00 01 61"), Version::v3_1_1, ReasonCode::malformed_packet,
                   "MQTT-3.10.1-1");
}

TEST(Unsubscribe, MQTT_3_10_3_2_AtLeastOneFilter) {
  expect_violation(hex("a2 02 00 02"), Version::v3_1_1, ReasonCode::protocol_error,
                   "MQTT-3.10.3-2");
  expect_violation(hex("a2 03 00 02 00"), Version::v5, ReasonCode::protocol_error, "MQTT-3.10.3-2");
}

TEST(Unsuback, RoundTripBothVersions) {
  roundtrip<Unsuback>(hex("b0 02 00 02"), Version::v3_1_1);
  const auto u = roundtrip<Unsuback>(hex("b0 05 00 02 00 00 11"), Version::v5);
  EXPECT_EQ(u.reason_codes,
            (std::vector<ReasonCode>{ReasonCode::success, ReasonCode::no_subscription_existed}));
}

TEST(Unsuback, MQTT_3_11_3_2_OnlyUnsubscribeReasonCodes) {
  expect_violation(hex("b0 04 00 02 00 01"), Version::v5, ReasonCode::protocol_error,
                   "MQTT-3.11.3-2");
}

TEST(Ping, RoundTripAndNoBody) {
  roundtrip<Pingreq>(hex("c0 00"), Version::v3_1_1);
  roundtrip<Pingresp>(hex("d0 00"), Version::v5);
  expect_violation(hex("c0 01 00"), Version::v5, ReasonCode::malformed_packet, "§2.1.4");
  expect_violation(hex("c1 00"), Version::v5, ReasonCode::malformed_packet, "MQTT-2.1.3-1");
}

TEST(Disconnect, V311) {
  roundtrip<Disconnect>(hex("e0 00"), Version::v3_1_1);
  expect_violation(hex("e0 01 00"), Version::v3_1_1, ReasonCode::malformed_packet, "§2.2.3");
}

TEST(Disconnect, V5Layouts) {
  auto d = roundtrip<Disconnect>(hex("e0 00"), Version::v5);
  EXPECT_EQ(d.reason_code, normal_disconnection);
  d = roundtrip<Disconnect>(hex("e0 01 04"), Version::v5);
  EXPECT_EQ(d.reason_code, ReasonCode::disconnect_with_will_message);
  d = roundtrip<Disconnect>(hex("e0 07 8e 05 11 00 00 00 00"), Version::v5);
  EXPECT_EQ(d.properties.integer(PropertyId::session_expiry_interval), 0u);
}

TEST(Disconnect, MQTT_3_14_1_1_ReservedFlags) {
  expect_violation(hex("e1 00"), Version::v5, ReasonCode::malformed_packet, "MQTT-3.14.1-1");
  expect_violation(hex("e8 00"), Version::v3_1_1, ReasonCode::malformed_packet, "MQTT-3.14.1-1");
}

TEST(Disconnect, MQTT_3_14_2_1_DisconnectReasonCodesOnly) {
  expect_violation(hex("e0 01 18"), Version::v5, ReasonCode::protocol_error, "MQTT-3.14.2-1");
}

TEST(Auth, RoundTrip) {
  auto a = roundtrip<Auth>(hex("f0 00"), Version::v5);
  EXPECT_EQ(a.reason_code, ReasonCode::success);
  a = roundtrip<Auth>(hex("f0 0d"                 // AUTH, length 13
                          "18"                    // Continue authentication
                          "0b"                    // Property Length 11
                          "15 00 04 53 43 52 4d"  //   Authentication Method "SCRM"
                          "16 00 01 7a"),         //   Authentication Data "z"
                      Version::v5);
  EXPECT_EQ(a.reason_code, ReasonCode::continue_authentication);
  EXPECT_EQ(*a.properties.string(PropertyId::authentication_method), "SCRM");
}

TEST(Auth, ReservedInV311) {
  expect_violation(hex("f0 00"), Version::v3_1_1, ReasonCode::malformed_packet, "§2.2.1");
}

TEST(Auth, MQTT_3_15_1_1_ReservedFlags) {
  expect_violation(hex("f1 00"), Version::v5, ReasonCode::malformed_packet, "MQTT-3.15.1-1");
}

TEST(Auth, MQTT_3_15_2_1_AuthReasonCodesOnly) {
  expect_violation(hex("f0 01 87"), Version::v5, ReasonCode::protocol_error, "MQTT-3.15.2-1");
}

TEST(FixedHeader, ReservedPacketTypeZero) {
  expect_violation(hex("00 00"), Version::v5, ReasonCode::malformed_packet, "§2.1.2");
}

}  // namespace
}  // namespace assay::mqtt::test
