// CONNECT and CONNACK, both versions: byte vectors decoded and re-encoded,
// and one test per decoding rule, named by its statement.
#include "assay/mqtt/codec.hpp"
#include "test_util.hpp"

namespace assay::mqtt::test {
namespace {

TEST(Connect, V311MinimalRoundTrip) {
  const Bytes bytes =
      hex("10 0f"                                         // CONNECT, Remaining Length 15
          "00 04 4d 51 54 54"                             // Protocol Name "MQTT"
          "04"                                            // Protocol Level 4 (3.1.1)
          "02"                                            // Connect Flags: CleanSession
          "00 3c"                                         // Keep Alive 60
          "00 03 61 62 63");                              // Client Identifier "abc"
  const auto c = roundtrip<Connect>(bytes, Version::v5);  // the level decides, not the argument
  EXPECT_EQ(c.version, Version::v3_1_1);
  EXPECT_TRUE(c.clean_start);
  EXPECT_EQ(c.keep_alive, 60);
  EXPECT_EQ(c.client_id, "abc");
  EXPECT_FALSE(c.will);
  EXPECT_FALSE(c.username);
}

TEST(Connect, V311WillUserPasswordRoundTrip) {
  const Bytes bytes =
      hex("10 22"              // CONNECT, Remaining Length 34
          "00 04 4d 51 54 54"  // "MQTT"
          "04"                 // level 4
          "ec"                 // flags: user, password, will retain, will QoS 1, will
          "00 0a"              // Keep Alive 10
          "00 01 63"           // Client Identifier "c"
          "00 03 61 2f 62"     // Will Topic "a/b"
          "00 04 64 65 61 64"  // Will Payload "dead"
          "00 04 75 73 65 72"  // User Name "user"
          "00 02 70 77");      // Password "pw"
  const auto c = roundtrip<Connect>(bytes, Version::v3_1_1);
  EXPECT_FALSE(c.clean_start);
  ASSERT_TRUE(c.will);
  EXPECT_EQ(c.will->topic, "a/b");
  EXPECT_EQ(c.will->payload.as_chars(), "dead");
  EXPECT_EQ(c.will->qos, QoS::at_least_once);
  EXPECT_TRUE(c.will->retain);
  EXPECT_EQ(c.username, "user");
  EXPECT_EQ(*c.password, (Bytes{'p', 'w'}));
}

TEST(Connect, V5FullRoundTrip) {
  const Bytes bytes =
      hex("10 34"                 // CONNECT, Remaining Length 52
          "00 04 4d 51 54 54"     // "MQTT"
          "05"                    // level 5
          "d6"                    // flags: user, password, will QoS 2, will, clean start
          "00 1e"                 // Keep Alive 30
          "0a"                    // Property Length 10
          "11 00 00 0e 10"        //   Session Expiry Interval 3600
          "21 00 14"              //   Receive Maximum 20
          "17 01"                 //   Request Problem Information 1
          "00 02 69 64"           // Client Identifier "id"
          "0c"                    // Will Property Length 12
          "18 00 00 00 05"        //   Will Delay Interval 5
          "26 00 01 6b 00 01 76"  //   User Property ("k", "v")
          "00 01 77"              // Will Topic "w"
          "00 00"                 // Will Payload (empty)
          "00 02 75 31"           // User Name "u1"
          "00 03 01 02 03");      // Password 01 02 03
  const auto c = roundtrip<Connect>(bytes, Version::v5);
  EXPECT_EQ(c.version, Version::v5);
  EXPECT_TRUE(c.clean_start);
  EXPECT_EQ(c.properties.integer(PropertyId::session_expiry_interval), 3600u);
  EXPECT_EQ(c.properties.integer(PropertyId::receive_maximum), 20u);
  ASSERT_TRUE(c.will);
  EXPECT_EQ(c.will->qos, QoS::exactly_once);
  EXPECT_EQ(c.will->properties.integer(PropertyId::will_delay_interval), 5u);
  EXPECT_EQ(c.will->properties.user_properties(), (std::vector<StringPair>{{"k", "v"}}));
  EXPECT_TRUE(c.will->payload.empty());
}

TEST(Connect, V5PasswordWithoutUserNameIsAllowed) {
  const Bytes bytes =
      hex("10 11 00 04 4d 51 54 54 05"  // CONNECT, "MQTT", level 5
          "42"                          // flags: password, clean start
          "00 00 00"                    // Keep Alive 0, no properties
          "00 00"                       // Client Identifier ""
          "00 02 70 77");               // Password "pw"
  const auto c = roundtrip<Connect>(bytes, Version::v5);
  EXPECT_FALSE(c.username);
  EXPECT_TRUE(c.password);
}

TEST(Connect, MQTT_3_1_2_1_ProtocolNameMustBeMQTT) {
  expect_violation(hex("10 0d 00 04 4d 51 54 58 04 02 00 00 00 01 61"), Version::v5,
                   ReasonCode::unsupported_protocol_version, "MQTT-3.1.2-1");
}

TEST(Connect, MQTT_3_1_2_2_UnsupportedProtocolLevel) {
  // MQTT 3.1 ("MQIsdp", level 3) and an unknown level 6.
  expect_violation(hex("10 0f 00 06 4d 51 49 73 64 70 03 02 00 00 00 01 61"), Version::v5,
                   ReasonCode::unsupported_protocol_version, "MQTT-3.1.2-2");
  expect_violation(hex("10 0d 00 04 4d 51 54 54 06 02 00 00 00 01 61"), Version::v5,
                   ReasonCode::unsupported_protocol_version, "MQTT-3.1.2-2");
}

TEST(Connect, MQTT_3_1_2_3_ReservedFlagMustBeZero) {
  expect_violation(hex("10 0d 00 04 4d 51 54 54 04 03 00 00 00 01 61"), Version::v3_1_1,
                   ReasonCode::malformed_packet, "MQTT-3.1.2-3");
  expect_violation(hex("10 0e 00 04 4d 51 54 54 05 03 00 00 00 00 01 61"), Version::v5,
                   ReasonCode::malformed_packet, "MQTT-3.1.2-3");
}

TEST(Connect, WillQoSWithoutWillFlag) {
  // 3.1.1 [MQTT-3.1.2-13], 5.0 [MQTT-3.1.2-11]: flags 0x0a = QoS 1, no Will Flag.
  expect_violation(hex("10 0d 00 04 4d 51 54 54 04 0a 00 00 00 01 61"), Version::v3_1_1,
                   ReasonCode::malformed_packet, "MQTT-3.1.2-13");
  expect_violation(hex("10 0e 00 04 4d 51 54 54 05 0a 00 00 00 00 01 61"), Version::v5,
                   ReasonCode::malformed_packet, "MQTT-3.1.2-11");
}

TEST(Connect, WillRetainWithoutWillFlag) {
  // 3.1.1 [MQTT-3.1.2-15], 5.0 [MQTT-3.1.2-13]: flags 0x22 = Will Retain, no Will Flag.
  expect_violation(hex("10 0d 00 04 4d 51 54 54 04 22 00 00 00 01 61"), Version::v3_1_1,
                   ReasonCode::malformed_packet, "MQTT-3.1.2-15");
  expect_violation(hex("10 0e 00 04 4d 51 54 54 05 22 00 00 00 00 01 61"), Version::v5,
                   ReasonCode::malformed_packet, "MQTT-3.1.2-13");
}

TEST(Connect, WillQoS3) {
  // 3.1.1 [MQTT-3.1.2-14], 5.0 [MQTT-3.1.2-12]: flags 0x1e = Will, QoS 3.
  expect_violation(hex("10 13 00 04 4d 51 54 54 04 1e 00 00 00 01 61 00 01 74 00 01 70"),
                   Version::v3_1_1, ReasonCode::malformed_packet, "MQTT-3.1.2-14");
  expect_violation(hex("10 15 00 04 4d 51 54 54 05 1e 00 00 00 00 01 61 00 00 01 74 00 01 70"),
                   Version::v5, ReasonCode::malformed_packet, "MQTT-3.1.2-12");
}

TEST(Connect, MQTT_3_1_2_22_V311PasswordNeedsUserName) {
  expect_violation(hex("10 11 00 04 4d 51 54 54 04 42 00 00 00 01 61 00 02 70 77"), Version::v3_1_1,
                   ReasonCode::malformed_packet, "MQTT-3.1.2-22");
}

TEST(Connect, MQTT_3_1_2_9_WillFieldsMustBePresent) {
  // Will Flag set, but the packet ends after the Client Identifier.
  expect_violation(hex("10 0d 00 04 4d 51 54 54 04 06 00 00 00 01 61"), Version::v3_1_1,
                   ReasonCode::malformed_packet, "§2.2.3");
}

TEST(Connect, MQTT_3_1_2_17_UserNameMustBePresentWhenFlagged) {
  expect_violation(hex("10 0d 00 04 4d 51 54 54 04 82 00 00 00 01 61"), Version::v3_1_1,
                   ReasonCode::malformed_packet, "§2.2.3");
}

TEST(Connect, MQTT_3_1_2_16_NoUserNameWithoutFlag) {
  // Flags say no user name, but one follows: bytes left over.
  expect_violation(hex("10 11 00 04 4d 51 54 54 04 02 00 00 00 01 61 00 02 75 31"), Version::v3_1_1,
                   ReasonCode::malformed_packet, "§2.2.3");
}

TEST(Connect, MQTT_3_1_3_4_ClientIdMustBeUtf8) {
  // Client Identifier is the single byte 0xff.
  expect_violation(hex("10 0d 00 04 4d 51 54 54 04 02 00 00 00 01 ff"), Version::v3_1_1,
                   ReasonCode::malformed_packet, "MQTT-1.5.3-1");
  expect_violation(hex("10 0e 00 04 4d 51 54 54 05 02 00 00 00 00 01 ff"), Version::v5,
                   ReasonCode::malformed_packet, "MQTT-1.5.4-1");
}

TEST(Connect, WillTopicMustNotHaveWildcards) {
  // MQTT-3.1.3-11 (5.0): the Will Topic is a topic name.
  expect_violation(hex("10 15 00 04 4d 51 54 54 05 06 00 00 00 00 01 61 00 00 01 23 00 01 70"),
                   Version::v5, ReasonCode::topic_name_invalid, "MQTT-4.7.0-1");
}

TEST(Connect, PropertyNotAllowedInConnect) {
  // Topic Alias (0x23) in CONNECT properties.
  expect_violation(hex("10 11 00 04 4d 51 54 54 05 02 00 00 03 23 00 01 00 01 61"), Version::v5,
                   ReasonCode::malformed_packet, "§2.2.2.2");
}

TEST(Connect, WillDelayOnlyInWillProperties) {
  // Will Delay Interval (0x18) in the CONNECT properties instead of the Will Properties.
  expect_violation(hex("10 13 00 04 4d 51 54 54 05 02 00 00 05 18 00 00 00 01 00 01 61"),
                   Version::v5, ReasonCode::malformed_packet, "§2.2.2.2");
}

TEST(Connect, AuthenticationDataNeedsMethod) {
  expect_violation(hex("10 13 00 04 4d 51 54 54 05 02 00 00 05 16 00 02 01 02 00 01 61"),
                   Version::v5, ReasonCode::protocol_error, "§3.1.2.11.10");
}

TEST(Connack, V311RoundTripAndReturnCodes) {
  auto c = roundtrip<Connack>(hex("20 02"  // CONNACK, Remaining Length 2
                                  "01"     // Session Present
                                  "00"),   // Return Code 0: accepted
                              Version::v3_1_1);
  EXPECT_TRUE(c.session_present);
  EXPECT_EQ(c.reason_code, ReasonCode::success);
  // Return Codes 1..5 map to their 5.0 equivalents and back.
  c = roundtrip<Connack>(hex("20 02 00 05"), Version::v3_1_1);
  EXPECT_EQ(c.reason_code, ReasonCode::not_authorized);
  c = roundtrip<Connack>(hex("20 02 00 01"), Version::v3_1_1);
  EXPECT_EQ(c.reason_code, ReasonCode::unsupported_protocol_version);
  expect_violation(hex("20 02 00 06"), Version::v3_1_1, ReasonCode::protocol_error, "§3.2.2.3");
}

TEST(Connack, V5RoundTrip) {
  const auto c = roundtrip<Connack>(hex("20 0f"                   // CONNACK, Remaining Length 15
                                        "00"                      // no session present
                                        "00"                      // Success
                                        "0c"                      // Property Length 12
                                        "24 01"                   //   Maximum QoS 1
                                        "22 00 0a"                //   Topic Alias Maximum 10
                                        "12 00 04 61 62 63 64"),  // Assigned Client Id "abcd"
                                    Version::v5);
  EXPECT_EQ(c.properties.integer(PropertyId::maximum_qos), 1u);
  EXPECT_EQ(*c.properties.string(PropertyId::assigned_client_identifier), "abcd");
}

TEST(Connack, MQTT_3_2_2_1_ReservedAcknowledgeFlags) {
  expect_violation(hex("20 03 02 00 00"), Version::v5, ReasonCode::malformed_packet,
                   "MQTT-3.2.2-1");
}

TEST(Connack, SessionPresentWithRefusal) {
  // 5.0 [MQTT-3.2.2-6], 3.1.1 [MQTT-3.2.2-4].
  expect_violation(hex("20 03 01 87 00"), Version::v5, ReasonCode::protocol_error, "MQTT-3.2.2-6");
  expect_violation(hex("20 02 01 05"), Version::v3_1_1, ReasonCode::protocol_error, "MQTT-3.2.2-4");
}

TEST(Connack, MQTT_3_2_2_8_ConnectReasonCodesOnly) {
  // 0x8E Session taken over belongs to DISCONNECT only.
  expect_violation(hex("20 03 00 8e 00"), Version::v5, ReasonCode::protocol_error, "MQTT-3.2.2-8");
}

TEST(Connack, MaximumQoSMustBe0Or1) {
  expect_violation(hex("20 05 00 00 02 24 02"), Version::v5, ReasonCode::protocol_error,
                   "§2.2.2.2");
}

}  // namespace
}  // namespace assay::mqtt::test
