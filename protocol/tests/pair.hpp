// A test harness: a client Connection and a server Connection joined by a
// simulated TCP link, with a fake clock, latency, random chunking of the
// byte stream, and a cut at any byte. Events of each side go to a handler
// (which may call more commands) and are recorded.
#pragma once

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <vector>

#include "assay/mqtt/connection.hpp"

namespace assay::mqtt::test {

using namespace std::chrono_literals;

struct LinkOptions {
  Duration latency = 5ms;
  std::size_t max_chunk = 64;  // bytes are delivered in random chunks of 1..max_chunk
  std::uint32_t seed = 1;
};

// One direction of the link: an ordered byte stream.
struct Direction {
  struct Segment {
    Time at;
    Bytes bytes;
  };
  std::deque<Segment> in_flight;
  std::optional<std::size_t> cut_after;  // bytes still allowed through before the cut
  bool broken = false;
};

class Pair {
 public:
  using Handler = std::function<void(Pair&, const Event&)>;

  Pair(ConnectionOptions client_options, ConnectionOptions server_options, LinkOptions link = {},
       Time start = Time{0})
      : now(start),
        client(std::make_unique<Connection>(client_options, start)),
        server(std::make_unique<Connection>(server_options, start)),
        link_(link),
        rng_(link.seed) {}

  Time now;
  std::unique_ptr<Connection> client;
  std::unique_ptr<Connection> server;
  Handler on_client = [](Pair&, const Event&) {};
  Handler on_server = [](Pair&, const Event&) {};
  std::vector<Event> client_events;
  std::vector<Event> server_events;

  // Breaks the link after `bytes` more bytes from the client (to_server) or
  // from the server; both ends then see the transport close.
  void cut(bool to_server, std::size_t bytes) { (to_server ? up_ : down_).cut_after = bytes; }
  bool broken() const { return up_.broken || down_.broken; }
  bool both_closed() const {
    return client->state() == Connection::State::closed &&
           server->state() == Connection::State::closed;
  }

  // Runs until `done` holds after a step, or `limit` of virtual time passes.
  // Returns whether `done` held.
  bool run_until(const std::function<bool()>& done, Duration limit = 60s) {
    const Time end = now + limit;
    for (long steps = 0;; ++steps) {
      if (steps > 1'000'000) throw std::runtime_error("Pair::run_until: too many steps");
      settle();
      if (done()) return true;
      settle();  // `done` may have issued commands
      const auto next = next_time();
      if (!next || *next > end) {
        now = end;
        settle();
        return done();
      }
      now = std::max(now, *next);
      deliver_due();
      if (auto d = client->next_deadline(); d && *d <= now) client->handle_timeout(now);
      if (auto d = server->next_deadline(); d && *d <= now) server->handle_timeout(now);
    }
  }
  void run_for(Duration d) {
    const Time end = now + d;
    run_until([&] { return now >= end; }, d);
  }

  // Replaces both connections (after both closed), keeping the clock.
  void reconnect(ConnectionOptions client_options, ConnectionOptions server_options) {
    client = std::make_unique<Connection>(client_options, now);
    server = std::make_unique<Connection>(server_options, now);
    up_ = {};
    down_ = {};
    closing_ = false;
  }

