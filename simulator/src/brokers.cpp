// Broker hosts: the broker engine (a Harness of one or more shards), its
// clock, and crashes and restarts with or without its store.
#include "world_internal.hpp"

namespace assay::sim {

mqtt::Time World::broker_clock(const Broker& b) const {
  return mqtt::Time(static_cast<Nanos>(static_cast<double>(now_) * (1.0 + b.drift)) / ns_per_ms);
}

void World::start_broker(BrokerIndex index) {
  Broker& b = *brokers_.at(index);
  b.harness = std::make_unique<broker::Harness>(b.config, b.spec.shards, broker_clock(b));
  b.up = true;
  ++b.epoch;
  b.links.clear();
  pump_broker(index);
}

void World::crash_broker(BrokerIndex index) {
  Broker& b = *brokers_.at(index);
  if (!b.up) return;
  ++stats_.faults;
  emit(trace::BrokerCrash{index, static_cast<LinkId>(links_.size())});
  // Its connections stay open at their clients: they hear of it when they
  // next write after the restart (a reset), or by keep alive.
  for (auto& [hl, l] : b.links) {
    if (Link* link_ = link(l)) link_->broker_open = false;
  }
  b.links.clear();
  b.harness.reset();
  if (b.store) b.store->crash();  // writes not synced are lost
  b.up = false;
  b.timer_at = -1;
  ++b.timer_generation;
}

void World::restart_broker(BrokerIndex index) {
  Broker& b = *brokers_.at(index);
  if (b.up) return;
  start_broker(index);
  emit(trace::BrokerRestart{index, b.store != nullptr});
}

void World::broker_timer(BrokerIndex index) {
  Broker& b = *brokers_.at(index);
  b.harness->handle_timeout(broker_clock(b));
  pump_broker(index);
}

// After every input to a broker: its output to each connection, then its
// timer.
void World::pump_broker(BrokerIndex index) {
  Broker& b = *brokers_.at(index);
  if (!b.up) return;
  while (auto d = b.harness->poll(broker_clock(b))) {
    const auto it = b.links.find(d->link);
    if (it == b.links.end()) continue;
    Link* l = link(it->second);
    if (l == nullptr) continue;
    if (!d->bytes.empty()) write(*l, false, d->bytes);
    if (d->close_after) {
      finish(*l, false, false);
      close_broker_side(*l);
    }
  }
  const auto deadline = b.harness->next_deadline();
  const Nanos at = deadline
                       ? static_cast<Nanos>(static_cast<double>(deadline->count() * ns_per_ms) /
                                            (1.0 + b.drift)) +
                             1
                       : -1;
  if (at != b.timer_at) {
    b.timer_at = at;
    ++b.timer_generation;
    if (at >= 0) schedule(at, EventKind::broker_timer, index, b.timer_generation);
  }
}

}  // namespace assay::sim
