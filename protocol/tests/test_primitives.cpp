// Data representations (§1.5): Variable Byte Integers, UTF-8 strings; the
// reason code and property tables; the Properties container.
#include <set>
#include <vector>

#include "assay/mqtt/codec.hpp"
#include "assay/mqtt/fifo.hpp"
#include "assay/mqtt/id_set.hpp"
#include "assay/mqtt/properties.hpp"
#include "assay/mqtt/raw.hpp"
#include "assay/mqtt/reason_code.hpp"
#include "assay/mqtt/utf8.hpp"
#include "test_util.hpp"

namespace assay::mqtt::test {
namespace {

TEST(IdSet, BehavesAsASetAndCopiesDeeply) {
  IdSet a;
  EXPECT_TRUE(a.empty());
  EXPECT_FALSE(a.contains(7));
  EXPECT_EQ(a.erase(7), 0u);
  EXPECT_TRUE(a.insert(9));
  EXPECT_TRUE(a.insert(7));
  EXPECT_FALSE(a.insert(9));
  EXPECT_EQ(a.size(), 2u);
  std::vector<std::uint16_t> seen;
  a.for_each([&](std::uint16_t id) { seen.push_back(id); });
  EXPECT_EQ(seen, (std::vector<std::uint16_t>{7, 9}));
  IdSet b = a;
  EXPECT_EQ(a, b);
  EXPECT_EQ(b.erase(9), 1u);
  EXPECT_TRUE(a.contains(9));  // the copy has storage of its own
  EXPECT_NE(a, b);
  b.clear();
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b, IdSet{});
  IdSet c;
  c.insert(1);
  c.erase(1);
  EXPECT_EQ(c, IdSet{});  // emptied after use equals never used
}

// The hash table against std::set: consecutive ids as a sender allocates
// them (wrapping at 65535), acknowledgements out of order, ids chosen to
// collide, growth to every id at once and back to empty.
TEST(IdSet, AgreesWithAnOrderedSetThroughGrowthCollisionsAndErasure) {
  IdSet a;
  std::set<std::uint16_t> model;
  auto check = [&] {
    ASSERT_EQ(a.size(), model.size());
    std::vector<std::uint16_t> seen;
    a.for_each([&](std::uint16_t id) { seen.push_back(id); });
    ASSERT_EQ(seen, std::vector<std::uint16_t>(model.begin(), model.end()));
  };
  std::uint32_t state = 12345;  // a fixed LCG: the same run every time
  auto random = [&] {
    state = state * 1664525u + 1013904223u;
    return state >> 8;
  };
  std::uint16_t next = 65000;  // wraps to 1 after 65535
  for (int step = 0; step < 100000; ++step) {
    const std::uint32_t r = random();
    // Inserts outnumber erasures for the first half (the table grows), then
    // erasures do (it empties).
    if ((step < 50000 ? r % 4 != 0 : r % 4 == 0) || model.empty()) {
      const std::uint16_t id = next;
      next = next == 65535 ? 1 : static_cast<std::uint16_t>(next + 1);
      ASSERT_EQ(a.insert(id), model.insert(id).second);
    } else {
      // Mostly the oldest, sometimes a later one: acknowledgements out of order.
      auto it = model.begin();
      if (r % 7 == 0)
        std::advance(it, static_cast<long>(random() % std::min<std::size_t>(model.size(), 100)));
      const std::uint16_t id = *it;
      model.erase(it);
      ASSERT_EQ(a.erase(id), 1u);
      ASSERT_FALSE(a.contains(id));
    }
    if (step % 5000 == 0) check();
  }
  check();
  // A small table, where probe runs wrap past its end often: any ids, every
  // lookup checked after every change.
  IdSet small;
  std::set<std::uint16_t> small_model;
  for (int step = 0; step < 20000; ++step) {
    const auto id = static_cast<std::uint16_t>(1 + random() % 65535);
    if (small_model.size() < 6 && random() % 2 == 0) {
      ASSERT_EQ(small.insert(id), small_model.insert(id).second);
    } else if (!small_model.empty()) {
      const std::uint16_t gone = *small_model.begin();
      small_model.erase(small_model.begin());
      ASSERT_EQ(small.erase(gone), 1u);
    }
    for (const std::uint16_t kept : small_model)
      ASSERT_TRUE(small.contains(kept));
    ASSERT_EQ(small.size(), small_model.size());
  }
  // Ids a peer picked to share hash bits, inserted and erased in mixed order.
  IdSet b;
  std::set<std::uint16_t> m;
  for (std::uint32_t id = 1024; id <= 65535; id += 1024) {
    EXPECT_TRUE(b.insert(static_cast<std::uint16_t>(id)));
    m.insert(static_cast<std::uint16_t>(id));
  }
  for (std::uint32_t id = 2048; id <= 65535; id += 3072) {
    EXPECT_EQ(b.erase(static_cast<std::uint16_t>(id)), 1u);
    m.erase(static_cast<std::uint16_t>(id));
  }
  for (const std::uint16_t id : m)
    EXPECT_TRUE(b.contains(id));
  EXPECT_EQ(b.size(), m.size());
  // Every id at once, then none.
  IdSet all;
  for (std::uint32_t id = 1; id <= 65535; ++id)
    ASSERT_TRUE(all.insert(static_cast<std::uint16_t>(id)));
  EXPECT_EQ(all.size(), 65535u);
  EXPECT_FALSE(all.insert(40000));
  for (std::uint32_t id = 65535; id >= 1; --id)
    ASSERT_EQ(all.erase(static_cast<std::uint16_t>(id)), 1u);
  EXPECT_TRUE(all.empty());
  EXPECT_EQ(all, IdSet{});
  EXPECT_TRUE(all.insert(5));
  EXPECT_TRUE(all.contains(5));
}

TEST(Fifo, KeepsOrderAcrossCompactionCopiesDeeplyAndReleases) {
  Fifo<int> a;
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.begin(), a.end());
  EXPECT_EQ(a, Fifo<int>{});
  int next_in = 0, next_out = 0;
  for (int round = 0; round < 5; ++round) {  // the head passes 64: compaction
    for (int i = 0; i < 100; ++i)
      a.push_back(next_in++);
    for (int i = 0; i < 70; ++i) {
      ASSERT_EQ(a.front(), next_out++);
      a.pop_front();
    }
  }
  EXPECT_EQ(a.size(), 150u);
  std::vector<int> seen(a.begin(), a.end());
  ASSERT_EQ(seen.size(), 150u);
  EXPECT_EQ(seen.front(), 350);
  EXPECT_EQ(seen.back(), 499);
  Fifo<int> b = a;
  EXPECT_EQ(a, b);
  b.pop_front();
  EXPECT_EQ(a.front(), 350);  // the copy has storage of its own
  EXPECT_NE(a, b);
  a.release();  // not empty: kept
  EXPECT_EQ(a.size(), 150u);
  while (!a.empty())
    a.pop_front();
  a.release();
  EXPECT_EQ(a, Fifo<int>{});
  a.emplace_back(7);
  EXPECT_EQ(a.front(), 7);
  const Fifo<int> moved = std::move(a);
  EXPECT_EQ(moved.size(), 1u);
}

