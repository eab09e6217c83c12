// Reconnection: the backoff schedule and its jitter from the injected
// source, the reset after a stable connection, refusals that waiting cannot
// cure, Server References, and stopping.
#include <functional>

#include "world.hpp"

namespace assay::client::test {
namespace {

// Runs failed attempts against a broker that is down and returns the delay
// each ConnectionLost announced, measured from the failure.
std::vector<Duration> failed_attempt_delays(World& w, Node& n, std::size_t attempts) {
  std::vector<Duration> out;
  w.broker_up = false;
  n.engine->start(w.now);
  w.pump();
  for (std::size_t i = 0; i < attempts; ++i) {
    const auto lost = n.all<event::ConnectionLost>();
    EXPECT_EQ(lost.size(), i + 1);
    EXPECT_EQ(lost.back().cause, Cause::unreachable);
    EXPECT_TRUE(lost.back().retry_at.has_value());
    out.push_back(*lost.back().retry_at - w.now);
    // Exactly the retry, even when it is due at once.
    w.now = *lost.back().retry_at;
    n.engine->handle_timeout(w.now);
    w.pump();
  }
  return out;
}

TEST(Reconnect, CeilingDoublesFromInitialToMaximum) {
  World w;
  ClientConfig c = World::config("c");
  c.reconnect.initial = 100ms;
  c.reconnect.maximum = 1s;
  // The source's largest value: each delay is at its ceiling.
  Node& n = w.add(c, sequence({~std::uint64_t{0}}));
  // ~0 % (top + 1) is top only when top + 1 divides 2^64: use the ceiling
  // check below instead of exact values.
  const auto got = failed_attempt_delays(w, n, 6);
  const std::vector<Duration> ceilings{100ms, 200ms, 400ms, 800ms, 1000ms, 1000ms};
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_LE(got[i], ceilings[i]) << "attempt " << i + 1;
    EXPECT_GE(got[i], Duration{0});
  }
}

// Full jitter: the delay is the random value modulo (ceiling + 1), so the
// source decides it exactly.
TEST(Reconnect, JitterComesFromTheInjectedSource) {
  World w;
  ClientConfig c = World::config("c");
  c.reconnect.initial = 100ms;
  c.reconnect.maximum = 1s;
  Node& n = w.add(c, sequence({50, 201 + 150, 0, 12345}));
  const auto got = failed_attempt_delays(w, n, 4);
  // Ceilings 100, 200, 400, 800 ms: 50 % 101, 351 % 201, 0 % 401, 12345 % 801.
  EXPECT_EQ(got, (std::vector<Duration>{50ms, 150ms, 0ms, 330ms}));
}

TEST(Reconnect, SameSeedSameScheduleAcrossEngines) {
  auto run = [](std::uint64_t seed) {
    World w;
    std::uint64_t state = seed;
    Random splitmix = [state]() mutable {
      std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      return z ^ (z >> 31);
    };
    Node& n = w.add(World::config("c"), splitmix);
    return failed_attempt_delays(w, n, 8);
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
}

// A connection that is accepted and dropped at once does not reset the
// count: the ceiling keeps growing. One that stayed up past stable_after
// does.
TEST(Reconnect, CountResetsOnlyAfterAStableConnection) {
  World w;
  ClientConfig c = World::config("c");
  c.reconnect.initial = 100ms;
  c.reconnect.maximum = 10s;
  c.reconnect.stable_after = 30s;
  Node& n = w.start(c, sequence({~std::uint64_t{0} - 1}));
  for (std::uint64_t attempt = 1; attempt <= 4; ++attempt) {
    ASSERT_TRUE(n.engine->connected());
    w.drop(n);  // at once
    const auto lost = n.all<event::ConnectionLost>().back();
    ASSERT_TRUE(lost.retry_at);
    const auto opens = n.all<event::OpenTransport>();
    w.run_until(*lost.retry_at);
    EXPECT_EQ(n.all<event::OpenTransport>().back().attempt, attempt + 1);
    EXPECT_EQ(n.all<event::OpenTransport>().size(), opens.size() + 1);
  }
  ASSERT_TRUE(n.engine->connected());
  w.run_for(31s);  // stable
  w.drop(n);
  w.run_until(*n.all<event::ConnectionLost>().back().retry_at);
  EXPECT_EQ(n.all<event::OpenTransport>().back().attempt, 1u);
  EXPECT_EQ(n.all<event::ConnectionLost>().size(), 5u);
}

// Bad credentials (0x86): no fast retry; the wait is at least
// after_refusal. With after_refusal 0 the engine stops.
TEST(Reconnect, ARefusalThatWaitingCannotCureIsNotRetriedFast) {
  struct Deny : broker::Authenticator {
    ReasonCode authenticate(const Connect&, const broker::ConnectContext&) override {
      return ReasonCode::bad_user_name_or_password;
    }
  };
  for (const Version v : {Version::v5, Version::v3_1_1}) {
    broker::EngineConfig bc;
    bc.authenticator = std::make_shared<Deny>();
    World w(bc);
    ClientConfig c = World::config("c", v);
    c.reconnect.after_refusal = 45s;
    Node& n = w.start(c);
    auto lost = n.all<event::ConnectionLost>();
    ASSERT_EQ(lost.size(), 1u);
    EXPECT_EQ(lost[0].cause, Cause::refused);
    EXPECT_EQ(lost[0].reason_code, ReasonCode::bad_user_name_or_password);  // 3.1.1: code 4
    ASSERT_TRUE(lost[0].retry_at);
    EXPECT_GE(*lost[0].retry_at - w.now, 45s);

    World w2(bc);
    c.reconnect.after_refusal = Duration{0};
    Node& m = w2.start(c);
    const auto stopped = m.all<event::Stopped>();
    ASSERT_EQ(stopped.size(), 1u);
    EXPECT_EQ(stopped[0].cause, Cause::refused);
    EXPECT_EQ(stopped[0].reason_code, ReasonCode::bad_user_name_or_password);
    EXPECT_EQ(m.engine->state(), Engine::State::stopped);
    EXPECT_FALSE(m.engine->next_deadline().has_value());
  }
}

// A busy server (0x89) is transient: the normal backoff applies.
TEST(Reconnect, ATransientRefusalUsesTheNormalBackoff) {
  struct Busy : broker::Authenticator {
    ReasonCode authenticate(const Connect&, const broker::ConnectContext&) override {
      return ReasonCode::server_busy;
    }
  };
  broker::EngineConfig bc;
  bc.authenticator = std::make_shared<Busy>();
  World w(bc);
  ClientConfig c = World::config("c");
  c.reconnect.initial = 100ms;
  Node& n = w.start(c, sequence({~std::uint64_t{0}}));
  const auto lost = n.all<event::ConnectionLost>();
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0].reason_code, ReasonCode::server_busy);
  EXPECT_LE(*lost[0].retry_at - w.now, 100ms);
}

