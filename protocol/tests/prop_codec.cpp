// Property tests: every generated valid packet of either version survives
// encode and decode unchanged, also when fed to the StreamDecoder in random
// chunks; the single-packet encoders agree with the Packet encoder; topic matching agrees with a
// simple reference; the subscription index agrees with topic matching.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "assay/mqtt/codec.hpp"
#include "assay/mqtt/subscription_index.hpp"
#include "assay/mqtt/topic.hpp"
#include "generators.hpp"
#include "reference_topic.hpp"

namespace assay::mqtt {
namespace {

rc::Gen<Version> version() {
  return rc::gen::element(Version::v3_1_1, Version::v5);
}

RC_GTEST_PROP(CodecProperty, EncodeThenDecodeGivesThePacketBack, ()) {
  const Version v = *version();
  const Packet p = gen::packet(v);
  const Bytes bytes = encode(p, v);
  RC_ASSERT(encoded_size(p, v) == bytes.size());
  DecodeResult r = decode(bytes, v);
  RC_ASSERT(std::holds_alternative<Decoded>(r));
  const auto& d = std::get<Decoded>(r);
  RC_ASSERT(d.size == bytes.size());
  RC_ASSERT(d.packet == p);
  // And decode-then-encode is byte-exact.
  RC_ASSERT(encode(d.packet, v) == bytes);
}

// The overloads for one PUBLISH or acknowledgement (the delivery path) write
// what the Packet encoder writes, appending to what the buffer holds.
RC_GTEST_PROP(CodecProperty, SingleAlternativeEncodersAgreeWithThePacketEncoder, ()) {
  const Version v = *version();
  const Packet p = gen::packet(v);
  Bytes expected{0xAB};
  encode(p, v, expected);
  Bytes got{0xAB};
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Publish>) {
          const std::size_t size = expected.size() - 1;
          RC_ASSERT(encoded_size(x, v) == size);
          // encode_within(): all or nothing at the limit.
          RC_ASSERT(!encode_within(x, v, size - 1, got));
          RC_ASSERT(got.size() == 1u);
          Bytes within{0xAB};
          RC_ASSERT(encode_within(x, v, size, within));
          RC_ASSERT(within == expected);
          encode(x, v, got);
        } else if constexpr (std::is_same_v<T, Puback> || std::is_same_v<T, Pubrec> ||
                             std::is_same_v<T, Pubrel> || std::is_same_v<T, Pubcomp>) {
          encode(x, v, got);
        } else {
          RC_DISCARD("not a PUBLISH or an acknowledgement");
        }
      },
      p);
  RC_ASSERT(got == expected);
  const DecodeResult r = decode(ByteView(got).subspan(1), v);
  RC_ASSERT(std::holds_alternative<Decoded>(r));
  RC_ASSERT(std::get<Decoded>(r).packet == p);
}

RC_GTEST_PROP(CodecProperty, EveryPrefixAsksForMoreBytes, ()) {
  const Version v = *version();
  const Packet p = gen::packet(v);
  const Bytes bytes = encode(p, v);
  const auto cut = *rc::gen::inRange<std::size_t>(0, bytes.size());
  RC_ASSERT(std::holds_alternative<NeedMore>(decode(ByteView(bytes).first(cut), v)));
}

RC_GTEST_PROP(CodecProperty, RandomChunksGiveTheSamePackets, ()) {
  const Version v = *version();
  // A CONNECT first fixes the version for the rest, as on a real connection.
  Connect first;
  first.version = v;
  std::vector<Packet> sent{first};
  const auto n = *rc::gen::inRange(1, 12);
  for (int i = 0; i < n; ++i) {
    Packet p = gen::packet(v);
    if (std::holds_alternative<Connect>(p)) continue;
    sent.push_back(std::move(p));
  }
  Bytes stream;
  for (const auto& p : sent)
    encode(p, v, stream);

  StreamDecoder decoder(*version());  // the CONNECT corrects a wrong guess
  std::vector<Packet> got;
  std::size_t pos = 0;
  while (pos < stream.size()) {
    const auto chunk = std::min(stream.size() - pos, *rc::gen::inRange<std::size_t>(1, 40));
    decoder.feed(ByteView(stream).subspan(pos, chunk));
    pos += chunk;
    for (;;) {
      DecodeResult r = decoder.next();
      RC_ASSERT(!std::holds_alternative<Violation>(r));
      if (auto* d = std::get_if<Decoded>(&r)) {
        got.push_back(std::move(d->packet));
      } else {
        break;
      }
    }
  }
  RC_ASSERT(got == sent);
  RC_ASSERT(decoder.buffered() == 0u);
}

// What a decoder gave, packet by packet, ending with the violation if any.
struct Outcome {
  std::vector<Packet> packets;
  std::optional<std::pair<ReasonCode, std::string>> violation;
  bool operator==(const Outcome&) const = default;
};

