#include "assay/conformance/engine_network.hpp"

namespace assay::conformance {

class EngineNetwork::EngineLink : public Link {
 public:
  EngineLink(EngineNetwork& net, std::optional<broker::Harness::Link> link)
      : net_(net), number_(++net.made_), link_(link) {
    if (link_) {
      net_.links_[*link_] = this;
    } else {
      closed_ = true;  // the engine refused it (connection limit)
    }
  }
  ~EngineLink() override { close(); }

  void write(mqtt::ByteView bytes) override {
    if (closed_ || !link_) return;
    if (net_.inbound_tamper_) {
      mqtt::Bytes copy(bytes.begin(), bytes.end());
      net_.inbound_tamper_(number_, copy);
      net_.broker_.receive(*link_, copy, net_.now_);
    } else {
      net_.broker_.receive(*link_, bytes, net_.now_);
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
    if (!link_) return;
    const broker::Harness::Link link = *link_;
    link_.reset();
    net_.links_.erase(link);
    if (!closed_) {
      closed_ = true;
      net_.broker_.close(link, net_.now_);
      net_.flush();
    }
  }

  std::uint64_t number() const { return number_; }
  void deliver(mqtt::Bytes& bytes) { inbox_.insert(inbox_.end(), bytes.begin(), bytes.end()); }
  // The broker closed the connection after its last bytes (the harness has
  // told its engine).
  void broker_closed() {
    closed_ = true;
    if (link_) net_.links_.erase(*link_);
    link_.reset();
  }

 private:
  EngineNetwork& net_;
  std::uint64_t number_;
  std::optional<broker::Harness::Link> link_;
  mqtt::Bytes inbox_;
  bool closed_ = false;
};

EngineNetwork::EngineNetwork(broker::EngineConfig config, std::size_t shards)
    : broker_(std::move(config), shards) {}

EngineNetwork::~EngineNetwork() = default;

std::string EngineNetwork::describe() const {
  if (broker_.shards() == 1) return "in-process broker engine";
  return "in-process broker engine, " + std::to_string(broker_.shards()) + " shards";
}

std::unique_ptr<Link> EngineNetwork::connect() {
  // New connections start on the first shard; the others get theirs by
  // handoff, as after a round-robin accept that picked the wrong one.
  auto link = std::make_unique<EngineLink>(*this, broker_.open(now_, 0));
  ++news_;
  return link;
}

void EngineNetwork::flush() {
  while (auto d = broker_.poll(now_)) {
    ++news_;
    const auto it = links_.find(d->link);
    if (it == links_.end()) continue;
    if (tamper_) tamper_(it->second->number(), d->bytes);
    it->second->deliver(d->bytes);
    if (d->close_after) it->second->broker_closed();
  }
}

void EngineNetwork::wait(Time until) {
  const std::uint64_t seen = news_;
  while (news_ == seen && now_ < until) {
    const std::optional<Time> deadline = broker_.next_deadline();
    if (deadline && *deadline <= until) {
      now_ = std::max(now_, *deadline);
      broker_.handle_timeout(now_);
      flush();
    } else {
      now_ = until;
    }
  }
}

}  // namespace assay::conformance
