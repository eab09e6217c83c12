// Delivery under load: publishers and subscribers with QoS 1 or 2, windows
// of in-flight messages and reconnects with session resumption, the clients
// being the client engine of assay/client/engine.hpp. Every
// message is numbered; the case reports, per subscriber, what was lost,
// duplicated, out of order or unexpected (docs/guarantees.md, L1, L2,
// S4, S8). The clients are our own protocol Connection in the client role,
// so the subscriber side keeps QoS 2 exactly-once across reconnects.
#include <algorithm>
#include <map>
#include <set>

#include "assay/client/engine.hpp"
#include "cases.hpp"

namespace assay::conformance {

using namespace detail;

namespace {

// A client engine (the one the library and the simulator use) driven over
// a Link. Its reconnect waits nothing (Backoff initial 0), so a drop is
// followed by a reconnect on the next step, resuming the session.
class Client {
 public:
  Client(Context& ctx, std::string name, Connect connect, std::size_t queue)
      : ctx_(ctx), name_(std::move(name)) {
    client::ClientConfig c;
    c.connect = std::move(connect);
    ctx_.add_credentials(c.connect);
    c.reconnect.initial = Duration{0};
    c.reconnect.maximum = Duration{0};
    c.queue.max_messages = queue;
    c.queue.max_bytes = queue * 1024;
    c.trace_packets = true;
    c.connect_timeout = ctx_.options.timeout;
    engine_ = std::make_unique<client::Engine>(
        std::move(c), [] { return std::uint64_t{0}; }, ctx_.net.now());
    engine_->start(ctx_.net.now());
  }

  // A network failure: the engine keeps its session and reconnects.
  void drop_and_reconnect() {
    if (!link_) return;
    link_->close();
    link_.reset();
    connected_ = false;
    engine_->transport_closed(ctx_.net.now());
  }
  void close() {
    if (link_) link_->close();
  }

  // Moves bytes both ways and collects events; true when anything happened.
  bool step() {
    bool moved = false;
    const Time now = ctx_.net.now();
    Bytes in;
    if (link_ && link_->read(in)) {
      engine_->receive(in, now);
      moved = true;
    }
    if (auto d = engine_->next_deadline(); d && *d <= now) engine_->handle_timeout(now);
    moved = drain_events() || moved;
    Bytes out;
    while (link_ && engine_->poll_transmit(out)) {
      link_->write(out);
      out.clear();
      moved = true;
    }
    if (link_ && link_->peer_closed()) {
      ctx_.fail(name_ + ": the broker closed the connection during the stress run");
    }
    return moved;
  }

  client::Engine& engine() { return *engine_; }
  bool connected() const { return connected_; }
  std::vector<Publish> received;
  std::map<Ticket, bool> completed;  // ticket -> acknowledged
  std::size_t connections_ = 0;
  std::size_t subacks = 0;

 private:
  bool drain_events() {
    bool any = false;
    while (auto e = engine_->poll_event()) {
      any = true;
      if (auto* in = std::get_if<client::event::PacketReceived>(&*e)) {
        ctx_.log(name_, '<', describe(in->packet, ctx_.version));
      } else if (auto* t = std::get_if<client::event::PacketSent>(&*e)) {
        ctx_.log(name_, '>', describe(t->packet, ctx_.version));
      } else if (std::holds_alternative<client::event::OpenTransport>(*e)) {
        link_ = ctx_.net.connect();
        ++connections_;
        engine_->transport_opened(ctx_.net.now());
      } else if (std::holds_alternative<client::event::CloseTransport>(*e)) {
        Bytes out;
        if (link_ && engine_->poll_transmit(out)) link_->write(out);
        if (link_) link_->close();
        link_.reset();
        engine_->transport_closed(ctx_.net.now());
      } else if (std::holds_alternative<client::event::Connected>(*e)) {
        connected_ = true;
      } else if (auto* m = std::get_if<client::event::Message>(&*e)) {
        received.push_back(std::move(m->message));
      } else if (auto* c = std::get_if<client::event::PublishDone>(&*e)) {
        completed[c->ticket] = c->outcome == Outcome::acknowledged;
      } else if (std::holds_alternative<client::event::SubscribeDone>(*e)) {
        ++subacks;
      } else if (auto* l = std::get_if<client::event::ConnectionLost>(&*e)) {
        if (l->cause == client::Cause::refused) {
          ctx_.fail(
              name_ + ": CONNACK refused with " +
              std::to_string(static_cast<unsigned>(l->reason_code.value_or(ReasonCode::success))));
        }
      }
    }
    return any;
  }

