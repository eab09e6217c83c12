// How the broker engine scales with threads, without sockets: the same
// clients and the same messages handled by one engine on one thread, or by
// engines on several threads made one broker the way `assay broker
// --threads N` does (shared Routing under a std::shared_mutex, messages for
// another shard's sessions passed to its thread through a queue).
//
// Each publisher sends QoS 0 PUBLISH packets (64-byte payloads) on its own
// topic with one subscriber. Arguments: engine threads, and the share of
// subscribers that live on another shard than their publisher (percent).
// Items per second is messages routed and delivered (encoded for the
// subscriber) per second of wall time.
#include <benchmark/benchmark.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "assay/broker/engine.hpp"
#include "assay/broker/shared_mutex_lock.hpp"
#include "assay/mqtt/codec.hpp"

namespace {

using namespace assay;
using namespace assay::broker;
using mqtt::Bytes;

constexpr int clients_per_thread = 50;  // publishers and as many subscribers
constexpr int batch = 32;               // PUBLISH packets per read

std::string id_on(std::size_t shard, std::size_t shards, const std::string& prefix) {
  for (int i = 0;; ++i) {
    std::string id = prefix;
    id.append("-").append(std::to_string(i));
    if (home_shard(id, shards) == shard) return id;
  }
}

Bytes connect_bytes(const std::string& id) {
  mqtt::Connect c;
  c.client_id = id;
  c.keep_alive = 0;
  return mqtt::encode(mqtt::Packet{c}, mqtt::Version::v5);
}

struct Shard {
  std::unique_ptr<Engine> engine;
  std::vector<ConnectionId> publishers;
  std::vector<Bytes> batches;  // one per publisher
  // Messages other shards route to this one's sessions.
  std::mutex inbox_mutex;
  std::vector<Engine::Forward> inbox;
  std::uint64_t delivered_bytes = 0;

  void drain(std::vector<Shard>& all) {
    while (auto out = engine->poll_output())
      delivered_bytes += out->bytes.size();
    while (auto f = engine->poll_forward()) {
      Shard& to = all[f->shard];
      const std::lock_guard<std::mutex> guard(to.inbox_mutex);
      to.inbox.push_back(std::move(*f));
    }
  }
  void take_inbox(std::vector<Shard>& all) {
    {
      const std::lock_guard<std::mutex> guard(inbox_mutex);
      spare.swap(inbox);  // the two vectors keep their capacity
    }
    for (auto& f : spare)
      engine->deliver_forwarded(std::move(f), mqtt::Time{0});
    spare.clear();
    drain(all);
  }
  std::vector<Engine::Forward> spare;
};

void BM_Shards(benchmark::State& state) {
  const auto threads = static_cast<std::size_t>(state.range(0));
  const auto cross_percent = state.range(1);
  SharedMutexLock lock;
  const auto routing = make_routing();
  std::vector<Shard> shards(threads);
  EngineConfig config;
  config.sys_interval = mqtt::Duration{0};
  for (std::size_t s = 0; s < threads; ++s) {
    Sharding sharding;
    sharding.index = s;
    sharding.count = threads;
    sharding.routing = routing;
    sharding.lock = threads > 1 ? &lock : nullptr;
    shards[s].engine = std::make_unique<Engine>(config, mqtt::Time{0}, sharding);
  }
  // The same clients whatever the thread count: 50 publisher/subscriber
  // pairs per core of the two-thread setup, so one thread does all the work
  // two threads share.
  const int pairs = clients_per_thread * 2;
  mqtt::Publish p;
  p.payload = mqtt::SharedBytes(Bytes(64, 0x2A));
  for (int i = 0; i < pairs; ++i) {
    const std::size_t pub_shard = static_cast<std::size_t>(i) % threads;
    const bool cross = (i * 100 / pairs) % 100 < cross_percent;
    const std::size_t sub_shard = cross ? (pub_shard + 1) % threads : pub_shard;
    const std::string topic = "bench/" + std::to_string(i);
    Shard& ss = shards[sub_shard];
    const ConnectionId sub = *ss.engine->open(mqtt::Time{0});
    ss.engine->receive(sub, connect_bytes(id_on(sub_shard, threads, "sub" + std::to_string(i))),
                       mqtt::Time{0});
    mqtt::Subscribe subscribe;
    subscribe.packet_id = 1;
    subscribe.subscriptions.push_back({topic, {}});
    ss.engine->receive(sub, mqtt::encode(mqtt::Packet{subscribe}, mqtt::Version::v5),
                       mqtt::Time{0});
    ss.drain(shards);
    Shard& ps = shards[pub_shard];
    const ConnectionId pub = *ps.engine->open(mqtt::Time{0});
    ps.engine->receive(pub, connect_bytes(id_on(pub_shard, threads, "pub" + std::to_string(i))),
                       mqtt::Time{0});
    ps.drain(shards);
    Bytes bytes;
    p.topic = topic;
    for (int k = 0; k < batch; ++k)
      mqtt::encode(mqtt::Packet{p}, mqtt::Version::v5, bytes);
    ps.publishers.push_back(pub);
    ps.batches.push_back(std::move(bytes));
  }
  constexpr int rounds = 20;  // each publisher sends rounds * batch messages per iteration
  for (auto _ : state) {
    auto work = [&](std::size_t s) {
      Shard& shard = shards[s];
      for (int r = 0; r < rounds; ++r) {
        for (std::size_t i = 0; i < shard.publishers.size(); ++i) {
          shard.engine->receive(shard.publishers[i], shard.batches[i], mqtt::Time{0});
          shard.drain(shards);
        }
        shard.take_inbox(shards);
      }
    };
    std::vector<std::thread> running;
    for (std::size_t s = 1; s < threads; ++s)
      running.emplace_back(work, s);
    work(0);
    for (auto& t : running)
      t.join();
    for (auto& shard : shards)  // what arrived after a shard's last round
      shard.take_inbox(shards);
  }
  state.SetItemsProcessed(state.iterations() * pairs * rounds * batch);
  std::uint64_t bytes = 0;
  for (const auto& s : shards)
    bytes += s.delivered_bytes;
  state.counters["delivered_MB"] = static_cast<double>(bytes) / 1e6;
}
BENCHMARK(BM_Shards)
    ->ArgNames({"threads", "cross%"})
    ->Args({1, 0})
    ->Args({2, 0})
    ->Args({2, 50})
    ->Args({2, 100})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
