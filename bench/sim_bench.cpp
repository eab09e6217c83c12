// sim_bench: the simulator's speed (Google Benchmark). A fleet of N devices
// publishing once a second at QoS 1 to one backend, run for simulated time
// with every checker on, as `assay sim` runs it. Counters:
//   deliveries/s   messages handed to the backend per wall second;
//   events/s       the world's events per wall second: each chunk of bytes
//                  arriving at an end, each timer, each publish;
//   sim_s/s        simulated seconds per wall second;
//   fleet_hour_s   the wall seconds one simulated hour of this fleet would
//                  take at this run's wall time per delivery (the idle
//                  liveness phase at the end is counted in, so it is a
//                  little pessimistic).
// With --no-wire (BM_Fleet/.../nowire) packets are not decoded for the
// wire checker, as `assay sim --no-wire`.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>

#include "assay/sim/run.hpp"

namespace {

using namespace assay::sim;

Scenario fleet(std::size_t devices, Nanos duration) {
  Scenario s;
  s.name = "bench";
  s.duration = duration;
  s.heal = ns_per_s;
  DeviceClass d;
  d.name = "dev";
  d.count = devices;
  d.client_id = "dev-{n:05}";
  d.topic = "sensors/{id}";
  d.qos = assay::mqtt::QoS::at_least_once;
  d.keep_alive_s = 60;
  d.publish.interval = ns_per_s;
  d.start = 0;
  s.devices.push_back(d);
  SubscriberClass b;
  b.name = "backend";
  b.filters = {"sensors/#"};
  b.keep_alive_s = 60;
  s.subscribers.push_back(b);
  Stage ramp;
  ramp.kind = Stage::Kind::ramp_up;
  ramp.target = "dev";
  ramp.duration = ns_per_s;
  s.stages.push_back(ramp);
  return s;
}

void BM_Fleet(benchmark::State& state) {
  const auto devices = static_cast<std::size_t>(state.range(0));
  const Nanos duration = state.range(1) * ns_per_s;
  RunOptions o;
  o.wire = state.range(2) == 1;
  const Scenario s = fleet(devices, duration);
  std::uint64_t delivered = 0, events = 0;
  double simulated = 0, wall = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    const Report r = run(s, 1, o);
    wall += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (r.verdict != Verdict::ok) state.SkipWithError("the run failed its checks");
    delivered += r.stats.delivered;
    events += r.stats.events;
    simulated += static_cast<double>(r.simulated) / 1e9;
  }
  const auto rate = benchmark::Counter::kIsRate;
  state.counters["deliveries/s"] = benchmark::Counter(static_cast<double>(delivered), rate);
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(events), rate);
  state.counters["sim_s/s"] = benchmark::Counter(simulated, rate);
  // One simulated hour of this fleet (3,600 messages a device) at the
  // deliveries per second of its busy phase, in seconds of this run's time.
  const double per_delivery = wall / static_cast<double>(std::max<std::uint64_t>(delivered, 1));
  state.counters["fleet_hour_s"] = 3600.0 * static_cast<double>(devices) * per_delivery;
}

}  // namespace

BENCHMARK(BM_Fleet)
    ->ArgNames({"devices", "sim_s", "wire"})
    ->Args({1000, 30, 1})
    ->Args({1000, 30, 0})
    ->Args({10000, 10, 0})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);
