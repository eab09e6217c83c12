// Test driver: client engines wired to a broker engine in process, with a
// fake clock. Bytes move at once; a test can take the broker down (opens
// fail), drop a client's connection (both ends see it), cut a connection
// after its next N bytes towards the broker, restart the broker (a new
// engine: every session lost) and move time to the next deadline.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "assay/broker/engine.hpp"
#include "assay/client/engine.hpp"
#include "assay/mqtt/codec.hpp"

namespace assay::client::test {

using namespace assay::mqtt;
using namespace std::chrono_literals;

struct Node {
  std::unique_ptr<Engine> engine;
  std::optional<broker::ConnectionId> conn;  // on the broker
  bool opening = false;                      // OpenTransport not answered yet
  std::vector<Event> events;
  std::vector<Bytes> sent;  // every chunk written towards the broker
  // Cut the connection once this many more bytes have gone to the broker
  // (the rest of that chunk is lost with it).
  std::optional<std::size_t> cut_after;
  // The same for bytes from the broker.
  std::optional<std::size_t> cut_in_after;
  // Cut the connection instead of delivering a chunk, towards the broker or
  // from it, when the predicate says so (it is cleared once it fires).
  std::function<bool(const Bytes&)> cut_before_sending;
  std::function<bool(const Bytes&)> cut_before_receiving;

  template <class E>
  std::vector<E> all() const {
    std::vector<E> out;
    for (const auto& e : events) {
      if (const auto* x = std::get_if<E>(&e)) out.push_back(*x);
    }
    return out;
  }
  std::vector<std::string> payloads() const {
    std::vector<std::string> out;
    for (const auto& m : all<event::Message>())
      out.emplace_back(m.message.payload.as_chars());
    return out;
  }
  std::size_t count_done(Outcome o) const {
    std::size_t n = 0;
    for (const auto& d : all<event::PublishDone>())
      n += d.outcome == o ? 1 : 0;
    return n;
  }
};

// A random source that repeats `values` (then the last one forever).
inline Random sequence(std::vector<std::uint64_t> values) {
  auto state =
      std::make_shared<std::pair<std::vector<std::uint64_t>, std::size_t>>(std::move(values), 0);
  return [state] {
    auto& [v, i] = *state;
    const std::uint64_t x = v[std::min(i, v.size() - 1)];
    ++i;
    return x;
  };
}

class World {
 public:
  explicit World(broker::EngineConfig config = {}) : broker_config_(std::move(config)) {
    broker_ = std::make_unique<broker::Engine>(broker_config_, now);
  }

  Time now{0};
  bool broker_up = true;
  std::vector<std::unique_ptr<Node>> nodes;
  broker::Engine& broker() { return *broker_; }

  static ClientConfig config(std::string id, Version v = Version::v5, bool clean = true,
                             std::uint32_t expiry = 0) {
    ClientConfig c;
    c.connect.version = v;
    c.connect.client_id = std::move(id);
    c.connect.clean_start = clean;
    if (v == Version::v5 && expiry > 0) {
      c.connect.properties.add(PropertyId::session_expiry_interval, expiry);
    }
    c.reconnect.initial = 100ms;
    c.reconnect.maximum = 2s;
    return c;
  }

  Node& add(ClientConfig c, Random r = sequence({0})) {
    auto n = std::make_unique<Node>();
    n->engine = std::make_unique<Engine>(std::move(c), std::move(r), now);
    nodes.push_back(std::move(n));
    return *nodes.back();
  }
  Node& start(ClientConfig c, Random r = sequence({0})) {
    Node& n = add(std::move(c), std::move(r));
    n.engine->start(now);
    pump();
    return n;
  }

  // Moves everything that can move at `now`.
  void pump() {
    for (int rounds = 0; rounds < 10000; ++rounds) {
      bool moved = false;
      for (auto& n : nodes)
        moved = step(*n) || moved;
      while (auto out = broker_->poll_output()) {
        moved = true;
        Node* n = by_conn(out->id);
        if (n != nullptr && !out->bytes.empty() && n->cut_before_receiving &&
            n->cut_before_receiving(out->bytes)) {
          n->cut_before_receiving = nullptr;
          cut(*n);
          continue;
        }
        if (n != nullptr && !out->bytes.empty() && n->cut_in_after) {
          const std::size_t keep = std::min(*n->cut_in_after, out->bytes.size());
          *n->cut_in_after -= keep;
          if (keep > 0) n->engine->receive(ByteView(out->bytes.data(), keep), now);
          if (*n->cut_in_after == 0) {
            n->cut_in_after.reset();
            cut(*n);
          }
          continue;
        }
        if (n != nullptr && !out->bytes.empty()) n->engine->receive(out->bytes, now);
        if (out->close_after) {
          broker_->transport_closed(out->id, now);
          if (n != nullptr) {
            n->conn.reset();
            n->engine->transport_closed(now);
          }
        }
      }
      if (!moved) return;
    }
    FAIL() << "the world did not settle";
  }

