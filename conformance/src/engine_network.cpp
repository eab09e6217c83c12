#include "assay/conformance/engine_network.hpp"

namespace assay::conformance {

class EngineNetwork::EngineLink : public Link {
 public:
  EngineLink(EngineNetwork& net, std::optional<broker::ConnectionId> id) : net_(net), id_(id) {
    if (id_) {
      net_.links_[*id_] = this;
    } else {
      closed_ = true;  // the engine refused it (connection limit)
    }
  }
  ~EngineLink() override { close(); }

  void write(mqtt::ByteView bytes) override {
    if (closed_ || !id_) return;
    if (net_.inbound_tamper_) {
      mqtt::Bytes copy(bytes.begin(), bytes.end());
      net_.inbound_tamper_(*id_, copy);
      net_.engine_.receive(*id_, copy, net_.now_);
    } else {
      net_.engine_.receive(*id_, bytes, net_.now_);
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
    if (!id_) return;
    const broker::ConnectionId id = *id_;
    id_.reset();
    net_.links_.erase(id);
    if (!closed_) {
      closed_ = true;
      net_.engine_.transport_closed(id, net_.now_);
      net_.flush();
    }
  }

  void deliver(mqtt::Bytes& bytes) { inbox_.insert(inbox_.end(), bytes.begin(), bytes.end()); }
  void broker_closed() {
    closed_ = true;
    if (id_) {
      const broker::ConnectionId id = *id_;
      net_.links_.erase(id);
      id_.reset();
      net_.engine_.transport_closed(id, net_.now_);
    }
  }

 private:
  EngineNetwork& net_;
  std::optional<broker::ConnectionId> id_;
  mqtt::Bytes inbox_;
  bool closed_ = false;
};

EngineNetwork::EngineNetwork(broker::EngineConfig config) : engine_(config, Time{0}) {}

EngineNetwork::~EngineNetwork() = default;

std::unique_ptr<Link> EngineNetwork::connect() {
  auto link = std::make_unique<EngineLink>(*this, engine_.open(now_));
  ++news_;
  return link;
}

void EngineNetwork::flush() {
  // Closing a link can make more output (a will for another connection), so
  // loop until the engine is quiet.
  while (auto out = engine_.poll_output()) {
    ++news_;
    auto it = links_.find(out->id);
    if (it == links_.end() || it->second == nullptr) {
      if (out->close_after) engine_.transport_closed(out->id, now_);
      continue;
    }
    if (tamper_) tamper_(out->id, out->bytes);
    it->second->deliver(out->bytes);
    if (out->close_after) it->second->broker_closed();
  }
}

void EngineNetwork::wait(Time until) {
  const std::uint64_t seen = news_;
  while (news_ == seen && now_ < until) {
    const auto deadline = engine_.next_deadline();
    if (deadline && *deadline <= until) {
      now_ = std::max(now_, *deadline);
      engine_.handle_timeout(now_);
      flush();
    } else {
      now_ = until;
    }
  }
}

}  // namespace assay::conformance
