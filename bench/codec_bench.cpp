// Codec hot paths: decode and encode of PUBLISH (64 B and 1 KiB payloads)
// and CONNECT, both versions.
#include <benchmark/benchmark.h>

#include "assay/mqtt/codec.hpp"

namespace {

using namespace assay::mqtt;

Publish make_publish(std::size_t payload, Version v) {
  Publish p;
  p.qos = QoS::at_least_once;
  p.packet_id = 42;
  p.topic = "fleet/site-17/device-4242/temperature";
  p.payload = SharedBytes(Bytes(payload, 0x5A));
  if (v == Version::v5) {
    p.properties.add(PropertyId::message_expiry_interval, 300u);
    p.properties.add(PropertyId::user_property, StringPair{"unit", "celsius"});
  }
  return p;
}

Connect make_connect(Version v) {
  Connect c;
  c.version = v;
  c.clean_start = false;
  c.keep_alive = 60;
  c.client_id = "device-4242";
  c.username = "fleet";
  c.password = Bytes{'s', 'e', 'c', 'r', 'e', 't'};
  c.will = Will{"fleet/site-17/device-4242/status",
                SharedBytes(std::string_view("offline")),
                QoS::at_least_once,
                true,
                {}};
  if (v == Version::v5) {
    c.properties.add(PropertyId::session_expiry_interval, 3600u);
    c.properties.add(PropertyId::receive_maximum, 100u);
    c.will->properties.add(PropertyId::will_delay_interval, 5u);
  }
  return c;
}

Version version_arg(const benchmark::State& s) {
  return s.range(0) == 5 ? Version::v5 : Version::v3_1_1;
}

void BM_DecodePublish(benchmark::State& state) {
  const Version v = version_arg(state);
  const Bytes bytes = encode(make_publish(static_cast<std::size_t>(state.range(1)), v), v);
  for (auto _ : state) {
    auto r = decode(bytes, v);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes.size()));
}
BENCHMARK(BM_DecodePublish)->ArgsProduct({{4, 5}, {64, 1024}})->ArgNames({"version", "payload"});

void BM_EncodePublish(benchmark::State& state) {
  const Version v = version_arg(state);
  const Packet p = make_publish(static_cast<std::size_t>(state.range(1)), v);
  Bytes out;
  for (auto _ : state) {
    out.clear();
    encode(p, v, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(out.size()));
}
BENCHMARK(BM_EncodePublish)->ArgsProduct({{4, 5}, {64, 1024}})->ArgNames({"version", "payload"});

void BM_DecodeConnect(benchmark::State& state) {
  const Version v = version_arg(state);
  const Bytes bytes = encode(make_connect(v), v);
  for (auto _ : state) {
    auto r = decode(bytes, v);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_DecodeConnect)->Arg(4)->Arg(5)->ArgName("version");

void BM_EncodeConnect(benchmark::State& state) {
  const Version v = version_arg(state);
  const Packet p = make_connect(v);
  Bytes out;
  for (auto _ : state) {
    out.clear();
    encode(p, v, out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_EncodeConnect)->Arg(4)->Arg(5)->ArgName("version");

// The stream decoder on a buffer of back-to-back 64-byte PUBLISH packets.
void BM_StreamDecodePublish64(benchmark::State& state) {
  const Version v = Version::v5;
  const Bytes one = encode(make_publish(64, v), v);
  Bytes stream;
  for (int i = 0; i < 256; ++i)
    stream.insert(stream.end(), one.begin(), one.end());
  for (auto _ : state) {
    StreamDecoder d(v);
    d.feed(stream);
    int n = 0;
    while (std::holds_alternative<Decoded>(d.next()))
      ++n;
    benchmark::DoNotOptimize(n);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * 256));
}
BENCHMARK(BM_StreamDecodePublish64);

}  // namespace
