// The World's frame: building it from a scenario, the event loop, the
// timeline of stages, and healing.
#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "world_internal.hpp"

namespace assay::sim {

std::string message_tag(MessageId id) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "m%016llx", static_cast<unsigned long long>(id));
  return buf;
}

MessageId find_message_tag(std::string_view payload) {
  for (std::size_t i = payload.find('m'); i != std::string_view::npos && i + 17 <= payload.size();
       i = payload.find('m', i + 1)) {
    MessageId id = 0;
    bool ok = true;
    for (std::size_t k = 1; k <= 16 && ok; ++k) {
      const char c = payload[i + k];
      const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      ok = d >= 0;
      id = (id << 4) | static_cast<MessageId>(d < 0 ? 0 : d);
    }
    if (ok) return id;
  }
  return 0;
}

static_assert(static_cast<int>(trace::Dropped::Why::session_ended) ==
              static_cast<int>(broker::DropReason::session_ended));

World::World(Scenario scenario, std::uint64_t seed)
    : scenario_(std::move(scenario)),
      seed_(seed),
      links_rng_(derive(seed, "links")),
      faults_rng_(derive(seed, "faults")) {
  build();
}

World::~World() = default;

void World::build() {
  Rng clocks(derive(seed_, "clocks"));
  const double max_drift =
      scenario_.buggify.contains("clock_drift") ? scenario_.buggify.at("clock_drift") : 0.0;
  for (const BrokerSpec& spec : scenario_.brokers) {
    auto b = std::make_unique<Broker>();
    b->index = static_cast<BrokerIndex>(brokers_.size());
    b->spec = spec;
    b->config.receive_maximum = spec.receive_maximum;
    b->config.session_limits.max_queued_messages = spec.max_queued_messages;
    b->config.topic_alias_maximum = spec.topic_alias_maximum;
    b->config.server_keep_alive = spec.server_keep_alive;
    b->config.minimum_client_id_length = spec.minimum_client_id_length;
    b->config.planted_bug = spec.planted_bug;
    b->config.sys_interval = mqtt::Duration{0};  // $SYS would be noise in the checkers
    b->config.on_drop = [this, index = b->index](std::string_view client_id, const mqtt::Publish& m,
                                                 broker::DropReason why) {
      const auto it = client_ids_.find(client_id);
      if (it == client_ids_.end()) return;
      emit(trace::Dropped{index, it->second, find_message_tag(m.payload.as_chars()),
                          static_cast<trace::Dropped::Why>(why)});
    };
    if (spec.durable) {
      b->store = std::make_shared<broker::MemoryStore>();
      b->config.store = b->store;
    }
    b->drift = max_drift > 0 ? (clocks.unit() * 2 - 1) * max_drift : 0;
    brokers_.push_back(std::move(b));
  }
  auto add = [&](bool subscriber, std::size_t klass, std::size_t n, const std::string& name,
                 const std::string& id_template, const std::vector<std::string>* sites) {
    auto c = std::make_unique<Client>();
    c->index = static_cast<ClientIndex>(clients_.size());
    c->subscriber = subscriber;
    c->klass = klass;
    c->n = n;
    c->vars["class"] = name;
    c->vars["n"] = std::to_string(n);
    if (sites != nullptr && !sites->empty()) c->vars["site"] = (*sites)[n % sites->size()];
    c->id = render(id_template, c->vars, n);
    c->vars["id"] = c->id;
    client_ids_.emplace(c->id, c->index);
    c->rng = std::make_unique<Rng>(derive(seed_, "client", c->index));
    c->work = Rng(derive(seed_, "workload", c->index));
    c->drift = max_drift > 0 ? (clocks.unit() * 2 - 1) * max_drift : 0;
    clients_.push_back(std::move(c));
  };
  // Subscribers first: their numbers do not move when devices are added.
  for (std::size_t k = 0; k < scenario_.subscribers.size(); ++k) {
    const SubscriberClass& s = scenario_.subscribers[k];
    for (std::size_t n = 0; n < s.count; ++n)
      add(true, k, n, s.name, s.client_id, nullptr);
  }
  for (std::size_t k = 0; k < scenario_.devices.size(); ++k) {
    const DeviceClass& d = scenario_.devices[k];
    for (std::size_t n = 0; n < d.count; ++n)
      add(false, k, n, d.name, d.client_id, &d.sites);
  }
  for (auto& b : brokers_)
    start_broker(b->index);
  for (auto& c : clients_) {
    const Nanos start =
        c->subscriber ? scenario_.subscribers[c->klass].start : scenario_.devices[c->klass].start;
    schedule(start, EventKind::start_client, c->index);
  }
  for (std::size_t i = 0; i < scenario_.stages.size(); ++i)
    schedule(scenario_.stages[i].at, EventKind::stage, i);
}