  Context& ctx_;
  std::string name_;
  std::unique_ptr<client::Engine> engine_;
  std::unique_ptr<Link> link_;
  bool connected_ = false;
};

void run_stress(Context& ctx, QoS qos) {
  need_qos(ctx, qos);
  constexpr std::size_t publishers = 3;
  constexpr std::size_t subscribers = 2;
  const std::size_t n = ctx.options.stress_messages;
  const std::size_t queue = n + 16;  // everything is published at once
  std::vector<std::string> topics;
  for (std::size_t p = 0; p < publishers; ++p)
    topics.push_back(ctx.topic("stress/p" + std::to_string(p)));

  // Runs the clients until `done`; with no progress for the timeout, fails
  // the case, or with `settle` just returns (the counts will tell).
  auto loop_until = [&](const std::function<bool()>& done, const std::string& what,
                        std::vector<std::unique_ptr<Client>>& all,
                        const std::function<void()>& each = {}, bool settle = false) {
    Time last_progress = ctx.net.now();
    while (!done()) {
      bool moved = false;
      for (auto& c : all)
        moved = c->step() || moved;
      if (each) each();
      if (moved) {
        last_progress = ctx.net.now();
        continue;
      }
      if (ctx.net.now() - last_progress > ctx.options.timeout) {
        if (settle) return;
        ctx.fail("no progress for " + std::to_string(ctx.options.timeout.count()) +
                 " ms while waiting for " + what);
      }
      ctx.net.wait(ctx.net.now() + std::chrono::milliseconds(20));
    }
  };

  std::vector<std::unique_ptr<Client>> all;
  std::vector<Client*> subs;
  std::vector<Client*> pubs;
  for (std::size_t s = 0; s < subscribers; ++s) {
    const std::string id = ctx.client_id();
    ctx.end_session_later(id);
    all.push_back(std::make_unique<Client>(ctx, "subscriber" + std::to_string(s),
                                           ctx.connect_packet(id, false, 300), queue));
    subs.push_back(all.back().get());
  }
  for (std::size_t p = 0; p < publishers; ++p) {
    const std::string id = ctx.client_id();
    ctx.end_session_later(id);
    all.push_back(std::make_unique<Client>(ctx, "publisher" + std::to_string(p),
                                           ctx.connect_packet(id, false, 300), queue));
    pubs.push_back(all.back().get());
  }
  loop_until(
      [&] { return std::all_of(all.begin(), all.end(), [](auto& c) { return c->connected(); }); },
      "every CONNACK", all);
  for (Client* s : subs) {
    Subscribe sub;
    for (const std::string& t : topics)
      sub.subscriptions.push_back({t, {qos, false, false, 0}});
    s->engine().subscribe(std::move(sub.subscriptions), ctx.net.now());
  }
  // Wait for the SUBACKs (the subscribe completes when the Connection says
  // so; one round of traffic with nothing left in flight is enough).
  loop_until(
      [&] {
        return std::all_of(subs.begin(), subs.end(), [](Client* c) { return c->subacks > 0; });
      },
      "SUBACK", all);

  // Publish everything at once: the engines keep the in-flight window and
  // queue the rest. Reconnect subscribers and publishers mid-stream.
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t p = 0; p < publishers; ++p) {
      const std::string body = std::to_string(p) + ":" + std::to_string(i);
      pubs[p]->engine().publish(message(topics[p], body, qos), ctx.net.now());
    }
  }
  std::vector<std::size_t> drops_done(all.size(), 0);
  const std::size_t total = n * publishers;
  auto reconnects = [&] {
    for (std::size_t s = 0; s < subs.size(); ++s) {
      // Each subscriber is cut twice, at a third and at two thirds.
      const std::size_t got = subs[s]->received.size();
      if (drops_done[s] < 2 && got >= total * (drops_done[s] + 1) / 3 + s) {
        ++drops_done[s];
        subs[s]->drop_and_reconnect();
      }
    }
    for (std::size_t p = 0; p < pubs.size(); ++p) {
      std::size_t& d = drops_done[subs.size() + p];
      if (d == 0 && pubs[p]->completed.size() >= n / 2) {
        ++d;
        pubs[p]->drop_and_reconnect();
      }
    }
  };
  loop_until(
      [&] {
        return std::all_of(pubs.begin(), pubs.end(),
                           [&](Client* c) { return c->completed.size() == n; });
      },
      "the publishers' acknowledgements", all, reconnects);
  std::size_t refused = 0;
  for (Client* p : pubs) {
    for (auto& [t, ok] : p->completed)
      refused += ok ? 0 : 1;
  }
  ctx.check(refused == 0, std::to_string(refused) + " publications were refused by the broker");
  // Everything acknowledged must now reach every subscriber.
  loop_until(
      [&] {
        return std::all_of(subs.begin(), subs.end(), [&](Client* c) {
          std::set<std::string> distinct;
          for (const Publish& m : c->received)
            distinct.insert(text(m.payload));
          return distinct.size() >= total;
        });
      },
      "every acknowledged message at every subscriber", all, {}, true);
  ctx.sleep(ctx.options.quiet);
  for (auto& c : all)
    c->step();

