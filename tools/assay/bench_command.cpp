// `assay bench HOST[:PORT]`: a load generator for any MQTT broker. Clients
// are our protocol Connection over Boost.Asio, all on one thread. Payloads
// carry their send time, so subscribers measure end-to-end latency.
#include "bench_command.hpp"

#include <utility>  // before Asio: Boost 1.74 uses std::exchange unincluded

#include <algorithm>
#include <boost/asio.hpp>
#include <chrono>
#include <cstring>
#include <deque>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "assay/mqtt/connection.hpp"
#include "host_port.hpp"

namespace assay::tools {

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
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

class Bench;

class Client {
 public:
  Client(Bench& bench, std::size_t index, bool subscriber);
  void start(const tcp::endpoint& ep);
  Connection& conn() { return *conn_; }
  bool connected = false;
  bool subscribed = false;
  bool subscriber;
  std::size_t index;
  void flush();

 private:
  void read();
  void on_events();

  Bench& bench_;
  tcp::socket socket_;
  std::unique_ptr<Connection> conn_;
  std::array<std::uint8_t, 65536> buffer_{};
  Bytes pending_;
  bool writing_ = false;
};

class Bench {
 public:
  explicit Bench(const BenchArgs& a) : args(a), timer(io) {}

  const BenchArgs& args;
  asio::io_context io;
  asio::steady_timer timer;
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<Client*> publishers;
  std::vector<Client*> subscribers;
  std::vector<std::int64_t> latencies_ns;
  std::size_t published = 0;
  std::size_t delivered = 0;
  std::size_t expected = 0;
  std::size_t connected = 0;
  std::size_t subscribed = 0;
  std::size_t errors = 0;
  Clock::time_point started;
  Clock::time_point last_publish;
  Clock::time_point finished;

  Time now() const { return std::chrono::duration_cast<Time>(Clock::now().time_since_epoch()); }
  Version version() const { return args.version == "3.1.1" ? Version::v3_1_1 : Version::v5; }
  std::string topic_for(const Client& publisher) const {
    if (args.scenario == "fan-out") return "bench/out";
    if (args.scenario == "fan-in") return "bench/in/" + std::to_string(publisher.index);
    return "bench/pair/" + std::to_string(publisher.index);
  }
  std::string filter_for(const Client& subscriber) const {
    if (args.scenario == "fan-out") return "bench/out";
    if (args.scenario == "fan-in") return "bench/in/+";
    return "bench/pair/" + std::to_string(subscriber.index);
  }
  std::size_t copies_per_message() const {
    return args.scenario == "fan-out" ? subscribers.size() : 1;
  }
  void on_message(const Publish& m) {
    ++delivered;
    if (m.payload.size() >= 8) {
      std::int64_t sent = 0;
      std::memcpy(&sent, m.payload.data(), 8);
      latencies_ns.push_back(Clock::now().time_since_epoch().count() - sent);
    }
    if (published == args.messages && delivered >= expected) finish();
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
      Client& p = *publishers[published % publishers.size()];
      Publish m;
      m.topic = topic_for(p);
      m.qos = static_cast<QoS>(args.qos);
      Bytes body(std::max<std::size_t>(args.payload, 8), 'x');
      const std::int64_t t = Clock::now().time_since_epoch().count();
      std::memcpy(body.data(), &t, 8);
      m.payload = SharedBytes(std::move(body));
      p.conn().publish(std::move(m), now());
      p.flush();
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
      // QoS 0 may be dropped: stop two seconds after the last publish.
      if (published == args.messages && Clock::now() - last_publish > std::chrono::seconds(2)) {
        finish();
        return;
      }
    }
    for (auto& c : clients) {
      if (auto d = c->conn().next_deadline(); d && *d <= now()) c->conn().handle_timeout(now());
    }
    timer.expires_after(std::chrono::milliseconds(1));
    timer.async_wait([this](boost::system::error_code ec) {
      if (!ec) tick();
    });
  }
};

Client::Client(Bench& bench, std::size_t i, bool sub)
    : subscriber(sub), index(i), bench_(bench), socket_(bench.io) {
  ConnectionOptions o;
  o.role = Role::client;
  o.version = bench.version();
  conn_ = std::make_unique<Connection>(o, bench.now());
}

