// `assay bench HOST[:PORT]`: a load generator for any MQTT broker. Clients
// are the client library's (assay/client/client.hpp), all on one thread.
// Payloads carry their send time, so subscribers measure end-to-end
// latency. A run ends when every message is acknowledged and every copy
// delivered (QoS 0: or two seconds after the last publish).
#include "bench_command.hpp"

#include <utility>  // before Asio: Boost 1.74 uses std::exchange unincluded

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstring>
#include <deque>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "assay/client/client.hpp"
#include "host_port.hpp"

namespace assay::tools {

namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using namespace mqtt;

struct BenchArgs {
  std::string target = "127.0.0.1:1883";
  std::string scenario = "pairs";
  int qos = 0;
  std::size_t clients = 1;  // pairs: pairs; fan-in: publishers; fan-out: subscribers; idle
  std::size_t messages = 10000;
  std::size_t payload = 64;
  double rate = 5000;  // messages per second in all, 0: as fast as the window allows
  std::string version = "5";
  double hold = 5;               // idle: seconds to hold the connections
  std::uint16_t keep_alive = 0;  // seconds; 0: none
  bool json = false;
};

// One bench client: the client library's Client, counted by the Bench.
struct BenchClient {
  std::unique_ptr<client::Client> client;
  std::size_t index = 0;
  bool subscriber = false;
};

class Bench {
 public:
  explicit Bench(const BenchArgs& a) : args(a), timer(io) {}

  const BenchArgs& args;
  asio::io_context io;
  asio::steady_timer timer;
  std::vector<std::unique_ptr<BenchClient>> clients;
  std::vector<BenchClient*> publishers;
  std::vector<BenchClient*> subscribers;
  std::vector<std::int64_t> latencies_ns;
  std::size_t published = 0;
  std::size_t acknowledged = 0;
  std::size_t delivered = 0;
  std::size_t expected = 0;
  std::size_t connected = 0;
  std::size_t subscribed = 0;
  std::size_t errors = 0;
  Clock::time_point started;
  Clock::time_point last_publish;
  Clock::time_point finished;

  Version version() const { return args.version == "3.1.1" ? Version::v3_1_1 : Version::v5; }
  std::string topic_for(const BenchClient& publisher) const {
    if (args.scenario == "fan-out") return "bench/out";
    if (args.scenario == "fan-in") return "bench/in/" + std::to_string(publisher.index);
    return "bench/pair/" + std::to_string(publisher.index);
  }
  std::string filter_for(const BenchClient& subscriber) const {
    if (args.scenario == "fan-out") return "bench/out";
    if (args.scenario == "fan-in") return "bench/in/+";
    return "bench/pair/" + std::to_string(subscriber.index);
  }
  std::size_t copies_per_message() const {
    return args.scenario == "fan-out" ? subscribers.size() : 1;
  }

  void error(const std::string& what) {
    if (finished != Clock::time_point{}) return;
    ++errors;
    std::cerr << "assay bench: " << what << '\n';
    io.stop();
  }

  void add(std::size_t index, bool subscriber, const client::Server& server) {
    client::Options o;
    o.engine.servers = {server};
    o.engine.connect.version = version();
    o.engine.connect.keep_alive = args.keep_alive;
    o.engine.connect.client_id = std::string(subscriber ? "bs" : "bp") + std::to_string(index) +
                                 "-" +
                                 std::to_string(Clock::now().time_since_epoch().count() % 1000000);
    o.engine.reconnect.enabled = false;  // a lost connection is a failed run
    // Everything may be published before the broker's window lets it out.
    o.engine.queue.max_messages = args.messages + 1;
    o.engine.queue.max_bytes = (args.messages + 1) * (args.payload + 64);
    auto c = std::make_unique<BenchClient>();
    c->client = std::make_unique<client::Client>(io.get_executor(), std::move(o));
    c->index = index;
    c->subscriber = subscriber;
    if (subscriber) {
      c->client->set_message_handler([this](const Publish& m) { on_message(m); });
    }
    c->client->set_event_handler([this](const client::Event& e) {
      if (std::holds_alternative<client::event::ConnectionLost>(e)) {
        error("the broker refused or closed a connection");
      }
    });
    (subscriber ? subscribers : publishers).push_back(c.get());
    clients.push_back(std::move(c));
  }

