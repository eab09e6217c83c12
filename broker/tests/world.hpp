// Test driver for the broker engine: real client Connections wired to the
// engine in process, zero latency, with a fake clock. With shards > 1 it
// runs that many engines as one broker (handoffs and forwarded messages
// delivered at once, a lock that checks it is never taken twice).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <stdexcept>
#include <vector>

#include "assay/broker/checking_lock.hpp"
#include "assay/broker/engine.hpp"

namespace assay::broker::test {

using namespace assay::mqtt;
using namespace std::chrono_literals;

struct Client {
  std::unique_ptr<Connection> conn;
  ConnectionId id = 0;
  std::size_t shard = 0;  // the engine serving it
  std::vector<Event> events;
  bool closed = false;

  std::vector<Publish> messages() const {
    std::vector<Publish> out;
    for (const auto& e : events) {
      if (const auto* m = std::get_if<event::MessageReceived>(&e)) out.push_back(m->message);
    }
    return out;
  }
  template <class E>
  std::vector<E> all() const {
    std::vector<E> out;
    for (const auto& e : events) {
      if (const auto* x = std::get_if<E>(&e)) out.push_back(*x);
    }
    return out;
  }
};

inline std::vector<std::string> payloads(const Client& c) {
  std::vector<std::string> out;
  for (const auto& m : c.messages())
    out.emplace_back(m.payload.as_chars());
  return out;
}

class World {
 public:
  explicit World(EngineConfig config = {}, std::size_t shards = 1)
      : engines(make(config, shards, lock)), engine(*engines[0]) {}

  CheckingLock lock;
  std::vector<std::unique_ptr<Engine>> engines;
  Engine& engine;  // the first
  Time now{0};
  std::vector<std::unique_ptr<Client>> clients;
  std::size_t handoffs = 0;
  std::size_t forwards = 0;
  // With drain_before_takeover: called before the parked CONNECT resumes
  // (a test delivers what the old connection still had to say).
  std::function<void(const Engine::Drain&)> on_drain;

  static std::vector<std::unique_ptr<Engine>> make(const EngineConfig& config, std::size_t n,
                                                   CheckingLock& lock) {
    std::vector<std::unique_ptr<Engine>> out;
    Sharding sharding;
    sharding.count = n;
    sharding.routing = make_routing();
    sharding.lock = n > 1 ? &lock : nullptr;
    for (std::size_t i = 0; i < n; ++i) {
      sharding.index = i;
      EngineConfig c = config;
      if (i > 0) c.sys_interval = Duration{0};
      out.push_back(std::make_unique<Engine>(c, Time{0}, sharding));
    }
    return out;
  }

  // A client whose network connection is accepted by engine `shard`.
  Client& connect(Connect c, Session session = {}, std::size_t shard = 0) {
    auto client = std::make_unique<Client>();
    ConnectionOptions o;
    o.role = Role::client;
    client->conn = std::make_unique<Connection>(o, now);
    client->shard = shard;
    client->id = *engines[shard]->open(now);
    client->conn->connect(std::move(c), std::move(session), now);
    clients.push_back(std::move(client));
    pump();
    return *clients.back();
  }

  static Connect make_connect(std::string id, Version v = Version::v5, bool clean = true,
                              std::uint32_t expiry = 0) {
    Connect c;
    c.version = v;
    c.client_id = std::move(id);
    c.clean_start = clean;
    if (v == Version::v5 && expiry > 0) {
      c.properties.add(PropertyId::session_expiry_interval, expiry);
    }
    return c;
  }

  void subscribe(Client& c, std::string filter, QoS qos, SubscribeOptions o = {},
                 std::optional<std::uint32_t> id = {}) {
    o.qos = qos;
    Subscribe s;
    s.subscriptions.push_back({std::move(filter), o});
    if (id) s.properties.add(PropertyId::subscription_identifier, *id);
    c.conn->subscribe(std::move(s), now);
    pump();
  }

  void publish(Client& c, std::string topic, QoS qos, std::string payload = "x",
               bool retain = false) {
    Publish p;
    p.topic = std::move(topic);
    p.qos = qos;
    p.retain = retain;
    p.payload = SharedBytes(std::string_view(payload));
    c.conn->publish(std::move(p), now);
    pump();
  }