TEST(VariableByteInteger, BoundariesEncodeToSpecSizes) {
  // §1.5.5 Table 1-1: the ranges of 1, 2, 3 and 4 bytes.
  const std::pair<std::uint32_t, Bytes> cases[] = {
      {0, hex("00")},
      {127, hex("7f")},
      {128, hex("80 01")},
      {16'383, hex("ff 7f")},
      {16'384, hex("80 80 01")},
      {2'097'151, hex("ff ff 7f")},
      {2'097'152, hex("80 80 80 01")},
      {268'435'455, hex("ff ff ff 7f")},
  };
  for (const auto& [value, bytes] : cases) {
    Bytes out;
    encode_vbi(value, out);
    EXPECT_EQ(out, bytes) << value;
    EXPECT_EQ(vbi_size(value), bytes.size());
  }
}

TEST(VariableByteInteger, LargestRemainingLengthIsAccepted) {
  // A PUBLISH header declaring 268,435,455 bytes: the decoder waits for them.
  const auto r = decode(hex("30 ff ff ff 7f"), Version::v5);
  ASSERT_TRUE(std::holds_alternative<NeedMore>(r));
  EXPECT_EQ(std::get<NeedMore>(r).at_least, 268'435'455u);
}

TEST(VariableByteInteger, MQTT_1_5_5_1_MustBeMinimal) {
  // Remaining Length 0 written in two bytes.
  expect_violation(hex("c0 80 00"), Version::v5, ReasonCode::malformed_packet, "MQTT-1.5.5-1");
  expect_violation(hex("c0 80 00"), Version::v3_1_1, ReasonCode::malformed_packet, "§2.2.3");
  // Inside a property: Subscription Identifier 1 as 81 00.
  expect_violation(hex("30 07 00 01 74 03 0b 81 00"), Version::v5, ReasonCode::malformed_packet,
                   "MQTT-1.5.5-1");
}

TEST(VariableByteInteger, AtMostFourBytes) {
  expect_violation(hex("30 ff ff ff ff 01"), Version::v5, ReasonCode::malformed_packet, "§2.1.4");
}

TEST(VariableByteInteger, IncompleteHeaderNeedsMore) {
  EXPECT_TRUE(std::holds_alternative<NeedMore>(decode(hex("30"), Version::v5)));
  EXPECT_TRUE(std::holds_alternative<NeedMore>(decode(hex("30 80"), Version::v5)));
  EXPECT_TRUE(std::holds_alternative<NeedMore>(decode(Bytes{}, Version::v5)));
}

TEST(Utf8, WellFormedStringsPass) {
  EXPECT_EQ(check_utf8(""), Utf8Status::ok);
  EXPECT_EQ(check_utf8("plain/ascii"), Utf8Status::ok);
  EXPECT_EQ(check_utf8("\xC3\xA9"), Utf8Status::ok);          // U+00E9
  EXPECT_EQ(check_utf8("\xE2\x82\xAC"), Utf8Status::ok);      // U+20AC
  EXPECT_EQ(check_utf8("\xF0\x9F\x98\x80"), Utf8Status::ok);  // U+1F600
  EXPECT_EQ(check_utf8("\xF4\x8F\xBF\xBF"), Utf8Status::ok);  // U+10FFFF
  EXPECT_EQ(check_utf8("\xEF\xBF\xBF"), Utf8Status::ok);      // U+FFFF, a non-character
}

TEST(Utf8, MQTT_1_5_4_1_IllFormedAndSurrogates) {
  EXPECT_EQ(check_utf8("\x80"), Utf8Status::ill_formed);              // lone continuation
  EXPECT_EQ(check_utf8("\xC3"), Utf8Status::ill_formed);              // truncated
  EXPECT_EQ(check_utf8("\xC0\xAF"), Utf8Status::ill_formed);          // overlong '/'
  EXPECT_EQ(check_utf8("\xE0\x80\xAF"), Utf8Status::ill_formed);      // overlong, 3 bytes
  EXPECT_EQ(check_utf8("\xF4\x90\x80\x80"), Utf8Status::ill_formed);  // U+110000
  EXPECT_EQ(check_utf8("\xF8\x88\x80\x80\x80"), Utf8Status::ill_formed);
  EXPECT_EQ(check_utf8("\xE2\x28\xA1"), Utf8Status::ill_formed);  // bad continuation
  EXPECT_EQ(check_utf8("\xED\xA0\x80"), Utf8Status::surrogate);   // U+D800
  EXPECT_EQ(check_utf8("\xED\xBF\xBF"), Utf8Status::surrogate);   // U+DFFF
}

TEST(Utf8, MQTT_1_5_4_2_NoNullCharacter) {
  EXPECT_EQ(check_utf8(std::string_view("a\0b", 3)), Utf8Status::null_char);
  EXPECT_EQ(check_utf8("\xC0\x80"), Utf8Status::ill_formed);  // overlong U+0000 too
}

TEST(Utf8, MQTT_1_5_4_3_ByteOrderMarkIsKept) {
  // A topic "\uFEFFa" decodes with the BOM in place and re-encodes unchanged.
  const auto p = roundtrip<Publish>(hex("30 06 00 04 ef bb bf 61"), Version::v3_1_1);
  EXPECT_EQ(p.topic,
            "\xEF\xBB\xBF"
            "a");
}

TEST(Utf8, MQTT_1_5_7_1_StringPairBothChecked) {
  // User Property whose value is 0xff.
  expect_violation(hex("30 0b 00 01 74 07 26 00 01 6b 00 01 ff"), Version::v5,
                   ReasonCode::malformed_packet, "MQTT-1.5.4-1");
}

TEST(ReasonCodes, TableMatchesSpec) {
  EXPECT_TRUE(allowed_in(ReasonCode::success, PacketType::auth));
  EXPECT_TRUE(allowed_in(ReasonCode::no_matching_subscribers, PacketType::pubrec));
  EXPECT_FALSE(allowed_in(ReasonCode::no_matching_subscribers, PacketType::pubrel));
  EXPECT_TRUE(allowed_in(ReasonCode::session_taken_over, PacketType::disconnect));
  EXPECT_FALSE(allowed_in(ReasonCode::session_taken_over, PacketType::connack));
  EXPECT_TRUE(allowed_in(ReasonCode::packet_identifier_not_found, PacketType::pubcomp));
  EXPECT_FALSE(allowed_in(static_cast<ReasonCode>(0x03), PacketType::suback));
  EXPECT_FALSE(is_defined(static_cast<ReasonCode>(0xA3)));
  EXPECT_EQ(name(ReasonCode::success, PacketType::disconnect), "Normal disconnection");
  EXPECT_EQ(name(ReasonCode::success, PacketType::suback), "Granted QoS 0");
  EXPECT_EQ(name(ReasonCode::quota_exceeded), "Quota exceeded");
  int defined = 0;
  for (int c = 0; c < 256; ++c)
    defined += is_defined(static_cast<ReasonCode>(c)) ? 1 : 0;
  EXPECT_EQ(defined, 43);  // Table 2-6 less the duplicated 0x00 rows
}

TEST(ReasonCodes, V311ConnackMapping) {
  for (std::uint8_t code = 0; code <= 5; ++code) {
    const auto rc = connack_reason_from_v311(code);
    ASSERT_TRUE(rc);
    EXPECT_EQ(connack_code_v311(*rc), code);
  }
  EXPECT_FALSE(connack_reason_from_v311(6));
  EXPECT_FALSE(connack_code_v311(ReasonCode::banned));
}

// for_version is the one place that turns the engine's 5.0 codes into what
// a 3.1.1 packet can carry; every 3.1.1 answer it gives must be encodable.
TEST(ReasonCodes, ForVersionGivesWhatEachVersionCanCarry) {
  for (int c = 0; c < 256; ++c) {
    const auto rc = static_cast<ReasonCode>(c);
    if (!is_defined(rc)) continue;
    EXPECT_EQ(for_version(rc, PacketType::connack, Version::v5), rc);
    if (allowed_in(rc, PacketType::connack)) {
      EXPECT_TRUE(connack_code_v311(for_version(rc, PacketType::connack, Version::v3_1_1)));
    }
    if (allowed_in(rc, PacketType::suback)) {
      const auto v311 = static_cast<unsigned>(for_version(rc, PacketType::suback, Version::v3_1_1));
      EXPECT_TRUE(v311 <= 2 || v311 == 0x80) << c;  // [MQTT-3.9.3-2]
    }
    EXPECT_EQ(for_version(rc, PacketType::puback, Version::v3_1_1), ReasonCode::success);
  }
  // A refusal keeps its meaning where 3.1.1 has one.
  EXPECT_EQ(
      for_version(ReasonCode::client_identifier_not_valid, PacketType::connack, Version::v3_1_1),
      ReasonCode::client_identifier_not_valid);  // return code 2
  EXPECT_EQ(for_version(ReasonCode::banned, PacketType::connack, Version::v3_1_1),
            ReasonCode::not_authorized);  // 5
  EXPECT_EQ(for_version(ReasonCode::qos_not_supported, PacketType::connack, Version::v3_1_1),
            ReasonCode::server_unavailable);  // 3
  EXPECT_EQ(for_version(ReasonCode::quota_exceeded, PacketType::suback, Version::v3_1_1),
            ReasonCode::unspecified_error);  // 0x80 Failure
  EXPECT_EQ(for_version(ReasonCode::granted_qos_2, PacketType::suback, Version::v3_1_1),
            ReasonCode::granted_qos_2);
}

TEST(PropertyTable, TypesAndPlaces) {
  EXPECT_EQ(property_info(PropertyId::subscription_identifier).type,
            PropertyType::variable_byte_integer);
  EXPECT_TRUE(allowed_in(PropertyId::will_delay_interval, PropertyContext::will));
  EXPECT_FALSE(allowed_in(PropertyId::will_delay_interval, PropertyContext::connect));
  EXPECT_TRUE(allowed_in(PropertyId::reason_string, PropertyContext::auth));
  EXPECT_FALSE(allowed_in(PropertyId::reason_string, PropertyContext::publish));
  EXPECT_EQ(property_info(std::uint8_t{0x04}), nullptr);
  int defined = 0;
  for (int id = 0; id < 256; ++id) {
    defined += property_info(static_cast<std::uint8_t>(id)) != nullptr ? 1 : 0;
  }
  EXPECT_EQ(defined, 27);
}

TEST(PropertiesContainer, TypedAccessAndMisuse) {
  Properties p{{PropertyId::receive_maximum, 10u},
               {PropertyId::user_property, StringPair{"a", "b"}}};
  p.add(PropertyId::user_property, StringPair{"c", "d"});
  p.set(PropertyId::receive_maximum, 11u);
  EXPECT_EQ(p.integer(PropertyId::receive_maximum), 11u);
  EXPECT_EQ(p.user_properties().size(), 2u);
  EXPECT_EQ(p.string(PropertyId::reason_string), nullptr);
  EXPECT_EQ(p.erase(PropertyId::user_property), 2u);
  EXPECT_EQ(p.size(), 1u);
  // Values that do not fit the property's data type are local misuse.
  EXPECT_THROW(p.add(PropertyId::receive_maximum, 70'000u), std::invalid_argument);
  EXPECT_THROW(p.add(PropertyId::maximum_qos, std::string("1")), std::invalid_argument);
  EXPECT_THROW(p.add(PropertyId::subscription_identifier, 268'435'456u), std::invalid_argument);
  EXPECT_THROW(p.add(static_cast<PropertyId>(0x04), 1u), std::invalid_argument);
}

TEST(Properties, MQTT_2_2_2_1_EmptyPropertiesAreALengthOfZero) {
  // A 5.0 SUBSCRIBE without properties still carries Property Length 0.
  Subscribe s;
  s.packet_id = 1;
  s.subscriptions.push_back({"t", {}});
  EXPECT_EQ(encode(Packet(s), Version::v5), hex("82 07 00 01 00 00 01 74 00"));
}

TEST(Properties, UnknownIdentifierIsMalformed) {
  expect_violation(hex("30 06 00 01 74 02 04 00"), Version::v5, ReasonCode::malformed_packet,
                   "§2.2.2.2");
}

TEST(Properties, TruncatedValueIsMalformed) {
  // Message Expiry Interval with two of its four bytes.
  expect_violation(hex("30 07 00 01 74 03 02 00 00"), Version::v5, ReasonCode::malformed_packet,
                   "§2.1.4");
}

TEST(Properties, ValueRules) {
  // Receive Maximum 0 in CONNECT.
  expect_violation(hex("10 11 00 04 4d 51 54 54 05 02 00 00 03 21 00 00 00 01 61"), Version::v5,
                   ReasonCode::protocol_error, "§2.2.2.2");
  // Maximum Packet Size 0 in CONNACK.
  expect_violation(hex("20 08 00 00 05 27 00 00 00 00"), Version::v5, ReasonCode::protocol_error,
                   "§2.2.2.2");
  // Subscription Identifier 0 in SUBSCRIBE.
  expect_violation(hex("82 09 00 01 02 0b 00 00 01 74 00"), Version::v5, ReasonCode::protocol_error,
                   "§3.8.2.1.2");
  // Two Subscription Identifiers in SUBSCRIBE.
  expect_violation(hex("82 0b 00 01 04 0b 01 0b 02 00 01 74 00"), Version::v5,
                   ReasonCode::protocol_error, "§2.2.2.2");
}

TEST(RawFrames, BuildWhatTheEncoderRefuses) {
  // A PUBLISH with QoS 3, which encode() cannot express.
  const Bytes qos3 = FrameBuilder(PacketType::publish, 0x06).string("t").u16(1).build();
  EXPECT_EQ(qos3, hex("36 05 00 01 74 00 01"));
  expect_violation(qos3, Version::v3_1_1, ReasonCode::malformed_packet, "MQTT-3.3.1-4");
  // A property in the wrong packet, and a lying Remaining Length.
  const Bytes alias_in_connack = FrameBuilder(PacketType::connack, 0)
                                     .u8(0)
                                     .u8(0)
                                     .properties(Properties{{PropertyId::topic_alias, 1u}})
                                     .build();
  EXPECT_EQ(alias_in_connack, hex("20 06 00 00 03 23 00 01"));
  const Bytes lying = FrameBuilder(0xC0).remaining_length(5).build();
  EXPECT_EQ(lying, hex("c0 05"));
  EXPECT_TRUE(std::holds_alternative<NeedMore>(decode(lying, Version::v5)));
  // Raw property bytes, a raw u32 and non-minimal VBI bytes.
  const Bytes raw = FrameBuilder(PacketType::publish, 0)
                        .string("t")
                        .raw_properties(encode_property({PropertyId::message_expiry_interval, 9u}))
                        .u32(0x01020304)
                        .vbi(200)
                        .bytes({0x80, 0x00})
                        .binary(hex("aa"))
                        .build();
  EXPECT_EQ(raw, hex("30 14 00 01 74 05 02 00 00 00 09 01 02 03 04 c8 01 80 00 00 01 aa"));
}

}  // namespace
}  // namespace assay::mqtt::test