  void start(BenchClient& c) {
    c.client->async_connect([this, &c](client::error_code ec, const Connack&) {
      if (ec) return error("connect: " + ec.message());
      ++connected;
      if (!c.subscriber) return;
      c.client->async_subscribe(filter_for(c), static_cast<QoS>(args.qos),
                                [this](client::error_code e, ReasonCode) {
                                  if (e) return error("subscribe: " + e.message());
                                  ++subscribed;
                                });
    });
  }

  void on_message(const Publish& m) {
    ++delivered;
    if (m.payload.size() >= 8) {
      std::int64_t sent = 0;
      std::memcpy(&sent, m.payload.data(), 8);
      latencies_ns.push_back(Clock::now().time_since_epoch().count() - sent);
    }
    check_done();
  }
  // Done when every message is published and acknowledged, and every copy
  // delivered; QoS 0 may lose some, so there the run also ends two seconds
  // after the last publish.
  void check_done() {
    if (published == args.messages && acknowledged == args.messages && delivered >= expected) {
      finish();
    }
  }
  void finish() {
    if (finished != Clock::time_point{}) return;
    finished = Clock::now();
    io.stop();
  }
  void publish_due() {
    const auto elapsed = std::chrono::duration<double>(Clock::now() - started).count();
    std::size_t due = args.rate > 0 ? static_cast<std::size_t>(elapsed * args.rate) + 1
                                    : published + 64 * publishers.size();
    due = std::min(due, args.messages);
    while (published < due) {
      BenchClient& p = *publishers[published % publishers.size()];
      Bytes body(std::max<std::size_t>(args.payload, 8), 'x');
      const std::int64_t t = Clock::now().time_since_epoch().count();
      std::memcpy(body.data(), &t, 8);
      Publish m;
      m.topic = topic_for(p);
      m.qos = static_cast<QoS>(args.qos);
      m.payload = SharedBytes(std::move(body));
      p.client->async_publish(std::move(m), [this](client::error_code ec, ReasonCode) {
        if (ec) return error("publish: " + ec.message());
        ++acknowledged;
        check_done();
      });
      ++published;
    }
    if (published == args.messages) last_publish = Clock::now();
  }
  void tick() {
    if (connected == clients.size() && subscribed == subscribers.size()) {
      if (started == Clock::time_point{}) {
        started = Clock::now();
        expected = args.messages * copies_per_message();
      }
      if (published < args.messages) publish_due();
      if (args.qos == 0 && published == args.messages &&
          Clock::now() - last_publish > std::chrono::seconds(2)) {
        finish();
        return;
      }
    }
    timer.expires_after(std::chrono::milliseconds(1));
    timer.async_wait([this](boost::system::error_code ec) {
      if (!ec) tick();
    });
  }
};

std::int64_t percentile(std::vector<std::int64_t>& v, double p) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

int run_bench(const BenchArgs& a) {
  Bench b(a);
  const auto target = parse_host_port(a.target, 1883);
  if (!target) {
    std::cerr << "assay bench: '" << a.target << "' is not HOST[:PORT]\n";
    return 2;
  }
  const client::Server server{target->host, target->port};
  std::size_t pubs = 0;
  std::size_t subs = 0;
  if (a.scenario == "pairs") {
    pubs = subs = a.clients;
  } else if (a.scenario == "fan-in") {
    pubs = a.clients;
    subs = 1;
  } else if (a.scenario == "fan-out") {
    pubs = 1;
    subs = a.clients;
  } else {  // idle
    subs = 0;
    pubs = a.clients;
  }
  for (std::size_t i = 0; i < subs; ++i)
    b.add(i, true, server);
  for (std::size_t i = 0; i < pubs; ++i)
    b.add(i, false, server);
  // Connect in batches so a listen backlog is never overrun.
  std::size_t next = 0;
  asio::steady_timer opener(b.io);
  std::function<void()> open_more = [&] {
    for (std::size_t n = 0; n < 200 && next < b.clients.size(); ++n)
      b.start(*b.clients[next++]);
    if (next < b.clients.size()) {
      opener.expires_after(std::chrono::milliseconds(5));
      opener.async_wait([&](boost::system::error_code) { open_more(); });
    }
  };
  open_more();

  nlohmann::ordered_json out;
  if (a.scenario == "idle") {
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (b.connected < b.clients.size() && b.errors == 0 && Clock::now() < deadline) {
      b.io.run_for(std::chrono::milliseconds(100));
    }
    if (b.connected < b.clients.size()) {
      std::cerr << "assay bench: " << b.connected << " of " << b.clients.size()
                << " connections established\n";
      return 1;
    }
    std::cout << "connected " << b.connected << std::endl;  // the script measures now
    b.io.run_for(std::chrono::milliseconds(static_cast<long>(a.hold * 1000)));
    return 0;
  }
  b.tick();
  b.io.run_for(std::chrono::minutes(10));
  if (b.errors != 0) return 1;
  const double seconds = std::chrono::duration<double>(b.finished - b.started).count();
  auto& l = b.latencies_ns;
  out["scenario"] = a.scenario;
  out["version"] = a.version;
  out["qos"] = a.qos;
  out["publishers"] = b.publishers.size();
  out["subscribers"] = b.subscribers.size();
  out["payload"] = a.payload;
  out["published"] = b.published;
  out["expected"] = b.expected;
  out["acknowledged"] = b.acknowledged;
  out["delivered"] = b.delivered;
  out["seconds"] = seconds;
  out["deliveries_per_second"] = seconds > 0 ? static_cast<double>(b.delivered) / seconds : 0;
  out["latency_us"] = {{"p50", percentile(l, 0.50) / 1000},
                       {"p90", percentile(l, 0.90) / 1000},
                       {"p99", percentile(l, 0.99) / 1000},
                       {"max", percentile(l, 1.0) / 1000}};
  if (a.json) {
    std::cout << out.dump() << '\n';
  } else {
    std::cout << a.scenario << " qos " << a.qos << ": " << b.delivered << " of " << b.expected
              << " deliveries in " << seconds << " s; latency us p50 " << out["latency_us"]["p50"]
              << " p90 " << out["latency_us"]["p90"] << " p99 " << out["latency_us"]["p99"]
              << " max " << out["latency_us"]["max"] << '\n';
  }
  return a.qos > 0 && (b.delivered < b.expected || b.acknowledged < b.published) ? 1 : 0;
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "bench",
      "Load a broker: pairs, fan-in or fan-out at a QoS and rate; report deliveries and "
      "latency percentiles (bench/compare_brokers.py compares brokers with it)");
  cmd->add_option("target", a->target, "Broker address HOST[:PORT]");
  cmd->add_option("-s,--scenario", a->scenario,
                  "pairs, fan-in, fan-out, or idle (connect and hold)")
      ->check(CLI::IsMember({"pairs", "fan-in", "fan-out", "idle"}));
  cmd->add_option("-q,--qos", a->qos, "QoS of the messages and subscriptions")
      ->check(CLI::Range(0, 2));
  cmd->add_option("-n,--clients", a->clients,
                  "pairs: pairs; fan-in: publishers; fan-out: subscribers; idle: connections")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("-m,--messages", a->messages, "Messages to publish in all")
      ->check(CLI::Range(1, 100000000));
  cmd->add_option("--payload", a->payload, "Payload bytes (at least 8: the send time)")
      ->check(CLI::Range(8, 1 << 20));
  cmd->add_option("-r,--rate", a->rate, "Messages per second in all; 0 for as fast as possible")
      ->check(CLI::Range(0.0, 1e7));
  cmd->add_option("-V,--version", a->version, "MQTT version")->check(CLI::IsMember({"3.1.1", "5"}));
  cmd->add_option("--hold", a->hold, "idle: seconds to hold the connections")
      ->check(CLI::Range(0.0, 3600.0));
  cmd->add_option("-k,--keep-alive", a->keep_alive,
                  "Keep Alive of every client in seconds (0: none, the default)");
  cmd->add_flag("--json", a->json, "One JSON line instead of text");
  cmd->callback([a] {
    const int status = run_bench(*a);
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace assay::tools
