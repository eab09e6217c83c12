// Test driver for the broker engine: real client Connections wired to the
// in-process Harness (assay/broker/harness.hpp), zero latency, with a fake
// clock. With shards > 1 the harness runs that many engines as one broker.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <vector>

#include "assay/broker/harness.hpp"

namespace assay::broker::test {

using namespace assay::mqtt;
using namespace std::chrono_literals;

struct Client {
  std::unique_ptr<Connection> conn;
  Harness::Link link = 0;
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
      : broker(std::move(config), shards), engine(broker.engine(0)) {}

  Harness broker;
  Engine& engine;  // the first
  Time now{0};
  std::vector<std::unique_ptr<Client>> clients;

  // The engine serving `c`, and its connection id there.
  std::size_t shard_of(const Client& c) const { return broker.shard_of(c.link); }
  ConnectionId id_of(const Client& c) const { return broker.id_of(c.link); }

  // A client whose network connection is accepted by engine `shard`.
  Client& connect(Connect c, Session session = {}, std::size_t shard = 0) {
    auto client = std::make_unique<Client>();
    ConnectionOptions o;
    o.role = Role::client;
    client->conn = std::make_unique<Connection>(o, now);
    client->link = *broker.open(now, shard);
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
    broker.receive(c.link, bytes, now);
  }

  // The network of `c` fails (no DISCONNECT).
  void drop(Client& c) {
    c.conn->transport_closed(now);
    broker.close(c.link, now);
    c.closed = true;
    pump();
  }

  void advance(Duration d) {
    const Time end = now + d;
    for (;;) {
      std::optional<Time> next = broker.next_deadline();
      for (auto& c : clients) {
        if (c->closed) continue;
        if (auto t = c->conn->next_deadline(); t && (!next || *t < *next)) next = t;
      }
      if (!next || *next > end) break;
      now = std::max(now, *next);
      broker.handle_timeout(now);
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
          broker.receive(c->link, out, now);
        }
        if (closing) {
          c->conn->transport_closed(now);
          broker.close(c->link, now);
          while (auto e = c->conn->poll_event())
            c->events.push_back(std::move(*e));
          c->closed = true;
        }
      }
      while (auto d = broker.poll(now)) {
        moved = true;
        deliver(*d);
      }
      if (!moved) return;
    }
    ADD_FAILURE() << "World::pump did not settle";
  }

 private:
  void deliver(const Harness::Delivery& d) {
    for (auto& c : clients) {
      if (c->link != d.link || c->closed) continue;
      c->conn->receive(d.bytes, now);
      if (d.close_after) {  // the broker closed it: the harness told its engine
        while (auto e = c->conn->poll_event())
          c->events.push_back(std::move(*e));
        c->conn->transport_closed(now);
        while (auto e = c->conn->poll_event())
          c->events.push_back(std::move(*e));
        c->closed = true;
      }
    }
  }
};

}  // namespace assay::broker::test
