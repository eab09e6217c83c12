// The StreamDecoder: chunking, several packets, size limits, sticky failure.
#include "assay/mqtt/codec.hpp"
#include "test_util.hpp"

namespace assay::mqtt::test {
namespace {

const Bytes connect_v5 = hex("10 0e 00 04 4d 51 54 54 05 02 00 3c 00 00 01 61");
const Bytes publish_v5 = hex("30 05 00 01 74 00 7a");
const Bytes pingreq = hex("c0 00");

std::vector<Packet> drain(StreamDecoder& d) {
  std::vector<Packet> out;
  for (;;) {
    DecodeResult r = d.next();
    if (auto* p = std::get_if<Decoded>(&r)) {
      out.push_back(std::move(p->packet));
    } else {
      return out;
    }
  }
}

TEST(StreamDecoder, OneByteAtATime) {
  Bytes stream = connect_v5;
  stream.insert(stream.end(), publish_v5.begin(), publish_v5.end());
  stream.insert(stream.end(), pingreq.begin(), pingreq.end());
  StreamDecoder d(Version::v3_1_1);
  std::vector<Packet> got;
  for (const std::uint8_t b : stream) {
    d.feed(ByteView(&b, 1));
    for (auto& p : drain(d))
      got.push_back(std::move(p));
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(type_of(got[0]), PacketType::connect);
  // After the 5.0 CONNECT the PUBLISH is decoded under 5.0 (it has a Property Length).
  EXPECT_EQ(d.version(), Version::v5);
  EXPECT_EQ(std::get<Publish>(got[1]).payload.as_chars(), "z");
  EXPECT_EQ(type_of(got[2]), PacketType::pingreq);
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(StreamDecoder, WholeStreamAtOnce) {
  Bytes stream;
  for (int i = 0; i < 1000; ++i)
    stream.insert(stream.end(), pingreq.begin(), pingreq.end());
  StreamDecoder d(Version::v5);
  d.feed(stream);
  EXPECT_EQ(drain(d).size(), 1000u);
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(StreamDecoder, MaximumPacketSizeBeforeTheBodyArrives) {
  // A PUBLISH announcing 1 MiB is refused as soon as its length is known.
  StreamDecoder d(Version::v5, DecodeLimits{1024});
  d.feed(hex("30 80 80 40"));
  const DecodeResult r = d.next();
  ASSERT_TRUE(std::holds_alternative<Violation>(r));
  EXPECT_EQ(std::get<Violation>(r).reason, ReasonCode::packet_too_large);
  EXPECT_TRUE(d.failed());
  // The decoder stays failed and buffers nothing more.
  d.feed(Bytes(4096, 0));
  EXPECT_EQ(d.buffered(), 0u);
  EXPECT_TRUE(std::holds_alternative<Violation>(d.next()));
}

TEST(StreamDecoder, PacketOfExactlyTheMaximumIsAccepted) {
  StreamDecoder d(Version::v5, DecodeLimits{static_cast<std::uint32_t>(publish_v5.size())});
  d.feed(publish_v5);
  EXPECT_TRUE(std::holds_alternative<Decoded>(d.next()));
}

TEST(StreamDecoder, ViolationAfterGoodPackets) {
  StreamDecoder d(Version::v5);
  Bytes stream = pingreq;
  const Bytes bad = hex("36 06 00 01 74 00 01 00");  // QoS 3
  stream.insert(stream.end(), bad.begin(), bad.end());
  d.feed(stream);
  EXPECT_TRUE(std::holds_alternative<Decoded>(d.next()));
  const DecodeResult r = d.next();
  ASSERT_TRUE(std::holds_alternative<Violation>(r));
  EXPECT_EQ(std::get<Violation>(r).statement, "MQTT-3.3.1-4");
}

TEST(StreamDecoder, ReservedTypeFailsOnTheFirstByte) {
  StreamDecoder d(Version::v5);
  d.feed(hex("00"));
  EXPECT_TRUE(std::holds_alternative<Violation>(d.next()));
}

TEST(StreamDecoder, CompactsALongBuffer) {
  // Many small packets followed by a partial one: consumed bytes are dropped.
  Bytes stream;
  for (int i = 0; i < 5000; ++i)
    stream.insert(stream.end(), pingreq.begin(), pingreq.end());
  stream.push_back(0x30);
  StreamDecoder d(Version::v5);
  d.feed(stream);
  EXPECT_EQ(drain(d).size(), 5000u);
  EXPECT_EQ(d.buffered(), 1u);
  d.feed(hex("05 00 01 74 00 7a"));
  EXPECT_EQ(drain(d).size(), 1u);
}

}  // namespace
}  // namespace assay::mqtt::test
