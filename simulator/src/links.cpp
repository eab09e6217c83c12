// Links that model TCP: opening (SYN, SYN-ACK), two ordered byte pipes
// with latency, jitter, bandwidth and random chunk boundaries, FIN and RST,
// partitions (stalls), resets at any byte, and what a crashed or restarted
// host does to its connections.
#include <algorithm>

#include "world_internal.hpp"

namespace assay::sim {

using namespace mqtt;

World::Link* World::link(LinkId l) {
  if (l == 0 || l > links_.size()) return nullptr;
  return links_[l - 1].get();
}

bool World::partitioned(const Client& c) const {
  return c.partitioned;
}

void World::open_transport(ClientIndex index, const client::Server& server) {
  Client& c = *clients_.at(index);
  BrokerIndex b = 0;
  while (b < brokers_.size() && brokers_[b]->spec.name != server.host)
    ++b;
  const LinkProfile& profile = c.profile ? *c.profile : scenario_.network;
  if (b == brokers_.size() || (brokers_[b]->up == false && !c.partitioned)) {
    // No such host, or nothing listens: a reset comes back.
    schedule(now_ + 2 * profile.latency, EventKind::connect_refused, index, c.open_attempt);
    return;
  }
  if (c.partitioned) return;  // the SYN is lost: the engine gives up at its connect timeout
  auto l = std::make_unique<Link>();
  l->id = links_.size() + 1;
  l->client = index;
  l->broker = b;
  l->client_epoch = c.epoch;
  l->broker_epoch = brokers_[b]->epoch;
  l->profile = profile;
  l->down.read_rate = c.read_rate;
  c.link = l->id;
  ++stats_.connections;
  const Nanos one_way =
      profile.latency +
      static_cast<Nanos>(links_rng_.below(static_cast<std::uint64_t>(profile.jitter) + 1));
  schedule(now_ + one_way, EventKind::broker_accept, l->id);
  schedule(now_ + 2 * one_way, EventKind::client_opened, l->id);
  links_.push_back(std::move(l));
}

void World::broker_accept(LinkId id) {
  Link* l = link(id);
  if (l == nullptr || !l->client_open) return;
  Broker& b = *brokers_.at(l->broker);
  Client& c = *clients_.at(l->client);
  if (!b.up || b.epoch != l->broker_epoch || c.partitioned) {
    l->client_open = false;  // no SYN-ACK: the client's open times out
    return;
  }
  const auto hl = b.harness->open(broker_clock(b));
  if (!hl) {  // the broker refuses more connections
    l->client_open = false;
    schedule(now_ + l->profile.latency, EventKind::connect_refused, l->client, c.open_attempt);
    return;
  }
  l->broker_link = *hl;
  l->broker_open = true;
  b.links[*hl] = id;
  pump_broker(l->broker);
}

void World::client_opened(LinkId id) {
  Link* l = link(id);
  if (l == nullptr) return;
  Client& c = *clients_.at(l->client);
  if (!l->client_open || !c.up || c.epoch != l->client_epoch || c.link != id) return;
  l->established = true;
  c.engine->transport_opened(client_clock(c));
  pump_client(l->client);
}

void World::write(Link& l, bool up, ByteView bytes) {
  Pipe& p = up ? l.up : l.down;
  if (p.ended || bytes.empty()) return;
  stats_.bytes += bytes.size();
  const LinkProfile& prof = l.profile;
  // Random chunk boundaries: writes longer than a chunk are cut at random
  // points, and one in ten shorter ones too.
  std::size_t at = 0;
  const bool split = bytes.size() > prof.max_chunk || links_rng_.chance(0.1);
  while (at < bytes.size()) {
    std::size_t n = bytes.size() - at;
    if (split && n > 1) {
      n = std::min<std::size_t>(n, 1 + links_rng_.below(std::min(prof.max_chunk, n)));
    }
    Segment s;
    s.bytes.assign(bytes.begin() + static_cast<std::ptrdiff_t>(at),
                   bytes.begin() + static_cast<std::ptrdiff_t>(at + n));
    const Nanos jitter =
        static_cast<Nanos>(links_rng_.below(static_cast<std::uint64_t>(prof.jitter) + 1));
    Nanos arrival = std::max(now_ + prof.latency + jitter, p.last_arrival);
    if (prof.bandwidth_bytes_per_s > 0) {
      arrival += static_cast<Nanos>(n) * ns_per_s / static_cast<Nanos>(prof.bandwidth_bytes_per_s);
    }
    s.at = arrival;
    p.last_arrival = arrival;
    p.queue.push_back(std::move(s));
    at += n;
  }
  arm(l, up);
}

// Ends a pipe after what it holds: FIN, or RST (a reset throws away what
// was not yet delivered beyond reset_after bytes).
void World::finish(Link& l, bool up, bool reset) {
  Pipe& p = up ? l.up : l.down;
  if (p.ended) return;
  p.ended = true;
  Segment s;
  s.kind = reset ? Segment::rst : Segment::fin;
  s.at = std::max(now_ + l.profile.latency, p.last_arrival);
  p.last_arrival = s.at;
  p.queue.push_back(std::move(s));
  arm(l, up);
}

void World::arm(Link& l, bool up) {
  Pipe& p = up ? l.up : l.down;
  if (p.armed || p.held || p.queue.empty()) return;
  p.armed = true;
  schedule(std::max(p.queue.front().at, now_), up ? EventKind::arrive_up : EventKind::arrive_down,
           l.id);
}

void World::arrive(LinkId id, bool up) {
  Link* l = link(id);
  if (l == nullptr) return;
  Pipe& p = up ? l->up : l->down;
  p.armed = false;
  if (p.held) return;  // released later: arm() again then
  // A slow reader takes what its rate allows per 10 ms.
  std::size_t budget =
      p.read_rate > 0 ? std::max<std::size_t>(1, p.read_rate / 100) : static_cast<std::size_t>(-1);
  Bytes data;
  bool eof = false;
  bool rst = false;
  while (!p.queue.empty() && p.queue.front().at <= now_ && budget > 0) {
    Segment& s = p.queue.front();
    if (s.kind != Segment::data) {
      eof = true;
      rst = s.kind == Segment::rst;
      p.queue.clear();
      break;
    }
    std::size_t n = std::min(s.bytes.size(), budget);
    if (p.reset_after) {
      n = std::min(n, *p.reset_after);
      *p.reset_after -= n;
    }
    data.insert(data.end(), s.bytes.begin(), s.bytes.begin() + static_cast<std::ptrdiff_t>(n));
    if (p.read_rate > 0) budget -= n;
    if (p.reset_after && *p.reset_after == 0) {  // the reset point: the rest is lost
      p.queue.clear();
      p.reset_after.reset();
      eof = rst = true;
      break;
    }
    if (n == s.bytes.size()) {
      p.queue.pop_front();
    } else {
      s.bytes.erase(s.bytes.begin(), s.bytes.begin() + static_cast<std::ptrdiff_t>(n));
    }
  }
  (void)rst;
  Client& c = *clients_.at(l->client);
  Broker& b = *brokers_.at(l->broker);
  // The wire trace shows what the receiver got: nothing a dead end was sent.
  const bool receiver_alive = up ? b.up && b.epoch == l->broker_epoch && l->broker_open
                                 : c.up && c.epoch == l->client_epoch && l->client_open;
  if (wire_ && !data.empty() && receiver_alive) {
    if (!p.decoder) {
      p.decoder = std::make_unique<StreamDecoder>(c.config.connect.version);
    }
    p.decoder->feed(data);
    for (;;) {
      DecodeResult r = p.decoder->next();
      auto* d = std::get_if<Decoded>(&r);
      if (d == nullptr) break;
      emit(trace::Packet{l->client, id, up, std::move(d->packet)});
    }
  }
  if (up) {
    if (receiver_alive) {
      if (!data.empty()) b.harness->receive(*l->broker_link, data, broker_clock(b));
      if (eof) {
        b.harness->close(*l->broker_link, broker_clock(b));
        close_broker_side(*l);
      }
      pump_broker(l->broker);
    } else {
      if (!data.empty() && l->established && !l->unheard) {
        l->unheard = true;
        emit(trace::Unheard{l->client, l->id});
      }
      if (b.up && b.epoch != l->broker_epoch && !data.empty() && !l->down.ended) {
        // A restarted host answers a connection it does not know with a reset.
        finish(*l, false, true);
      }
    }
  } else {
    if (receiver_alive) {
      if (!data.empty()) c.engine->receive(data, client_clock(c));
      if (eof) close_client_side(*l);
      pump_client(l->client);
    } else if (c.up && c.epoch != l->client_epoch && !data.empty() && !l->up.ended) {
      finish(*l, true, true);
    }
  }
  if (p.read_rate > 0 && !p.queue.empty() && budget == 0) {
    p.armed = true;  // the reader takes the rest in its next 10 ms
    schedule(now_ + 10 * ns_per_ms, up ? EventKind::arrive_up : EventKind::arrive_down, id);
    return;
  }
  arm(*l, up);
}

void World::close_client_side(Link& l) {
  if (!l.client_open) return;
  l.client_open = false;
  Client& c = *clients_.at(l.client);
  if (c.link == l.id) {
    c.link = 0;
    c.last_link = l.id;
  }
  if (!l.up.ended) finish(l, true, false);
  if (c.up && c.epoch == l.client_epoch && l.established) {
    c.engine->transport_closed(client_clock(c));
  }
}

void World::close_broker_side(Link& l) {
  if (!l.broker_open) return;
  l.broker_open = false;
  Broker& b = *brokers_.at(l.broker);
  if (l.broker_link) b.links.erase(*l.broker_link);
  if (!l.down.ended) finish(l, false, false);
}

void World::reset_connection(ClientIndex index, std::size_t after_up, std::size_t after_down) {
  Client& c = *clients_.at(index);
  Link* l = link(c.link);
  if (l == nullptr) return;
  ++stats_.faults;
  emit(trace::Fault{"reset " + c.id + " after " + std::to_string(after_up) + " bytes up, " +
                    std::to_string(after_down) + " down"});
  l->up.reset_after = after_up;
  l->down.reset_after = after_down;
  finish(*l, true, true);
  finish(*l, false, true);
}

void World::partition(const std::vector<ClientIndex>& who, bool on) {
  for (const ClientIndex index : who) {
    Client& c = *clients_.at(index);
    if (c.partitioned == on) continue;
    c.partitioned = on;
    if (on) ++stats_.faults;
    // Its open connection, and the one it closed last, whose last bytes
    // (a DISCONNECT, a FIN) may still be on the way. No other is opened
    // while partitioned: the SYN is lost.
    for (const LinkId id : {c.link, c.last_link}) {
      Link* l = link(id);
      if (l == nullptr) continue;
      l->up.held = l->down.held = on;
      if (!on) {
        arm(*l, true);
        arm(*l, false);
      }
    }
  }
  if (!who.empty()) {
    emit(trace::Fault{std::string(on ? "partition " : "repair ") + std::to_string(who.size()) +
                      " clients"});
  }
}

void World::degrade(const std::vector<ClientIndex>& who,
                    const std::optional<LinkProfile>& profile) {
  for (const ClientIndex index : who) {
    Client& c = *clients_.at(index);
    c.profile = profile;
    if (Link* l = link(c.link)) l->profile = profile ? *profile : scenario_.network;
  }
}

}  // namespace assay::sim
