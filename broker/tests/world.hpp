// Test driver for the broker engine: real client Connections wired to the
// engine in process, zero latency, with a fake clock.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "assay/broker/engine.hpp"

namespace assay::broker::test {

using namespace assay::mqtt;
using namespace std::chrono_literals;

struct Client {
  std::unique_ptr<Connection> conn;
  ConnectionId id = 0;
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

class World {
 public:
  explicit World(EngineConfig config = {}) : engine(config, Time{0}) {}

  Engine engine;
  Time now{0};
  std::vector<std::unique_ptr<Client>> clients;

  Client& connect(Connect c, Session session = {}) {
    auto client = std::make_unique<Client>();
    ConnectionOptions o;
    o.role = Role::client;
    client->conn = std::make_unique<Connection>(o, now);
    client->id = *engine.open(now);
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

  // The network of `c` fails (no DISCONNECT).
  void drop(Client& c) {
    c.conn->transport_closed(now);
    engine.transport_closed(c.id, now);
    c.closed = true;
    pump();
  }

  void advance(Duration d) {
    const Time end = now + d;
    for (;;) {
      std::optional<Time> next = engine.next_deadline();
      for (auto& c : clients) {
        if (c->closed) continue;
        if (auto t = c->conn->next_deadline(); t && (!next || *t < *next)) next = t;
      }
      if (!next || *next > end) break;
      now = std::max(now, *next);
      engine.handle_timeout(now);
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
          engine.receive(c->id, out, now);
        }
        if (closing) {
          c->conn->transport_closed(now);
          engine.transport_closed(c->id, now);
          while (auto e = c->conn->poll_event())
            c->events.push_back(std::move(*e));
          c->closed = true;
        }
      }
      while (auto out = engine.poll_output()) {
        moved = true;
        for (auto& c : clients) {
          if (c->id != out->id || c->closed) continue;
          c->conn->receive(out->bytes, now);
          if (out->close_after) {
            while (auto e = c->conn->poll_event())
              c->events.push_back(std::move(*e));
            c->conn->transport_closed(now);
            while (auto e = c->conn->poll_event())
              c->events.push_back(std::move(*e));
            engine.transport_closed(c->id, now);
            c->closed = true;
          }
        }
      }
      if (!moved) return;
    }
    ADD_FAILURE() << "World::pump did not settle";
  }
};

}  // namespace assay::broker::test