  // Count, per subscriber and publisher, in the vocabulary of docs/guarantees.md.
  std::size_t ok = 0, lost = 0, duplicated = 0, out_of_order = 0, unexpected = 0;
  for (Client* s : subs) {
    std::vector<std::map<std::size_t, std::size_t>> seen(publishers);  // seq -> copies
    std::vector<long> last_first(publishers, -1);
    for (const Publish& m : s->received) {
      const std::string body = text(m.payload);
      const auto colon = body.find(':');
      std::size_t p = publishers, i = n;
      if (colon != std::string::npos) {
        p = std::stoul(body.substr(0, colon));
        i = std::stoul(body.substr(colon + 1));
      }
      if (p >= publishers || i >= n || m.topic != topics[p]) {
        ++unexpected;
        continue;
      }
      if (seen[p][i]++ == 0) {
        if (static_cast<long>(i) < last_first[p]) ++out_of_order;
        last_first[p] = std::max(last_first[p], static_cast<long>(i));
      }
    }
    for (std::size_t p = 0; p < publishers; ++p) {
      for (std::size_t i = 0; i < n; ++i) {
        const auto it = seen[p].find(i);
        if (it == seen[p].end()) {
          ++lost;
        } else {
          ++ok;
          duplicated += it->second - 1;
        }
      }
    }
  }
  std::size_t reconnections = 0;
  for (auto& c : all)
    reconnections += c->connections_ - 1;
  const std::string counts = "ok " + std::to_string(ok) + ", lost " + std::to_string(lost) +
                             ", duplicated " + std::to_string(duplicated) + ", out of order " +
                             std::to_string(out_of_order) + ", unexpected " +
                             std::to_string(unexpected) + " (" + std::to_string(total) +
                             " messages x " + std::to_string(subscribers) + " subscribers, " +
                             std::to_string(reconnections) + " reconnections)";
  ctx.check(lost == 0 && unexpected == 0 && out_of_order == 0 &&
                (qos != QoS::exactly_once || duplicated == 0),
            counts);
  ctx.note(counts);
  for (auto& c : all)
    c->close();
}

}  // namespace

void cases::stress(std::vector<Case>& out) {
  add_case(out, "4.3", "stress.qos1",
           "QoS 1 under load with reconnects: nothing acknowledged is lost, order kept",
           {"MQTT-4.3.2-2", "MQTT-4.4.0-1", "MQTT-4.6.0-6"},
           {"MQTT-4.3.2-4", "MQTT-4.4.0-1", "MQTT-4.6.0-5"},
           [](Context& ctx) { run_stress(ctx, QoS::at_least_once); });
  add_case(out, "4.3", "stress.qos2",
           "QoS 2 under load with reconnects: every acknowledged message exactly once, in order",
           {"MQTT-4.3.3-2", "MQTT-4.4.0-1", "MQTT-4.6.0-6"},
           {"MQTT-4.3.3-10", "MQTT-4.4.0-1", "MQTT-4.6.0-5"},
           [](Context& ctx) { run_stress(ctx, QoS::exactly_once); });
}

}  // namespace assay::conformance