TEST(Reconnect, StopsAfterMaxAttempts) {
  World w;
  ClientConfig c = World::config("c");
  c.reconnect.max_attempts = 3;
  Node& n = w.add(c);
  w.broker_up = false;
  n.engine->start(w.now);
  w.pump();
  w.run_for(60s);
  EXPECT_EQ(n.all<event::OpenTransport>().size(), 3u);
  EXPECT_EQ(n.all<event::Stopped>().size(), 1u);
  EXPECT_EQ(n.all<event::Stopped>()[0].cause, Cause::unreachable);
}

TEST(Reconnect, DisabledMeansOneAttempt) {
  World w;
  ClientConfig c = World::config("c");
  c.reconnect.enabled = false;
  Node& n = w.start(c);
  w.drop(n);
  w.run_for(60s);
  EXPECT_EQ(n.all<event::OpenTransport>().size(), 1u);
  ASSERT_EQ(n.all<event::Stopped>().size(), 1u);
  EXPECT_EQ(n.all<event::Stopped>()[0].cause, Cause::transport_closed);
}

TEST(Reconnect, ServersAreTriedInTurn) {
  World w;
  ClientConfig c = World::config("c");
  c.servers = {Server{"a", 1}, Server{"b", 2}};
  Node& n = w.add(c);
  w.broker_up = false;
  n.engine->start(w.now);
  w.pump();
  w.run_for(10s);
  const auto opens = n.all<event::OpenTransport>();
  ASSERT_GE(opens.size(), 3u);
  EXPECT_EQ(opens[0].server, (Server{"a", 1}));
  EXPECT_EQ(opens[1].server, (Server{"b", 2}));
  EXPECT_EQ(opens[2].server, (Server{"a", 1}));
}

TEST(Reconnect, DisconnectStopsForGood) {
  World w;
  Node& n = w.start(World::config("c"));
  n.engine->disconnect(w.now);
  w.pump();
  ASSERT_EQ(n.all<event::Stopped>().size(), 1u);
  EXPECT_EQ(n.all<event::Stopped>()[0].cause, Cause::local);
  EXPECT_EQ(n.engine->state(), Engine::State::stopped);
  w.run_for(120s);
  EXPECT_EQ(n.all<event::OpenTransport>().size(), 1u);
  EXPECT_EQ(w.broker().stats().connections, 0u);
}

TEST(Reconnect, DisconnectWhileWaitingStopsAtOnce) {
  World w;
  Node& n = w.add(World::config("c"));
  w.broker_up = false;
  n.engine->start(w.now);
  w.pump();
  ASSERT_EQ(n.engine->state(), Engine::State::waiting);
  n.engine->disconnect(w.now);
  EXPECT_EQ(n.engine->state(), Engine::State::stopped);
  EXPECT_FALSE(n.engine->next_deadline());
}