  // A PUBLISH from `c` that reaches its engine; nothing else moves (what the
  // engine sends stays unread until the next pump()).
  void publish_unpumped(Client& c, std::string topic, QoS qos, std::string payload) {
    Publish p;
    p.topic = std::move(topic);
    p.qos = qos;
    p.payload = SharedBytes(std::string_view(payload));
    c.conn->publish(std::move(p), now);
    Bytes bytes;
    c.conn->poll_transmit(bytes);
    engines[c.shard]->receive(c.id, bytes, now);
  }

  // The network of `c` fails (no DISCONNECT).
  void drop(Client& c) {
    c.conn->transport_closed(now);
    engines[c.shard]->transport_closed(c.id, now);
    c.closed = true;
    pump();
  }

  void advance(Duration d) {
    const Time end = now + d;
    for (;;) {
      std::optional<Time> next;
      for (auto& e : engines) {
        if (auto t = e->next_deadline(); t && (!next || *t < *next)) next = t;
      }
      for (auto& c : clients) {
        if (c->closed) continue;
        if (auto t = c->conn->next_deadline(); t && (!next || *t < *next)) next = t;
      }
      if (!next || *next > end) break;
      now = std::max(now, *next);
      for (auto& e : engines)
        e->handle_timeout(now);
      for (auto& c : clients) {
        if (!c->closed) c->conn->handle_timeout(now);
      }
      pump();
    }
    now = end;
    pump();
  }

  void pump() {
    for (int round = 0; round < 10'000; ++round) {
      bool moved = false;
      for (auto& c : clients) {
        if (c->closed) continue;
        bool closing = false;
        while (auto e = c->conn->poll_event()) {
          moved = true;
          if (std::holds_alternative<event::CloseRequested>(*e)) closing = true;
          c->events.push_back(std::move(*e));
        }
        Bytes out;
        if (c->conn->poll_transmit(out)) {
          moved = true;
          engines[c->shard]->receive(c->id, out, now);
        }
        if (closing) {
          c->conn->transport_closed(now);
          engines[c->shard]->transport_closed(c->id, now);
          while (auto e = c->conn->poll_event())
            c->events.push_back(std::move(*e));
          c->closed = true;
        }
      }
      for (std::size_t s = 0; s < engines.size(); ++s) {
        while (auto d = engines[s]->poll_drain()) {
          moved = true;
          if (on_drain) on_drain(*d);
          engines[s]->resume(d->waiting, now);
        }
        while (auto h = engines[s]->poll_handoff()) {
          moved = true;
          ++handoffs;
          const std::size_t to = h->shard;
          const ConnectionId from = h->id;
          const ConnectionId id = engines[to]->adopt(std::move(*h), now);
          for (auto& c : clients) {
            if (c->shard == s && c->id == from && !c->closed) {
              c->shard = to;
              c->id = id;
            }
          }
        }
        while (auto f = engines[s]->poll_forward()) {
          moved = true;
          ++forwards;
          const std::size_t to = f->shard;
          engines[to]->deliver_forwarded(std::move(*f), now);
        }
      }
      for (std::size_t s = 0; s < engines.size(); ++s) {
        while (auto out = engines[s]->poll_output()) {
          moved = true;
          deliver(s, *out);
        }
      }
      if (!moved) return;
    }
    ADD_FAILURE() << "World::pump did not settle";
  }

 private:
  void deliver(std::size_t shard, const Engine::Output& out) {
    for (auto& c : clients) {
      if (c->shard != shard || c->id != out.id || c->closed) continue;
      c->conn->receive(out.bytes, now);
      if (out.close_after) {
        while (auto e = c->conn->poll_event())
          c->events.push_back(std::move(*e));
        c->conn->transport_closed(now);
        while (auto e = c->conn->poll_event())
          c->events.push_back(std::move(*e));
        engines[shard]->transport_closed(c->id, now);
        c->closed = true;
      }
    }
  }
};

}  // namespace assay::broker::test