  // Both ends see the network connection end.
  void drop(Node& n) {
    cut(n);
    pump();
  }
  void cut(Node& n) {
    if (!n.conn) return;
    broker_->transport_closed(*n.conn, now);
    n.conn.reset();
    n.engine->transport_closed(now);
  }

  // The client process dies (the broker sees its connection end) and a new
  // one starts from `c` (its store, if any) and connects.
  void restart(Node& n, ClientConfig c, Random r = sequence({0})) {
    cut(n);
    n.opening = false;
    n.engine = std::make_unique<Engine>(std::move(c), std::move(r), now);
    n.events.clear();
    n.engine->start(now);
    pump();
  }

  // A broker crash and restart without persistence: every session is gone.
  void restart_broker() {
    for (auto& n : nodes) {
      if (n->conn) {
        n->conn.reset();
        n->engine->transport_closed(now);
      }
    }
    broker_ = std::make_unique<broker::Engine>(broker_config_, now);
    pump();
  }

  std::optional<Time> next_deadline() {
    std::optional<Time> next = broker_->next_deadline();
    for (auto& n : nodes) {
      const auto d = n->engine->next_deadline();
      if (d && (!next || *d < *next)) next = d;
    }
    return next;
  }

  // Advances the clock deadline by deadline up to `until`, handling each.
  void run_until(Time until) {
    for (int i = 0; i < 100000; ++i) {
      const auto d = next_deadline();
      if (!d || *d > until) break;
      now = std::max(now, *d);
      broker_->handle_timeout(now);
      for (auto& n : nodes)
        n->engine->handle_timeout(now);
      pump();
    }
    now = std::max(now, until);
    broker_->handle_timeout(now);
    for (auto& n : nodes)
      n->engine->handle_timeout(now);
    pump();
  }
  void run_for(Duration d) { run_until(now + d); }

 private:
  Node* by_conn(broker::ConnectionId id) {
    for (auto& n : nodes) {
      if (n->conn == id) return n.get();
    }
    return nullptr;
  }

  bool step(Node& n) {
    bool moved = false;
    while (auto e = n.engine->poll_event()) {
      moved = true;
      if (std::holds_alternative<event::OpenTransport>(*e)) {
        n.opening = true;
      } else if (std::holds_alternative<event::CloseTransport>(*e)) {
        n.opening = false;
        flush(n);
        if (n.conn) {
          broker_->transport_closed(*n.conn, now);
          n.conn.reset();
          n.engine->transport_closed(now);
        }
      }
      n.events.push_back(std::move(*e));
    }
    if (n.opening) {
      n.opening = false;
      moved = true;
      if (broker_up) {
        n.conn = broker_->open(now);
        n.engine->transport_opened(now);
      } else {
        n.engine->transport_failed(now, "connection refused");
      }
    }
    return flush(n) || moved;
  }

  bool flush(Node& n) {
    Bytes out;
    if (!n.engine->poll_transmit(out) || out.empty()) return false;
    if (!n.conn) return true;  // nothing open to write to
    if (n.cut_before_sending && n.cut_before_sending(out)) {
      n.cut_before_sending = nullptr;
      cut(n);
      return true;
    }
    if (n.cut_after) {
      const std::size_t keep = std::min(*n.cut_after, out.size());
      *n.cut_after -= keep;
      if (keep > 0) {
        out.resize(keep);
        n.sent.push_back(out);
        broker_->receive(*n.conn, out, now);
      }
      if (*n.cut_after == 0) {
        n.cut_after.reset();
        cut(n);
      }
      return true;
    }
    n.sent.push_back(out);
    broker_->receive(*n.conn, out, now);
    return true;
  }

  broker::EngineConfig broker_config_;
  std::unique_ptr<broker::Engine> broker_;
};

// Every packet in `chunks` (a client's bytes towards the broker), decoded.
inline std::vector<Packet> decode_all(const std::vector<Bytes>& chunks, Version v) {
  std::vector<Packet> out;
  StreamDecoder d(v);
  for (const Bytes& c : chunks)
    d.feed(c);
  for (;;) {
    DecodeResult r = d.next();
    auto* p = std::get_if<Decoded>(&r);
    if (p == nullptr) break;
    out.push_back(std::move(p->packet));
  }
  return out;
}

}  // namespace assay::client::test
