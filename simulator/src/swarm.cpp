// Swarm mode (swarm testing, as in TigerBeetle's VOPR): with no scenario,
// the seed picks the topology, the workload, the faults and the engines'
// limits (BUGGIFY: tiny Receive Maximum, tiny queues, no topic aliases,
// slow readers), so that many seeds explore many different worlds. Every
// choice comes from the seed's "swarm" generator; the same seed is the same
// scenario.
#include <algorithm>

#include "assay/sim/random.hpp"
#include "assay/sim/scenario.hpp"

namespace assay::sim {

namespace {

template <class T>
T pick(Rng& r, std::initializer_list<T> options) {
  return *(options.begin() + r.below(options.size()));
}

Nanos ms(double v) {
  return static_cast<Nanos>(v * static_cast<double>(ns_per_ms));
}

}  // namespace

Scenario swarm(std::uint64_t seed) {
  Rng r(derive(seed, "swarm"));
  Scenario s;
  s.name = "swarm";
  s.description = "The world swarm mode draws from seed " + std::to_string(seed) +
                  " (assay sim --seed " + std::to_string(seed) + ")";
  s.duration = static_cast<Nanos>(r.between(15, 45)) * ns_per_s;
  s.heal = 20 * ns_per_s;

  BrokerSpec& b = s.brokers[0];
  b.durable = r.chance(0.5);
  b.shards = !b.durable && r.chance(0.3) ? 2 : 1;  // a store needs a single engine
  b.receive_maximum = pick<std::uint16_t>(r, {1, 2, 5, 20, 100});
  b.max_queued_messages = pick<std::size_t>(r, {10, 100, 1000, 100000});
  b.topic_alias_maximum = pick<std::uint16_t>(r, {0, 2, 10});
  if (r.chance(0.2)) b.server_keep_alive = pick<std::uint16_t>(r, {5, 10});
  s.buggify["receive_maximum"] = b.receive_maximum;
  s.buggify["max_queued_messages"] = static_cast<double>(b.max_queued_messages);

  s.network.latency = ms(pick<double>(r, {0.2, 1, 5, 20}));
  s.network.jitter = ms(pick<double>(r, {0, 0.5, 3}));
  s.network.bandwidth_bytes_per_s = pick<std::uint64_t>(r, {0, 0, 100'000, 10'000'000});
  s.network.max_chunk = pick<std::size_t>(r, {1, 7, 64, 1460});

  const bool shared_topic = r.chance(0.3);
  const std::size_t classes = static_cast<std::size_t>(r.between(1, 3));
  bool any_v5 = false;
  for (std::size_t k = 0; k < classes; ++k) {
    DeviceClass d;
    d.name = "dev" + std::to_string(k);
    d.count = static_cast<std::size_t>(r.between(1, 8));
    d.client_id = d.name + "-{n:03}";
    d.topic = shared_topic ? "sensors/shared" : "sensors/{class}/{id}";
    d.version = r.chance(0.3) ? mqtt::Version::v3_1_1 : mqtt::Version::v5;
    any_v5 = any_v5 || d.version == mqtt::Version::v5;
    d.qos = pick<mqtt::QoS>(r, {mqtt::QoS::at_most_once, mqtt::QoS::at_least_once,
                                mqtt::QoS::exactly_once, mqtt::QoS::exactly_once});
    d.retain = r.chance(0.3);
    d.clean_start = r.chance(0.2);
    d.session_expiry_s = d.clean_start ? 0 : pick<std::uint32_t>(r, {60, 3600, 0xFFFFFFFF});
    d.keep_alive_s = pick<std::uint16_t>(r, {5, 10, 30});
    d.durable_store = r.chance(0.5);
    if (r.chance(0.4)) {
      WillSpec w;
      w.topic = "status/{id}";
      w.payload = "gone {msg}";
      w.qos = pick<mqtt::QoS>(r, {mqtt::QoS::at_most_once, mqtt::QoS::at_least_once});
      d.will = w;
    }
    switch (r.below(3)) {
      case 0:
        d.publish.kind = Process::Kind::fixed;
        d.publish.interval = ms(pick<double>(r, {50, 200, 1000}));
        break;
      case 1:
        d.publish.kind = Process::Kind::poisson;
        d.publish.rate = pick<double>(r, {1, 5, 20});
        break;
      default:
        d.publish.kind = Process::Kind::bursts;
        d.publish.burst = static_cast<std::uint32_t>(r.between(2, 20));
        d.publish.interval = ms(5);
        d.publish.gap = ms(pick<double>(r, {500, 2000}));
    }
    d.values.kind = Values::Kind::random_walk;
    s.devices.push_back(d);
  }
  const std::size_t subscribers = static_cast<std::size_t>(r.between(1, 2));
  for (std::size_t k = 0; k < subscribers; ++k) {
    SubscriberClass c;
    c.name = "sub" + std::to_string(k);
    c.count = static_cast<std::size_t>(r.between(1, 3));
    c.client_id = c.name + "-{n:02}";
    c.filters = {"sensors/#", "status/#"};
    c.version = any_v5 && r.chance(0.8) ? mqtt::Version::v5 : mqtt::Version::v3_1_1;
    if (c.version == mqtt::Version::v5 && c.count > 1 && r.chance(0.3))
      c.shared_group = "g" + std::to_string(k);
    c.qos = pick<mqtt::QoS>(
        r, {mqtt::QoS::at_least_once, mqtt::QoS::exactly_once, mqtt::QoS::exactly_once});
    c.clean_start = false;
    c.session_expiry_s = 3600;
    c.keep_alive_s = pick<std::uint16_t>(r, {5, 10, 30});
    c.durable_store = r.chance(0.5);
    if (r.chance(0.3)) c.start = static_cast<Nanos>(r.between(0, 5)) * ns_per_s;
    s.subscribers.push_back(c);
  }

  const std::size_t faults = static_cast<std::size_t>(r.between(0, 4));
  for (std::size_t i = 0; i < faults; ++i) {
    Stage st;
    st.at = static_cast<Nanos>(r.below(static_cast<std::uint64_t>(s.duration - 5 * ns_per_s))) +
            2 * ns_per_s;
    const std::string any_class = r.chance(0.5) ? s.devices[r.below(s.devices.size())].name
                                                : s.subscribers[r.below(s.subscribers.size())].name;
    switch (r.below(7)) {
      case 0:
        st.kind = Stage::Kind::reconnect_storm;
        st.target = r.chance(0.5) ? "" : any_class;
        st.fraction = pick<double>(r, {0.2, 0.5, 1.0});
        break;
      case 1:
        st.kind = Stage::Kind::broker_crash;
        st.duration = ms(pick<double>(r, {500, 2000, 5000}));
        break;
      case 2:
        st.kind = Stage::Kind::partition;
        st.target = any_class;
        st.duration = ms(pick<double>(r, {1000, 5000, 10000}));
        break;
      case 3: {
        st.kind = Stage::Kind::degrade;
        st.target = r.chance(0.5) ? "" : any_class;
        LinkProfile p = s.network;
        p.latency = ms(pick<double>(r, {50, 200}));
        p.jitter = ms(pick<double>(r, {10, 100}));
        p.max_chunk = pick<std::size_t>(r, {1, 10});
        st.profile = p;
        st.duration = ms(pick<double>(r, {2000, 8000}));
        break;
      }
      case 4:
        st.kind = Stage::Kind::slow_consumer;
        st.target = s.subscribers[r.below(s.subscribers.size())].name;
        st.read_bytes_per_s = pick<std::uint64_t>(r, {200, 2000});
        st.duration = ms(pick<double>(r, {2000, 5000}));
        break;
      case 5:
        st.kind = Stage::Kind::client_crash;
        st.target = any_class;
        st.fraction = pick<double>(r, {0.3, 1.0});
        st.half_open = r.chance(0.3);
        st.duration = ms(pick<double>(r, {500, 3000}));
        break;
      default:
        st.kind = Stage::Kind::leave;
        st.target = s.devices[r.below(s.devices.size())].name;
        st.fraction = 0.3;
    }
    // Within the fault phase, as a scenario file must be (write_scenario()).
    st.duration = std::min(st.duration, s.duration - st.at);
    st.name = "fault " + std::to_string(i);
    s.stages.push_back(st);
  }
  return s;
}

}  // namespace assay::sim