void World::schedule(Nanos at, EventKind kind, std::uint64_t target, std::uint64_t generation) {
  queue_.push(Event{std::max(at, now_), seq_++, kind, target, generation});
}

void World::emit(trace::Event e) {
  const std::uint64_t seq = trace_seq_++;
  for (Observer* o : observers_)
    o->on(now_, seq, e);
}

Nanos World::liveness_time() const {
  // Long enough for a client whose broker vanished silently to find out (a
  // PINGREQ after one Keep Alive, its timeout after another) and come back.
  std::uint16_t keep_alive = 0;
  for (const auto& c : clients_)
    keep_alive = std::max(keep_alive, c->config.connect.keep_alive);
  return std::max(scenario_.heal, (2 * static_cast<Nanos>(keep_alive) + 10) * ns_per_s);
}

void World::run() {
  run_until(scenario_.duration);
  heal();
  Nanos end = scenario_.duration + liveness_time();
  run_until(end);
  for (int period = 0; period < 10 && backlog(); ++period) {
    const std::uint64_t progress = stats_.completed + stats_.delivered;
    end += liveness_time();
    run_until(end);
    if (stats_.completed + stats_.delivered == progress) break;  // stuck: the checkers say so
  }
}

bool World::backlog() const {
  for (const auto& c : clients_) {
    if (c->up && c->engine &&
        (c->engine->inflight_messages() > 0 || c->engine->queued_messages() > 0)) {
      return true;
    }
  }
  return false;
}

void World::run_until(Nanos t) {
  while (!queue_.empty() && queue_.top().at <= t) {
    const Event e = queue_.top();
    queue_.pop();
    now_ = e.at;
    ++stats_.events;
    dispatch(e);
  }
  now_ = std::max(now_, t);
}

void World::dispatch(const Event& e) {
  switch (e.kind) {
    case EventKind::client_timer: {
      Client& c = *clients_.at(e.target);
      if (!c.up || e.generation != c.timer_generation) return;  // moved or cancelled
      c.timer_at = -1;
      client_timer(c.index);
      return;
    }
    case EventKind::broker_timer: {
      Broker& b = *brokers_.at(e.target);
      if (!b.up || e.generation != b.timer_generation) return;
      b.timer_at = -1;
      broker_timer(b.index);
      return;
    }
    case EventKind::arrive_up:
      return arrive(e.target, true);
    case EventKind::arrive_down:
      return arrive(e.target, false);
    case EventKind::broker_accept:
      return broker_accept(e.target);
    case EventKind::client_opened:
      return client_opened(e.target);
    case EventKind::connect_refused: {
      Client& c = *clients_.at(e.target);
      if (!c.up || c.open_attempt != e.generation || c.link != 0) return;
      c.engine->transport_failed(client_clock(c), "connection refused");
      return pump_client(c.index);
    }
    case EventKind::publish:
      if (clients_.at(e.target)->epoch != e.generation) return;  // of an earlier incarnation
      return device_publish(static_cast<ClientIndex>(e.target));
    case EventKind::start_client:
      return start_client(static_cast<ClientIndex>(e.target));
    case EventKind::stage:
      return run_stage(e.target);
    case EventKind::restart_broker:
      return restart_broker(static_cast<BrokerIndex>(e.target));
    case EventKind::restart_client:
      return restart_client(static_cast<ClientIndex>(e.target));
    case EventKind::end_stage: {
      const Stage& s = scenario_.stages.at(e.target);
      const auto who = members(s.target);
      if (s.kind == Stage::Kind::partition) partition(who, false);
      if (s.kind == Stage::Kind::degrade) degrade(who, std::nullopt);
      if (s.kind == Stage::Kind::slow_consumer) {
        for (const ClientIndex c : who)
          set_read_rate(c, 0);
      }
      return;
    }
  }
}

