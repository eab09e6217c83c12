// Topic matching: one topic against 10^5 and 10^6 subscriptions in the
// index, and single filter/name matches against Mosquitto's
// mosquitto_topic_matches_sub(), measured in the same run.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "assay/mqtt/subscription_index.hpp"
#include "assay/mqtt/topic.hpp"

#ifdef ASSAY_HAVE_LIBMOSQUITTO
#include <mosquitto.h>
#endif

namespace {

using assay::mqtt::SubscriptionIndex;

// A fleet's subscriptions: mostly exact device topics, some '+' at a level,
// some '#' under a site, like dashboards, alerting and archivers would hold.
std::vector<std::string> fleet_filters(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::string> out;
  out.reserve(n);
  const char* sensors[] = {"temperature", "humidity", "pressure", "battery", "status"};
  for (std::size_t i = 0; i < n; ++i) {
    const auto site = rng() % 100;
    const auto device = rng() % 10'000;
    const char* sensor = sensors[rng() % 5];
    switch (rng() % 20) {
      case 0:
        out.push_back("fleet/site-" + std::to_string(site) + "/+/" + sensor);
        break;
      case 1:
        out.push_back("fleet/site-" + std::to_string(site) + "/#");
        break;
      case 2:
        out.push_back("fleet/+/device-" + std::to_string(device) + "/+");
        break;
      default:
        out.push_back("fleet/site-" + std::to_string(site) + "/device-" + std::to_string(device) +
                      "/" + sensor);
    }
  }
  return out;
}

void BM_IndexMatch(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto filters = fleet_filters(n, 1);
  SubscriptionIndex<std::uint32_t, std::uint8_t> index;
  for (std::size_t i = 0; i < filters.size(); ++i) {
    index.insert(filters[i], static_cast<std::uint32_t>(i), 1);
  }
  std::vector<std::string> topics;
  std::mt19937 rng(2);
  for (int i = 0; i < 1024; ++i) {
    topics.push_back("fleet/site-" + std::to_string(rng() % 100) + "/device-" +
                     std::to_string(rng() % 10'000) + "/temperature");
  }
  std::size_t i = 0;
  std::size_t matched = 0;
  for (auto _ : state) {
    index.match(topics[i++ & 1023], [&](std::uint32_t, std::uint8_t) { ++matched; });
  }
  benchmark::DoNotOptimize(matched);
  state.counters["matches_per_topic"] =
      benchmark::Counter(static_cast<double>(matched) / static_cast<double>(state.iterations()));
}
BENCHMARK(BM_IndexMatch)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kNanosecond);

// Single filter/name pairs: ours and Mosquitto's, on the same inputs.
const std::vector<std::pair<std::string, std::string>>& pairs() {
  static const auto value = [] {
    std::vector<std::pair<std::string, std::string>> out;
    const auto filters = fleet_filters(1024, 3);
    std::mt19937 rng(4);
    for (const auto& f : filters) {
      out.emplace_back(f, "fleet/site-" + std::to_string(rng() % 100) + "/device-" +
                              std::to_string(rng() % 10'000) + "/temperature");
    }
    return out;
  }();
  return value;
}

void BM_TopicMatchesPair(benchmark::State& state) {
  const auto& p = pairs();
  std::size_t i = 0;
  int hits = 0;
  for (auto _ : state) {
    const auto& [f, t] = p[i++ & 1023];
    hits += assay::mqtt::topic_matches(f, t) ? 1 : 0;
  }
  benchmark::DoNotOptimize(hits);
}
BENCHMARK(BM_TopicMatchesPair);

#ifdef ASSAY_HAVE_LIBMOSQUITTO
void BM_MosquittoTopicMatchesSubPair(benchmark::State& state) {
  const auto& p = pairs();
  std::size_t i = 0;
  int hits = 0;
  for (auto _ : state) {
    const auto& [f, t] = p[i++ & 1023];
    bool result = false;
    mosquitto_topic_matches_sub(f.c_str(), t.c_str(), &result);
    hits += result ? 1 : 0;
  }
  benchmark::DoNotOptimize(hits);
}
BENCHMARK(BM_MosquittoTopicMatchesSubPair);
#endif

}  // namespace