void Client::start(const tcp::endpoint& ep) {
  socket_.async_connect(ep, [this](boost::system::error_code ec) {
    if (ec) {
      ++bench_.errors;
      std::cerr << "assay bench: connect: " << ec.message() << '\n';
      bench_.io.stop();
      return;
    }
    socket_.set_option(tcp::no_delay(true));
    Connect c;
    c.version = bench_.version();
    c.keep_alive = bench_.args.keep_alive;
    c.client_id = std::string(subscriber ? "bs" : "bp") + std::to_string(index) + "-" +
                  std::to_string(Clock::now().time_since_epoch().count() % 1000000);
    conn_->connect(std::move(c), Session(), bench_.now());
    flush();
    read();
  });
}

void Client::read() {
  socket_.async_read_some(
      asio::buffer(buffer_), [this](boost::system::error_code ec, std::size_t n) {
        if (ec) {
          if (bench_.finished == Clock::time_point{}) {
            ++bench_.errors;
            std::cerr << "assay bench: connection lost: " << ec.message() << '\n';
            bench_.io.stop();
          }
          return;
        }
        conn_->receive(ByteView(buffer_.data(), n), bench_.now());
        on_events();
        flush();
        read();
      });
}

void Client::on_events() {
  while (auto e = conn_->poll_event()) {
    if (std::holds_alternative<event::Connected>(*e)) {
      connected = true;
      ++bench_.connected;
      if (subscriber) {
        Subscribe s;
        s.subscriptions.push_back(
            {bench_.filter_for(*this), {static_cast<QoS>(bench_.args.qos), false, false, 0}});
        conn_->subscribe(std::move(s), bench_.now());
      }
    } else if (std::holds_alternative<event::SubscribeAcked>(*e)) {
      subscribed = true;
      ++bench_.subscribed;
    } else if (auto* m = std::get_if<event::MessageReceived>(&*e)) {
      bench_.on_message(m->message);
    } else if (std::holds_alternative<event::ConnectRefused>(*e) ||
               std::holds_alternative<event::Closed>(*e)) {
      if (bench_.finished == Clock::time_point{}) {
        ++bench_.errors;
        std::cerr << "assay bench: the broker refused or closed a connection\n";
        bench_.io.stop();
      }
    }
  }
}

void Client::flush() {
  on_events();
  Bytes out;
  while (conn_->poll_transmit(out)) {
  }
  if (out.empty() && pending_.empty()) return;
  pending_.insert(pending_.end(), out.begin(), out.end());
  if (writing_) return;
  writing_ = true;
  auto data = std::make_shared<Bytes>(std::move(pending_));
  pending_.clear();
  asio::async_write(socket_, asio::buffer(*data),
                    [this, data](boost::system::error_code ec, std::size_t) {
                      writing_ = false;
                      if (ec) return;
                      if (!pending_.empty()) flush();
                    });
}

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
  boost::system::error_code ec;
  tcp::resolver resolver(b.io);
  auto endpoints = resolver.resolve(target->host, std::to_string(target->port), ec);
  if (ec || endpoints.empty()) {
    std::cerr << "assay bench: cannot resolve " << a.target << '\n';
    return 2;
  }
  const tcp::endpoint ep = *endpoints.begin();
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
  for (std::size_t i = 0; i < subs; ++i) {
    b.clients.push_back(std::make_unique<Client>(b, i, true));
    b.subscribers.push_back(b.clients.back().get());
  }
  for (std::size_t i = 0; i < pubs; ++i) {
    b.clients.push_back(std::make_unique<Client>(b, i, false));
    b.publishers.push_back(b.clients.back().get());
  }
  // Connect in batches so a listen backlog is never overrun.
  std::size_t next = 0;
  asio::steady_timer opener(b.io);
  std::function<void()> open_more = [&] {
    for (std::size_t n = 0; n < 200 && next < b.clients.size(); ++n)
      b.clients[next++]->start(ep);
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
  return a.qos > 0 && b.delivered < b.expected ? 1 : 0;
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