void World::run_stage(std::size_t index) {
  const Stage& s = scenario_.stages.at(index);
  if (healed_) return;
  const std::vector<ClientIndex> who = members(s.target);
  auto some = [&] {
    std::vector<ClientIndex> chosen;
    for (const ClientIndex c : who) {
      if (faults_rng_.chance(s.fraction)) chosen.push_back(c);
    }
    return chosen;
  };
  emit(trace::Fault{"stage " + (s.name.empty() ? std::to_string(index) : s.name) + " (" +
                    std::string(to_string(s.kind)) +
                    (s.target.empty() ? std::string() : " " + s.target) + ")"});
  switch (s.kind) {
    case Stage::Kind::ramp_up:
      // Spread the class's (re)starts over the stage.
      for (const ClientIndex c : who) {
        const Nanos at = s.at + (s.duration > 0 ? static_cast<Nanos>(faults_rng_.below(
                                                      static_cast<std::uint64_t>(s.duration)))
                                                : 0);
        schedule(at, EventKind::start_client, c);
      }
      break;
    case Stage::Kind::steady:
      break;
    case Stage::Kind::reconnect_storm:
      for (const ClientIndex c : some())
        reset_connection(c, faults_rng_.below(64), faults_rng_.below(64));
      break;
    case Stage::Kind::broker_crash:
      for (BrokerIndex b = 0; b < brokers_.size(); ++b) {
        if (!s.target.empty() && brokers_[b]->spec.name != s.target) continue;
        crash_broker(b);
        if (s.duration > 0) schedule(s.at + s.duration, EventKind::restart_broker, b);
      }
      break;
    case Stage::Kind::partition:
      partition(who, true);
      if (s.duration > 0) schedule(s.at + s.duration, EventKind::end_stage, index);
      break;
    case Stage::Kind::degrade:
      degrade(who, s.profile);
      if (s.duration > 0) schedule(s.at + s.duration, EventKind::end_stage, index);
      break;
    case Stage::Kind::slow_consumer:
      for (const ClientIndex c : who)
        set_read_rate(c, s.read_bytes_per_s);
      if (s.duration > 0) schedule(s.at + s.duration, EventKind::end_stage, index);
      break;
    case Stage::Kind::client_crash:
      for (const ClientIndex c : some()) {
        crash_client(c, s.half_open);
        if (s.duration > 0) schedule(s.at + s.duration, EventKind::restart_client, c);
      }
      break;
    case Stage::Kind::leave:
      for (const ClientIndex c : some())
        leave(c);
      break;
  }
}

std::vector<ClientIndex> World::members(const std::string& class_name) const {
  std::vector<ClientIndex> out;
  for (const auto& c : clients_) {
    const std::string& name = c->vars.at("class");
    if (class_name.empty() || name == class_name) out.push_back(c->index);
  }
  return out;
}

void World::heal() {
  healed_ = true;
  emit(trace::Heal{});
  for (auto& b : brokers_) {
    if (!b->up) restart_broker(b->index);
  }
  std::vector<ClientIndex> all;
  for (auto& c : clients_) {
    all.push_back(c->index);
    c->publishing = false;  // the liveness phase only completes what is owed
    if (!c->up && !c->gone) restart_client(c->index);
  }
  partition(all, false);
  degrade(all, std::nullopt);
  for (const ClientIndex c : all)
    set_read_rate(c, 0);
}

const std::string& World::client_name(ClientIndex c) const {
  return clients_.at(c)->id;
}

bool World::is_subscriber(ClientIndex c) const {
  return clients_.at(c)->subscriber;
}

const std::vector<std::string>& World::filters(ClientIndex c) const {
  return clients_.at(c)->filters;
}

mqtt::QoS World::subscription_qos(ClientIndex c) const {
  const Client& cl = *clients_.at(c);
  return cl.subscriber ? scenario_.subscribers[cl.klass].qos : mqtt::QoS::at_most_once;
}

mqtt::Version World::version(ClientIndex c) const {
  return clients_.at(c)->config.connect.version;
}

bool World::persistent(ClientIndex c) const {
  const auto& connect = clients_.at(c)->config.connect;
  if (connect.version == mqtt::Version::v3_1_1) return !connect.clean_start;
  return connect.properties.integer(mqtt::PropertyId::session_expiry_interval).value_or(0) > 0;
}

const BrokerSpec& World::broker_spec(BrokerIndex b) const {
  return brokers_.at(b)->spec;
}

const client::Engine* World::engine(ClientIndex c) const {
  const Client& cl = *clients_.at(c);
  return cl.up ? cl.engine.get() : nullptr;
}

std::size_t World::broker_sessions(BrokerIndex b) const {
  const Broker& br = *brokers_.at(b);
  if (!br.up) return 0;
  std::size_t n = 0;
  for (std::size_t s = 0; s < br.harness->shards(); ++s)
    n += br.harness->engine(s).stats().sessions;
  return n;
}

}  // namespace assay::sim
