#include "assay/broker/harness.hpp"

#include <stdexcept>

namespace assay::broker {

using namespace assay::mqtt;

Harness::Harness(EngineConfig config, std::size_t shards, Time start) {
  if (shards == 0) throw std::invalid_argument("a Harness needs at least one shard");
  Sharding sharding;
  sharding.count = shards;
  sharding.routing = make_routing();
  sharding.lock = shards > 1 ? &lock_ : nullptr;
  for (std::size_t i = 0; i < shards; ++i) {
    sharding.index = i;
    EngineConfig c = config;
    if (i > 0) c.sys_interval = Duration{0};  // shard 0 publishes $SYS, as in the front end
    engines_.push_back(std::make_unique<Engine>(std::move(c), start, sharding));
  }
}

std::optional<Harness::Link> Harness::open(Time now, std::size_t shard) {
  const std::optional<ConnectionId> id = engines_.at(shard)->open(now);
  if (!id) return std::nullopt;
  const Link link = next_link_++;
  where_.emplace(link, Place{shard, *id});
  links_.emplace(Place{shard, *id}, link);
  return link;
}

void Harness::receive(Link link, ByteView bytes, Time now) {
  const auto it = where_.find(link);
  if (it == where_.end()) return;
  const auto [shard, id] = it->second;
  engines_[shard]->receive(id, bytes, now);
}

void Harness::close(Link link, Time now) {
  const auto it = where_.find(link);
  if (it == where_.end()) return;
  const auto [shard, id] = it->second;
  forget(link);
  engines_[shard]->transport_closed(id, now);
}

void Harness::forget(Link link) {
  const auto it = where_.find(link);
  links_.erase(it->second);
  where_.erase(it);
}

Harness::Link Harness::link_at(std::size_t shard, ConnectionId id) const {
  const auto it = links_.find(Place{shard, id});
  return it == links_.end() ? 0 : it->second;
}

bool Harness::move_work(std::size_t shard, Time now) {
  Engine& engine = *engines_[shard];
  bool moved = false;
  while (auto d = engine.poll_drain()) {
    moved = true;
    if (on_drain) on_drain(Drain{link_at(shard, d->holder), link_at(shard, d->waiting)});
    engine.resume(d->waiting, now);
  }
  while (auto h = engine.poll_handoff()) {
    moved = true;
    if (h->shard >= engines_.size() || h->shard == shard) {
      throw std::logic_error("an engine handed a connection to a wrong shard");
    }
    ++handoffs_;
    const std::size_t to = h->shard;
    const Link link = link_at(shard, h->id);
    const ConnectionId id = engines_[to]->adopt(std::move(*h), now);
    if (link == 0) {
      engines_[to]->transport_closed(id, now);  // its client left meanwhile
      continue;
    }
    links_.erase(where_.at(link));
    where_[link] = Place{to, id};
    links_.emplace(Place{to, id}, link);
  }
  while (auto f = engine.poll_forward()) {
    moved = true;
    if (f->shard >= engines_.size() || f->shard == shard) {
      throw std::logic_error("an engine forwarded a message to a wrong shard");
    }
    ++forwards_;
    const std::size_t to = f->shard;
    engines_[to]->deliver_forwarded(std::move(*f), now);
  }
  return moved;
}

std::optional<Harness::Delivery> Harness::poll(Time now) {
  // Each pass gives every engine its turn; work moved to an engine makes
  // another pass. A million passes without output is an engine that never
  // settles.
  for (int pass = 0; pass < 1'000'000; ++pass) {
    bool moved = false;
    for (std::size_t shard = 0; shard < engines_.size(); ++shard) {
      moved = move_work(shard, now) || moved;
      Engine& engine = *engines_[shard];
      while (auto out = engine.poll_output()) {
        moved = true;
        const Link link = link_at(shard, out->id);
        if (out->close_after) {
          if (link != 0) forget(link);
          engine.transport_closed(out->id, now);  // the front end closes the socket
        }
        if (link == 0) continue;  // its client's side closed already
        return Delivery{link, std::move(out->bytes), out->close_after};
      }
    }
    if (!moved) return std::nullopt;
  }
  throw std::logic_error("the engines do not settle");
}

std::optional<Time> Harness::next_deadline() const {
  std::optional<Time> next;
  for (const auto& e : engines_) {
    if (const auto t = e->next_deadline(); t && (!next || *t < *next)) next = t;
  }
  return next;
}

void Harness::handle_timeout(Time now) {
  for (const auto& e : engines_)
    e->handle_timeout(now);
}

}  // namespace assay::broker
