#include "assay/conformance/simulated_network.hpp"

#include <algorithm>

namespace assay::conformance {

class SimulatedNetwork::SimLink : public Link {
 public:
  SimLink(SimulatedNetwork& net, std::uint64_t number) : net_(net), number_(number) {
    net_.links_[number_] = this;
  }
  ~SimLink() override {
    close();
    net_.links_.erase(number_);
  }

  void write(mqtt::ByteView bytes) override {
    if (!closed_by_us_) net_.send(number_, true, bytes, false);
  }
  bool read(mqtt::Bytes& out) override {
    if (inbox_.empty()) return false;
    out.insert(out.end(), inbox_.begin(), inbox_.end());
    inbox_.clear();
    return true;
  }
  bool peer_closed() const override { return closed_by_broker_ && inbox_.empty(); }
  void close() override {
    if (closed_by_us_) return;
    closed_by_us_ = true;
    net_.send(number_, true, {}, true);  // the FIN follows what was written
  }

  void deliver(const mqtt::Bytes& bytes) {
    inbox_.insert(inbox_.end(), bytes.begin(), bytes.end());
  }
  void broker_closed() { closed_by_broker_ = true; }

 private:
  SimulatedNetwork& net_;
  std::uint64_t number_;
  mqtt::Bytes inbox_;
  bool closed_by_us_ = false;
  bool closed_by_broker_ = false;
};

SimulatedNetwork::SimulatedNetwork(std::uint64_t seed, Profile profile, broker::EngineConfig config,
                                   std::size_t shards)
    : profile_(profile), state_(seed), broker_(std::move(config), shards) {}

SimulatedNetwork::~SimulatedNetwork() = default;

std::string SimulatedNetwork::describe() const {
  return "in-process broker engine over simulated links (latency " +
         std::to_string(profile_.latency.count()) + " ms + up to " +
         std::to_string(profile_.jitter.count()) + " ms, chunks of up to " +
         std::to_string(profile_.max_chunk) + " bytes)";
}

// splitmix64: small, and enough to cut streams and spread delays.
std::uint64_t SimulatedNetwork::random() {
  std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::unique_ptr<Link> SimulatedNetwork::connect() {
  const std::uint64_t number = ++made_;
  auto link = std::make_unique<SimLink>(*this, number);
  // The connection opens at the broker one latency later (its SYN); the
  // harness is told now, since nothing can arrive on it before.
  const auto opened = broker_.open(now_, 0);
  if (!opened) {
    link->broker_closed();  // refused (connection limit)
  } else {
    numbers_[*opened] = number;
  }
  ++news_;
  return link;
}

Time SimulatedNetwork::arrival(std::uint64_t link, bool to_broker) {
  const auto jitter = profile_.jitter.count() > 0
                          ? static_cast<Duration::rep>(
                                random() % static_cast<std::uint64_t>(profile_.jitter.count() + 1))
                          : 0;
  Time t = now_ + profile_.latency + Duration(jitter);
  // In order, across connections too: one path between the cases' host
  // and the broker, so a CONNECT sent after another arrives after it (a
  // client that drops a connection and opens the next does not race
  // itself into a takeover of its new connection by its old one).
  (void)link;
  Time& last = last_[to_broker];
  t = std::max(t, last);
  last = t;
  return t;
}

void SimulatedNetwork::send(std::uint64_t link, bool to_broker, mqtt::ByteView bytes, bool close) {
  std::size_t at = 0;
  while (at < bytes.size()) {
    const std::size_t n =
        std::min(bytes.size() - at, 1 + static_cast<std::size_t>(random() % profile_.max_chunk));
    in_flight_.emplace(arrival(link, to_broker),
                       InFlight{link, to_broker,
                                mqtt::Bytes(bytes.begin() + static_cast<std::ptrdiff_t>(at),
                                            bytes.begin() + static_cast<std::ptrdiff_t>(at + n)),
                                false});
    at += n;
  }
  if (close) in_flight_.emplace(arrival(link, to_broker), InFlight{link, to_broker, {}, true});
}

void SimulatedNetwork::arrive(InFlight& f) {
  ++chunks_;
  if (f.to_broker) {
    for (const auto& [harness_link, number] : numbers_) {
      if (number != f.link) continue;
      const broker::Harness::Link l = harness_link;
      if (f.close) {
        numbers_.erase(l);
        broker_.close(l, now_);
      } else {
        broker_.receive(l, f.bytes, now_);
      }
      break;
    }
    flush();
    return;
  }
  ++news_;
  const auto it = links_.find(f.link);
  if (it == links_.end()) return;
  if (!f.bytes.empty()) it->second->deliver(f.bytes);
  if (f.close) it->second->broker_closed();
}

// What the broker engine wrote goes onto the links back to the clients.
void SimulatedNetwork::flush() {
  while (auto d = broker_.poll(now_)) {
    const auto it = numbers_.find(d->link);
    if (it == numbers_.end()) continue;
    const std::uint64_t number = it->second;
    if (d->close_after) numbers_.erase(it);
    send(number, false, d->bytes, d->close_after);
  }
}

void SimulatedNetwork::wait(Time until) {
  const std::uint64_t seen = news_;
  while (news_ == seen && now_ < until) {
    Time next = until;
    if (!in_flight_.empty()) next = std::min(next, in_flight_.begin()->first);
    const std::optional<Time> deadline = broker_.next_deadline();
    if (deadline) next = std::min(next, *deadline);
    now_ = std::max(now_, next);
    if (deadline && *deadline <= now_) {
      broker_.handle_timeout(now_);
      flush();
    }
    while (!in_flight_.empty() && in_flight_.begin()->first <= now_) {
      auto node = in_flight_.extract(in_flight_.begin());
      arrive(node.mapped());
    }
  }
}

}  // namespace assay::conformance
