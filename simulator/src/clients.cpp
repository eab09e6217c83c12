// Client hosts: the client engine of each device and subscriber, its clock,
// its workload (when the next message is published and what it says), and
// crashes, restarts and leaving.
#include <cmath>

#include "world_internal.hpp"

namespace assay::sim {

using namespace mqtt;

namespace {

std::string number(double v, int decimals) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace

mqtt::Time World::client_clock(const Client& c) const {
  const auto local =
      static_cast<Nanos>(static_cast<double>(now_) * (1.0 + c.drift)) + c.clock_offset;
  return mqtt::Time(local / ns_per_ms);
}

Nanos World::client_deadline(const Client& c, mqtt::Time t) const {
  // The first virtual instant at which the client's clock reads t.
  const double local = static_cast<double>(t.count() * ns_per_ms - c.clock_offset);
  return static_cast<Nanos>(std::ceil(local / (1.0 + c.drift)));
}

std::unique_ptr<client::Engine> World::make_engine(Client& c) {
  Rng* rng = c.rng.get();
  return std::make_unique<client::Engine>(
      c.config, [rng] { return rng->next(); }, client_clock(c));
}

void World::start_client(ClientIndex index) {
  Client& c = *clients_.at(index);
  if (c.up || c.gone) return;
  if (!c.configured) {  // first start: configure from the class
    c.configured = true;
    client::ClientConfig& cfg = c.config;
    std::string broker;
    std::uint16_t keep_alive = 30;
    if (c.subscriber) {
      const SubscriberClass& s = scenario_.subscribers[c.klass];
      cfg.connect.version = s.version;
      cfg.connect.clean_start = s.clean_start;
      keep_alive = s.keep_alive_s;
      if (s.version == Version::v5 && s.session_expiry_s > 0) {
        cfg.connect.properties.add(PropertyId::session_expiry_interval, s.session_expiry_s);
      }
      if (s.version == Version::v3_1_1) cfg.connect.clean_start = s.clean_start;
      broker = s.broker;
      for (const std::string& f : s.filters) {
        c.filters.push_back(s.shared_group ? "$share/" + *s.shared_group + "/" + f : f);
      }
      c.read_rate = s.read_bytes_per_s;
    } else {
      const DeviceClass& d = scenario_.devices[c.klass];
      cfg.connect.version = d.version;
      cfg.connect.clean_start = d.clean_start;
      keep_alive = d.keep_alive_s;
      if (d.version == Version::v5 && d.session_expiry_s > 0) {
        cfg.connect.properties.add(PropertyId::session_expiry_interval, d.session_expiry_s);
      }
      broker = d.broker;
      cfg.planted_bug = d.planted_bug;
      c.value = d.values.kind == Values::Kind::csv && !d.values.csv.empty() ? d.values.csv[0]
                                                                            : d.values.start;
      c.publishing = true;
    }
    cfg.connect.client_id = c.id;
    cfg.connect.keep_alive = keep_alive;
    cfg.servers = {client::Server{broker, 1883}};
    cfg.reconnect.initial = std::chrono::milliseconds(200);
    cfg.reconnect.maximum = std::chrono::seconds(5);
    cfg.reconnect.after_refusal = std::chrono::seconds(5);
    cfg.connect_timeout = std::chrono::seconds(5);
    cfg.queue.max_messages = 100000;
    cfg.queue.max_bytes = std::size_t{1} << 30;
    const bool durable = c.subscriber ? scenario_.subscribers[c.klass].durable_store
                                      : scenario_.devices[c.klass].durable_store;
    if (durable) {
      c.store = std::make_shared<client::MemoryStore>();
      cfg.store = c.store;
    }
  }
  c.up = true;
  ++c.epoch;
  c.engine = make_engine(c);
  if (c.subscriber) {
    std::vector<Subscription> subs;
    for (const std::string& f : c.filters) {
      Subscription s;
      s.filter = f;
      s.options.qos = scenario_.subscribers[c.klass].qos;
      subs.push_back(std::move(s));
    }
    c.engine->subscribe(std::move(subs), client_clock(c));
  }
  c.engine->start(client_clock(c));
  pump_client(index);
  if (!c.subscriber && c.publishing && !healed_) schedule_publish(c, 0);
}

void World::schedule_publish(Client& c, Nanos after) {
  const Process& p = scenario_.devices[c.klass].publish;
  Nanos gap = 0;
  switch (p.kind) {
    case Process::Kind::fixed:
      gap = p.interval;
      break;
    case Process::Kind::uniform:
      gap = c.work.between(p.min, p.max);
      break;
    case Process::Kind::normal:
      gap = std::max<Nanos>(0, static_cast<Nanos>(c.work.normal(static_cast<double>(p.mean),
                                                                static_cast<double>(p.sd))));
      break;
    case Process::Kind::exponential:
      gap = static_cast<Nanos>(c.work.exponential(static_cast<double>(p.mean)));
      break;
    case Process::Kind::poisson:
      gap = static_cast<Nanos>(c.work.exponential(static_cast<double>(ns_per_s) / p.rate));
      break;
    case Process::Kind::bursts:
      if (c.burst_left > 0) {
        --c.burst_left;
        gap = p.interval;
      } else {
        c.burst_left = p.burst > 0 ? p.burst - 1 : 0;
        gap = p.gap;
      }
      break;
  }
  // The first message of a device comes at a random point of its first gap,
  // so a class does not publish in lockstep.
  if (after == 0) gap = static_cast<Nanos>(c.work.below(static_cast<std::uint64_t>(gap) + 1));
  schedule(now_ + gap, EventKind::publish, c.index, c.epoch);
}

void World::device_publish(ClientIndex index) {
  Client& c = *clients_.at(index);
  if (!c.up || !c.publishing || healed_) return;
  const DeviceClass& d = scenario_.devices[c.klass];
  // The value moves on.
  const Values& v = d.values;
  switch (v.kind) {
    case Values::Kind::constant:
      c.value = v.start;
      break;
    case Values::Kind::random_walk:
      c.value = std::clamp(c.value + (c.work.unit() * 2 - 1) * v.step, v.min, v.max);
      break;
    case Values::Kind::sine: {
      constexpr double two_pi = 6.283185307179586;
      const double phase = two_pi * static_cast<double>(now_) / static_cast<double>(v.period);
      c.value = v.offset + v.amplitude * std::sin(phase) + c.work.normal(0, v.noise);
      break;
    }
    case Values::Kind::csv:
      c.value = v.csv.empty() ? v.start : v.csv[c.seq % v.csv.size()];
      break;
  }
  const MessageId id = next_message_++;
  auto vars = c.vars;
  vars["msg"] = message_tag(id);
  vars["seq"] = std::to_string(c.seq++);
  vars["value"] = number(c.value, v.decimals);
  vars["t"] = std::to_string(now_ / ns_per_ms);
  Publish m;
  m.topic = render(d.topic, c.vars, c.n);
  m.qos = d.qos;
  m.retain = d.retain;
  m.payload = SharedBytes(std::string_view(render(d.payload, vars, c.n)));
  if (d.message_expiry_s && d.version == Version::v5) {
    m.properties.add(PropertyId::message_expiry_interval, *d.message_expiry_s);
  }
  ++stats_.published;
  emit(trace::Publish{index, id, m.topic, m.qos, m.retain, m.payload.empty(), d.message_expiry_s});
  const client::Ticket t = c.engine->publish(std::move(m), client_clock(c));
  c.tickets.emplace(t, id);
  pump_client(index);
  schedule_publish(c, 1);
}

void World::set_will(Client& c) {
  if (c.subscriber || !scenario_.devices[c.klass].will) return;
  const DeviceClass& d = scenario_.devices[c.klass];
  const WillSpec& spec = *d.will;
  c.will = next_message_++;
  auto vars = c.vars;
  vars["msg"] = message_tag(c.will);
  Will w;
  w.topic = render(spec.topic, c.vars, c.n);
  w.payload = SharedBytes(std::string_view(render(spec.payload, vars, c.n)));
  w.qos = spec.qos;
  w.retain = spec.retain;
  if (d.version == Version::v5 && spec.delay_s > 0) {
    w.properties.add(PropertyId::will_delay_interval, spec.delay_s);
  }
  c.engine->set_will(std::move(w));
}

void World::client_timer(ClientIndex index) {
  Client& c = *clients_.at(index);
  c.engine->handle_timeout(client_clock(c));
  pump_client(index);
}

// After every input to a client engine: its events, its bytes, its timer.
void World::pump_client(ClientIndex index) {
  Client& c = *clients_.at(index);
  while (c.up) {
    auto e = c.engine->poll_event();
    if (!e) break;
    std::visit(
        [&](auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, client::event::OpenTransport>) {
            ++c.open_attempt;
            set_will(c);  // a Will of its own for every connection
            open_transport(index, x.server);
            emit(trace::Connecting{index, c.link, c.will});
          } else if constexpr (std::is_same_v<T, client::event::CloseTransport>) {
            if (Link* l = link(c.link)) {
              Bytes out;
              if (c.engine->poll_transmit(out)) write(*l, true, out);
              finish(*l, true, false);
              close_client_side(*l);
            }
          } else if constexpr (std::is_same_v<T, client::event::Connected>) {
            // Its link may have closed under it in the same turn: name the last one.
            emit(trace::Connected{index, c.link != 0 ? c.link : c.last_link, x.resumed,
                                  x.clean_start, c.will});
          } else if constexpr (std::is_same_v<T, client::event::ConnectionLost>) {
            if (x.cause == client::Cause::protocol_violation) {
              emit(trace::Violation{index, x.detail});
            }
            emit(trace::Lost{index, c.link != 0 ? c.link : c.last_link, x.cause,
                             x.cause == client::Cause::local, x.reason_code});
          } else if constexpr (std::is_same_v<T, client::event::Message>) {
            ++stats_.delivered;
            const MessageId id = find_message_tag(x.message.payload.as_chars());
            emit(trace::Deliver{index, id, x.message.topic, x.message.qos, x.message.retain,
                                x.message.dup});
          } else if constexpr (std::is_same_v<T, client::event::PublishDone>) {
            const auto it = c.tickets.find(x.ticket);
            ++stats_.completed;
            if (it != c.tickets.end()) {
              emit(trace::PublishDone{index, it->second, x.outcome, x.reason_code});
              c.tickets.erase(it);
            }
          } else if constexpr (std::is_same_v<T, client::event::SubscribeDone>) {
            for (std::size_t i = 0; i < x.filters.size(); ++i) {
              const ReasonCode rc =
                  i < x.reason_codes.size() ? x.reason_codes[i] : ReasonCode::unspecified_error;
              emit(trace::Subscribed{index, x.filters[i],
                                     is_error(rc) ? QoS::at_most_once : static_cast<QoS>(rc),
                                     is_error(rc)});
            }
          }
          // UnsubscribeDone, Stopped, PacketSent/Received: not traced.
        },
        *e);
  }
  if (!c.up) return;
  if (Link* l = link(c.link); l != nullptr && l->established && l->client_open) {
    Bytes out;
    if (c.engine->poll_transmit(out)) write(*l, true, out);
  }
  const auto d = c.engine->next_deadline();
  const Nanos at = d ? client_deadline(c, *d) : -1;
  if (at != c.timer_at) {
    c.timer_at = at;
    ++c.timer_generation;
    if (at >= 0) schedule(at, EventKind::client_timer, index, c.timer_generation);
  }
}

void World::crash_client(ClientIndex index, bool half_open) {
  Client& c = *clients_.at(index);
  if (!c.up) return;
  ++stats_.faults;
  emit(trace::ClientCrash{index, c.store != nullptr});
  if (Link* l = link(c.link)) {
    l->client_open = false;
    // A dead process's OS resets its connection; a vanished host leaves it
    // open at the broker (half-open) until keep alive or a takeover.
    if (!half_open) {
      finish(*l, true, true);
      l->down.ended = true;
    }
  }
  c.link = 0;
  c.engine.reset();
  if (c.store) {
    c.store->crash();  // writes not synced are lost; the tickets it holds stay valid
  } else {
    c.tickets.clear();
  }
  c.up = false;
  c.timer_at = -1;
  ++c.timer_generation;
}

void World::restart_client(ClientIndex index) {
  Client& c = *clients_.at(index);
  if (c.up || c.gone) return;
  emit(trace::ClientRestart{index});
  if (!c.subscriber) c.publishing = !healed_;
  start_client(index);
}

void World::leave(ClientIndex index) {
  Client& c = *clients_.at(index);
  if (!c.up) return;
  c.gone = true;
  c.publishing = false;
  c.engine->disconnect(client_clock(c));
  pump_client(index);
}

void World::set_read_rate(ClientIndex index, std::uint64_t bytes_per_s) {
  Client& c = *clients_.at(index);
  c.read_rate = bytes_per_s;
  if (Link* l = link(c.link)) {
    l->down.read_rate = bytes_per_s;
    arm(*l, false);
  }
}

}  // namespace assay::sim
