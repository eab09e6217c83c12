// Fuzz target: the codec, both versions.
//
// Oracles, for every input:
//  - decode never crashes, hangs or reads past the input (ASan);
//  - every packet decode accepts encodes back to exactly the bytes it came
//    from, and those bytes decode to an equal packet;
//  - the StreamDecoder fed the same bytes in input-chosen chunks yields the
//    same packets and the same final violation as one-shot decoding, also
//    when asked for four-byte acknowledgements (next_short_ack) first.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "assay/mqtt/codec.hpp"

namespace {

using namespace assay::mqtt;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_decode oracle failed: %s\n", what);
  std::abort();
}

struct Outcome {
  std::vector<Packet> packets;
  std::optional<Violation> violation;
};

Outcome one_shot(ByteView data, Version v) {
  Outcome out;
  DecodeLimits limits{64 * 1024};
  Version current = v;
  while (!data.empty()) {
    DecodeResult r = decode(data, current, limits);
    if (auto* bad = std::get_if<Violation>(&r)) {
      out.violation = *bad;
      break;
    }
    if (std::holds_alternative<NeedMore>(r)) break;
    auto& d = std::get<Decoded>(r);
    const ByteView frame = data.first(d.size);
    const Version ev =
        std::holds_alternative<Connect>(d.packet) ? std::get<Connect>(d.packet).version : current;
    const Bytes again = encode(d.packet, ev);
    if (again.size() != frame.size() ||
        std::memcmp(again.data(), frame.data(), frame.size()) != 0) {
      fail("re-encoding differs from the decoded bytes");
    }
    DecodeResult r2 = decode(again, ev, limits);
    if (!std::holds_alternative<Decoded>(r2) || !(std::get<Decoded>(r2).packet == d.packet)) {
      fail("decode(encode(p)) != p");
    }
    current = ev;
    out.packets.push_back(std::move(d.packet));
    data = data.subspan(frame.size());
  }
  return out;
}

// With short_acks, next_short_ack() is asked before each next(), as the
// Connection does.
Outcome chunked(ByteView data, Version v, std::uint8_t seed, bool short_acks) {
  Outcome out;
  StreamDecoder dec(v, DecodeLimits{64 * 1024});
  std::size_t pos = 0;
  std::uint32_t state = seed * 2654435761u + 1;
  for (;;) {
    for (;;) {
      if (short_acks) {
        if (const auto ack = dec.next_short_ack()) {
          out.packets.push_back(packet_of(*ack));
          continue;
        }
      }
      DecodeResult r = dec.next();
      if (auto* d = std::get_if<Decoded>(&r)) {
        out.packets.push_back(std::move(d->packet));
        continue;
      }
      if (auto* bad = std::get_if<Violation>(&r)) {
        out.violation = *bad;
        return out;
      }
      break;
    }
    if (pos == data.size()) return out;
    state = state * 1103515245u + 12345u;
    const std::size_t n = std::min<std::size_t>(1 + (state >> 16) % 17, data.size() - pos);
    dec.feed(data.subspan(pos, n));
    pos += n;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // The first byte picks the version and the chunking; the rest is the stream.
  const Version v = (data[0] & 1) != 0 ? Version::v5 : Version::v3_1_1;
  const ByteView stream(data + 1, size - 1);
  const Outcome a = one_shot(stream, v);
  const Outcome b = chunked(stream, v, data[0], (data[0] & 2) != 0);
  if (a.packets != b.packets) fail("chunked decoding gave other packets");
  if (a.violation != b.violation) fail("chunked decoding gave another violation");
  return 0;
}