 private:
  // Events and transmissions until nothing moves at this instant.
  void settle() {
    int rounds = 0;
    for (bool moved = true; moved;) {
      if (++rounds > 10'000) throw std::runtime_error("Pair::settle: no quiescence");
      moved = false;
      while (auto e = client->poll_event()) {
        moved = true;
        client_events.push_back(*e);
        on_client(*this, *e);
        if (std::holds_alternative<event::CloseRequested>(*e)) close_link();
      }
      while (auto e = server->poll_event()) {
        moved = true;
        server_events.push_back(*e);
        on_server(*this, *e);
        if (std::holds_alternative<event::CloseRequested>(*e)) close_link();
      }
      moved |= transmit(*client, up_);
      moved |= transmit(*server, down_);
      if (broken() && !closing_ && !both_closed()) close_link();
    }
  }

  bool transmit(Connection& from, Direction& dir) {
    Bytes out;
    if (!from.poll_transmit(out)) return false;
    if (dir.broken) return true;
    if (dir.cut_after) {
      if (out.size() >= *dir.cut_after) {
        out.resize(*dir.cut_after);
        dir.broken = true;
        dir.cut_after.reset();
      } else {
        *dir.cut_after -= out.size();
      }
    }
    if (!out.empty()) dir.in_flight.push_back({now + link_.latency, std::move(out)});
    return true;
  }

  // A close on either side (or a broken link) ends the transport for both,
  // after the bytes already on their way have arrived.
  void close_link() {
    if (closing_) return;
    closing_ = true;
    close_at_ = now + link_.latency;
  }

  std::optional<Time> next_time() const {
    std::optional<Time> t;
    auto consider = [&](std::optional<Time> x) {
      if (x && (!t || *x < *t)) t = x;
    };
    if (!up_.in_flight.empty()) consider(up_.in_flight.front().at);
    if (!down_.in_flight.empty()) consider(down_.in_flight.front().at);
    consider(client->next_deadline());
    consider(server->next_deadline());
    if (closing_ && !both_closed()) consider(close_at_);
    return t;
  }

  void deliver(Direction& dir, Connection& to) {
    while (!dir.in_flight.empty() && dir.in_flight.front().at <= now) {
      Bytes bytes = std::move(dir.in_flight.front().bytes);
      dir.in_flight.pop_front();
      std::size_t pos = 0;
      while (pos < bytes.size()) {
        const std::size_t n = std::min(bytes.size() - pos, 1 + rng_() % link_.max_chunk);
        to.receive(ByteView(bytes).subspan(pos, n), now);
        pos += n;
      }
    }
  }

  void deliver_due() {
    deliver(up_, *server);
    deliver(down_, *client);
    // Bytes sent before the close arrive first (they are due by close_at_);
    // anything sent later is lost with the connection.
    if (closing_ && now >= close_at_) {
      up_.in_flight.clear();
      down_.in_flight.clear();
      client->transport_closed(now);
      server->transport_closed(now);
      closing_ = false;
    }
  }

  LinkOptions link_;
  std::mt19937 rng_;
  Direction up_;    // client -> server
  Direction down_;  // server -> client
  bool closing_ = false;
  Time close_at_{0};
};

// The handler of a minimal server application: accepts every CONNECT,
// resuming the session it holds for the client id (Clean Start 0), and
// grants every subscription at the requested QoS.
struct SessionStore {
  std::map<std::string, Session> sessions;

  void handle(Pair& pair, const Event& e, Connack connack = {}) {
    Connection& server = *pair.server;
    if (const auto* c = std::get_if<event::ConnectReceived>(&e)) {
      const std::string& id = c->connect.client_id;
      auto it = sessions.find(id);
      const bool present = !c->connect.clean_start && it != sessions.end();
      Session s = present ? std::move(it->second) : Session(id);
      if (it != sessions.end()) sessions.erase(it);
      connack.session_present = present;
      server.accept(connack, std::move(s), pair.now);
    } else if (const auto* s = std::get_if<event::SubscribeReceived>(&e)) {
      Suback ack;
      ack.packet_id = s->subscribe.packet_id;
      for (const auto& sub : s->subscribe.subscriptions) {
        ack.reason_codes.push_back(static_cast<ReasonCode>(sub.options.qos));
      }
      server.suback(ack, pair.now);
    } else if (std::holds_alternative<event::Closed>(e)) {
      Session kept = server.take_session();
      if (!kept.client_id().empty()) sessions[kept.client_id()] = std::move(kept);
    }
  }
};

template <class E>
std::vector<E> events_of(const std::vector<Event>& events) {
  std::vector<E> out;
  for (const auto& e : events) {
    if (const auto* x = std::get_if<E>(&e)) out.push_back(*x);
  }
  return out;
}

// The packets of type P a connection sent (with trace_packets).
template <class P>
std::vector<P> sent_by(const std::vector<Event>& events) {
  std::vector<P> out;
  for (const auto& e : events) {
    if (const auto* s = std::get_if<event::PacketSent>(&e)) {
      if (const auto* p = std::get_if<P>(&s->packet)) out.push_back(*p);
    }
  }
  return out;
}

}  // namespace assay::mqtt::test