// A transport that neither opens nor fails is abandoned at connect_timeout.
TEST(Reconnect, AnOpenThatHangsIsAbandoned) {
  ClientConfig c = World::config("c");
  c.connect_timeout = 3s;
  Engine e(c, sequence({0}), Time{0});
  e.start(Time{0});
  ASSERT_TRUE(std::holds_alternative<event::OpenTransport>(*e.poll_event()));
  EXPECT_EQ(e.next_deadline(), Time{3000});
  e.handle_timeout(Time{3000});
  ASSERT_TRUE(std::holds_alternative<event::CloseTransport>(*e.poll_event()));
  const auto lost = e.poll_event();
  ASSERT_TRUE(lost && std::holds_alternative<event::ConnectionLost>(*lost));
  EXPECT_EQ(std::get<event::ConnectionLost>(*lost).cause, Cause::unreachable);
  // A late answer for the abandoned transport changes nothing.
  e.transport_opened(Time{3001});
  EXPECT_EQ(e.state(), Engine::State::waiting);
}

// A server-role Connection answering the engine by hand, for what the
// broker engine never sends.
struct HandServer {
  Engine& client;
  Time now{0};
  std::unique_ptr<Connection> conn;
  std::vector<Server> opened;

  // Runs the engine's side until it waits; answers each CONNECT with `answer`.
  void run(const std::function<void(Connection&, const Connect&)>& answer) {
    for (int i = 0; i < 100; ++i) {
      bool moved = false;
      while (auto e = client.poll_event()) {
        moved = true;
        if (auto* o = std::get_if<event::OpenTransport>(&*e)) {
          opened.push_back(o->server);
          conn = std::make_unique<Connection>(ConnectionOptions{.role = Role::server}, now);
          client.transport_opened(now);
        } else if (std::holds_alternative<event::CloseTransport>(*e)) {
          conn.reset();
          client.transport_closed(now);
        }
      }
      Bytes out;
      if (conn && client.poll_transmit(out)) {
        moved = true;
        conn->receive(out, now);
        while (auto e = conn->poll_event()) {
          if (auto* c = std::get_if<mqtt::event::ConnectReceived>(&*e)) answer(*conn, c->connect);
        }
        Bytes back;
        if (conn->poll_transmit(back)) client.receive(back, now);
      }
      if (!moved) return;
    }
  }
};

// 0x9C Use another server / 0x9D Server moved with a Server Reference: the
// next attempt goes there at once; a second reference in a row waits.
TEST(ServerReference, IsFollowedAtOnceButNotInALoop) {
  for (const ReasonCode rc : {ReasonCode::use_another_server, ReasonCode::server_moved}) {
    ClientConfig c = World::config("c");
    c.servers = {Server{"first", 1883}};
    c.reconnect.initial = 1s;
    Engine e(c, sequence({~std::uint64_t{0} - 1}), Time{0});
    HandServer s{e, Time{0}, nullptr, {}};
    e.start(s.now);
    const auto redirect = [&](Connection& conn, const Connect&) {
      Connack refusal;
      refusal.reason_code = rc;
      refusal.properties.add(PropertyId::server_reference, std::string("second:1884"));
      conn.reject(refusal, s.now);
    };
    s.run(redirect);
    ASSERT_EQ(s.opened.size(), 1u);
    ASSERT_EQ(e.next_deadline(), s.now);  // at once
    e.handle_timeout(s.now);
    s.run(redirect);
    ASSERT_EQ(s.opened.size(), 2u);
    EXPECT_EQ(s.opened[1], (Server{"second", 1884}));
    // Referred again: now the backoff applies.
    ASSERT_TRUE(e.next_deadline());
    EXPECT_GT(*e.next_deadline(), s.now);
    s.now = *e.next_deadline();
    e.handle_timeout(s.now);
    s.run([&](Connection& conn, const Connect&) { conn.accept(Connack{}, Session("c"), s.now); });
    ASSERT_EQ(s.opened.size(), 3u);
    EXPECT_EQ(s.opened[2], (Server{"second", 1884}));
    EXPECT_TRUE(e.connected());
    // 0x9C named a server for those attempts only; 0x9D replaced the first.
    e.transport_closed(s.now);
    s.run({});
    s.now = *e.next_deadline();
    e.handle_timeout(s.now);
    s.run([&](Connection& conn, const Connect&) { conn.accept(Connack{}, Session("c"), s.now); });
    ASSERT_EQ(s.opened.size(), 4u);
    EXPECT_EQ(s.opened[3].host, rc == ReasonCode::server_moved ? "second" : "first");
  }
}

TEST(ServerReference, Parses) {
  EXPECT_EQ(parse_server("host", 1883), (Server{"host", 1883}));
  EXPECT_EQ(parse_server("host:8883", 1883), (Server{"host", 8883}));
  EXPECT_EQ(parse_server("[::1]:1884", 1883), (Server{"::1", 1884}));
  EXPECT_EQ(parse_server("::1", 1883), (Server{"::1", 1883}));
  EXPECT_EQ(parse_server("  a:1 b:2", 1883), (Server{"a", 1}));
  EXPECT_FALSE(parse_server("", 1883));
  EXPECT_FALSE(parse_server("host:", 1883));
  EXPECT_FALSE(parse_server("host:0", 1883));
  EXPECT_FALSE(parse_server("host:70000", 1883));
  EXPECT_FALSE(parse_server("host:12x", 1883));
  EXPECT_FALSE(parse_server("[::1", 1883));
}

}  // namespace
}  // namespace assay::client::test
