#include "assay/conformance/engine_network.hpp"

#include <stdexcept>

#include "assay/broker/checking_lock.hpp"

namespace assay::conformance {

class EngineNetwork::EngineLink : public Link {
 public:
  EngineLink(EngineNetwork& net, std::optional<broker::ConnectionId> id)
      : net_(net), number_(++net.made_) {
    if (id) {
      key_ = Key{0, *id};
      net_.links_[*key_] = this;
    } else {
      closed_ = true;  // the engine refused it (connection limit)
    }
  }
  ~EngineLink() override { close(); }

  void write(mqtt::ByteView bytes) override {
    if (closed_ || !key_) return;
    broker::Engine& engine = *net_.engines_[key_->first];
    if (net_.inbound_tamper_) {
      mqtt::Bytes copy(bytes.begin(), bytes.end());
      net_.inbound_tamper_(number_, copy);
      engine.receive(key_->second, copy, net_.now_);
    } else {
      engine.receive(key_->second, bytes, net_.now_);
    }
    net_.flush();
  }
  bool read(mqtt::Bytes& out) override {
    if (inbox_.empty()) return false;
    out.insert(out.end(), inbox_.begin(), inbox_.end());
    inbox_.clear();
    return true;
  }
  bool peer_closed() const override { return closed_ && inbox_.empty(); }
  void close() override {
    if (!key_) return;
    const Key key = *key_;
    key_.reset();
    net_.links_.erase(key);
    if (!closed_) {
      closed_ = true;
      net_.engines_[key.first]->transport_closed(key.second, net_.now_);
      net_.flush();
    }
  }

  std::uint64_t number() const { return number_; }
  void deliver(mqtt::Bytes& bytes) { inbox_.insert(inbox_.end(), bytes.begin(), bytes.end()); }
  void broker_closed() {
    closed_ = true;
    if (key_) {
      const Key key = *key_;
      net_.links_.erase(key);
      key_.reset();
      net_.engines_[key.first]->transport_closed(key.second, net_.now_);
    }
  }
  // The connection moved to another shard with another id.
  void moved(Key to) {
    net_.links_.erase(*key_);
    key_ = to;
    net_.links_[to] = this;
  }

 private:
  EngineNetwork& net_;
  std::uint64_t number_;
  std::optional<Key> key_;
  mqtt::Bytes inbox_;
  bool closed_ = false;
};

EngineNetwork::EngineNetwork(broker::EngineConfig config, std::size_t shards) {
  if (shards == 0) throw std::invalid_argument("EngineNetwork needs at least one shard");
  broker::Sharding sharding;
  sharding.count = shards;
  sharding.routing = broker::make_routing();
  if (shards > 1) {
    lock_ = std::make_unique<broker::CheckingLock>();
    sharding.lock = lock_.get();
  }
  for (std::size_t i = 0; i < shards; ++i) {
    sharding.index = i;
    broker::EngineConfig c = config;
    if (i > 0) c.sys_interval = Duration{0};
    engines_.push_back(std::make_unique<broker::Engine>(c, Time{0}, sharding));
  }
}

EngineNetwork::~EngineNetwork() = default;

std::string EngineNetwork::describe() const {
  if (engines_.size() == 1) return "in-process broker engine";
  return "in-process broker engine, " + std::to_string(engines_.size()) + " shards";
}

std::unique_ptr<Link> EngineNetwork::connect() {
  // New connections start on the first shard; the others get theirs by
  // handoff, as after a round-robin accept that picked the wrong one.
  auto link = std::make_unique<EngineLink>(*this, engines_[0]->open(now_));
  ++news_;
  return link;
}

void EngineNetwork::flush() {
  // Closing a link can make more output (a will for another connection), and
  // a handoff or a forwarded message makes work for another shard: loop until
  // every engine is quiet.
  for (bool busy = true; busy;) {
    busy = false;
    for (std::size_t shard = 0; shard < engines_.size(); ++shard) {
      broker::Engine& engine = *engines_[shard];
      while (auto h = engine.poll_handoff()) {
        busy = true;
        ++handoffs_;
        const std::size_t to = h->shard;
        const auto it = links_.find(Key{shard, h->id});
        const broker::ConnectionId id = engines_[to]->adopt(std::move(*h), now_);
        if (it != links_.end()) {
          it->second->moved(Key{to, id});
        } else {
          engines_[to]->transport_closed(id, now_);  // the client left meanwhile
        }
      }
      while (auto f = engine.poll_forward()) {
        busy = true;
        const std::size_t to = f->shard;
        engines_[to]->deliver_forwarded(std::move(*f), now_);
      }
      while (auto out = engine.poll_output()) {
        busy = true;
        ++news_;
        auto it = links_.find(Key{shard, out->id});
        if (it == links_.end() || it->second == nullptr) {
          if (out->close_after) engine.transport_closed(out->id, now_);
          continue;
        }
        if (tamper_) tamper_(it->second->number(), out->bytes);
        it->second->deliver(out->bytes);
        if (out->close_after) it->second->broker_closed();
      }
    }
  }
}

void EngineNetwork::wait(Time until) {
  const std::uint64_t seen = news_;
  while (news_ == seen && now_ < until) {
    std::optional<Time> deadline;
    for (const auto& e : engines_) {
      const auto d = e->next_deadline();
      if (d && (!deadline || *d < *deadline)) deadline = d;
    }
    if (deadline && *deadline <= until) {
      now_ = std::max(now_, *deadline);
      for (const auto& e : engines_)
        e->handle_timeout(now_);
      flush();
    } else {
      now_ = until;
    }
  }
}

}  // namespace assay::conformance