// next_short_ack() before next() decodes what next() alone does: the same
// packets, the same violation, the same bytes left, whatever the chunks.
// The stream mixes valid packets with four-byte acknowledgements and their
// near misses (other flags, Packet Identifier 0, a longer Remaining
// Length), and may end in random bytes.
RC_GTEST_PROP(CodecProperty, ShortAcksDecodeAsNextDoes, ()) {
  const Version v = *version();
  Connect first;
  first.version = v;
  Bytes stream = encode(Packet(first), v);
  const auto n = *rc::gen::inRange(1, 16);
  for (int i = 0; i < n; ++i) {
    if (*rc::gen::arbitrary<bool>()) {
      const Packet p = gen::packet(v);
      if (!std::holds_alternative<Connect>(p)) encode(p, v, stream);
      continue;
    }
    const std::uint8_t type =
        *rc::gen::element<std::uint8_t>(0x40, 0x50, 0x62, 0x70, 0x60, 0x42, 0x52, 0x72);
    const std::uint8_t length = *rc::gen::element<std::uint8_t>(2, 2, 2, 3);
    const std::uint16_t id = *rc::gen::element<std::uint16_t>(0, 1, 0x1234, 0xFFFF);
    stream.insert(stream.end(), {type, length, static_cast<std::uint8_t>(id >> 8),
                                 static_cast<std::uint8_t>(id & 0xFF)});
    if (length == 3) stream.push_back(*rc::gen::element<std::uint8_t>(0x00, 0x10, 0x80, 0x92));
  }
  const auto tail = *rc::gen::container<std::vector<std::uint8_t>>(
      *rc::gen::inRange<std::size_t>(0, 6), rc::gen::arbitrary<std::uint8_t>());
  stream.insert(stream.end(), tail.begin(), tail.end());

  StreamDecoder plain(v), quick(v);
  Outcome a, b;
  auto drain = [](StreamDecoder& d, Outcome& out, bool short_acks) {
    while (!out.violation) {
      if (short_acks) {
        if (const auto ack = d.next_short_ack()) {
          out.packets.push_back(packet_of(*ack));
          continue;
        }
      }
      DecodeResult r = d.next();
      if (auto* p = std::get_if<Decoded>(&r)) {
        out.packets.push_back(std::move(p->packet));
      } else if (auto* bad = std::get_if<Violation>(&r)) {
        out.violation.emplace(bad->reason, std::string(bad->statement) + ": " + bad->detail);
      } else {
        return;
      }
    }
  };
  std::size_t pos = 0;
  while (pos < stream.size()) {
    const auto chunk = std::min(stream.size() - pos, *rc::gen::inRange<std::size_t>(1, 12));
    plain.feed(ByteView(stream).subspan(pos, chunk));
    quick.feed(ByteView(stream).subspan(pos, chunk));
    pos += chunk;
    drain(plain, a, false);
    drain(quick, b, true);
    RC_ASSERT(a == b);
    RC_ASSERT(plain.buffered() == quick.buffered());
  }
}

RC_GTEST_PROP(TopicProperty, MatchingAgreesWithReference, ()) {
  const std::string filter = *gen::topic_filter();
  const std::string name = *gen::topic_name();
  RC_ASSERT(!validate_topic_filter(filter, Version::v5));
  RC_ASSERT(!validate_topic_name(name, Version::v5));
  RC_ASSERT(topic_matches(filter, name) == test::reference_match(filter, name));
}

RC_GTEST_PROP(TopicProperty, IndexAgreesWithMatching, ()) {
  const auto filters = *rc::gen::container<std::vector<std::string>>(gen::topic_filter());
  SubscriptionIndex<std::size_t, int> index;
  for (std::size_t i = 0; i < filters.size(); ++i)
    index.insert(filters[i], i, 0);
  // Remove a random part again, to exercise pruning.
  std::set<std::size_t> removed;
  for (std::size_t i = 0; i < filters.size(); ++i) {
    if (*rc::gen::inRange(0, 4) == 0) {
      RC_ASSERT(index.erase(filters[i], i));
      removed.insert(i);
    }
  }
  RC_ASSERT(index.size() == filters.size() - removed.size());
  for (int probe = 0; probe < 8; ++probe) {
    const std::string name = *gen::topic_name();
    std::set<std::size_t> expected;
    std::set<std::string> matching_filters;
    for (std::size_t i = 0; i < filters.size(); ++i) {
      if (!removed.contains(i) && topic_matches(filters[i], name)) {
        expected.insert(i);
        matching_filters.insert(filters[i]);
      }
    }
    std::set<std::size_t> got;
    const std::size_t count = index.match(name, [&](std::size_t key, int) { got.insert(key); });
    RC_ASSERT(got == expected);
    RC_ASSERT(count == matching_filters.size());
  }
}

}  // namespace
}  // namespace assay::mqtt
