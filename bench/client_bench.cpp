// client_bench: the client library (assay::client::Client) beside
// libmosquitto, the same workload against the same broker, one library per
// process run (bench/compare_clients.py runs both in alternating rounds):
//
//   client_bench publish --lib assay|mosquitto --port PORT [--host H]
//                [--qos 0|1|2] [--messages N] [--payload BYTES] [--window W]
//                [--loop thread|own] [--backlog B] [--aliases]
//     N messages of BYTES bytes to one topic, as fast as the library takes
//     them: at most B (1000) handed over and not yet complete, half a
//     backlog more whenever half has completed (the library's own queue
//     holds what its window does not let out yet); done when every one has
//     completed:
//     acknowledged (QoS 1 PUBACK, QoS 2 PUBCOMP) or, at QoS 0, written
//     (ours completes QoS 0 once its bytes are written; libmosquitto's
//     on_publish comes once it has written the packet).
//   client_bench idle --lib assay|mosquitto --port PORT [--host H]
//                [--connections K] [--keep-alive S]
//     K connections (Keep Alive S, 60 by default), connected and idle, in
//     this process: VmRSS growth per connection (after one warm-up
//     connection, so one-off costs such as Asio's resolver thread are not
//     counted).
//   client_bench subscribe --port PORT [--host H] [--qos Q]
//     A subscriber to the publishers' topic (our library), for runs that
//     measure the broker with one: prints "subscribed" once the SUBACK has
//     come, then counts messages until SIGTERM or SIGINT, and prints the
//     count.
//
// Both libraries speak MQTT 5.0 and both take the broker's Receive Maximum
// as their window of QoS 1/2 messages in flight (ours always; libmosquitto
// reads it from CONNACK over the send maximum it was given, which is set to
// --window too, 20 by default, its own default): each run prints the window
// it had, so a run whose windows differ shows it. TCP_NODELAY is on for both
// (ours always sets it). Topic Aliases (which ours gives by default, and
// libmosquitto does not) are off unless --aliases: the same bytes on the
// wire.
//
// Output: one JSON line. CPU time is the process's (getrusage: every
// thread, user and kernel) over the publishing only.
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <utility>  // before Asio: Boost 1.74 uses std::exchange unincluded

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "assay/client/client.hpp"

namespace {

namespace asio = boost::asio;
namespace client = assay::client;
namespace mqtt = assay::mqtt;
using Clock = std::chrono::steady_clock;

struct Args {
  std::string command;
  std::string lib = "assay";
  std::string host = "127.0.0.1";
  int port = 1883;
  int qos = 0;
  std::size_t messages = 100000;
  std::size_t payload = 64;
  int window = 20;
  std::size_t backlog = 1000;   // handed to the library and not yet complete, at most
  std::string loop = "thread";  // libmosquitto: mosquitto_loop_start, or our own loop
  bool aliases = false;
  std::size_t connections = 2000;
  int keep_alive = 60;
};

Args parse(int argc, char** argv) {
  if (argc < 2) {
    throw std::invalid_argument("usage: client_bench publish|idle|subscribe --port PORT ...");
  }
  Args a;
  a.command = argv[1];
  if (a.command != "publish" && a.command != "idle" && a.command != "subscribe") {
    throw std::invalid_argument("the command is publish, idle or subscribe, not '" + a.command +
                                "'");
  }
  std::map<std::string, std::string> values;
  for (int i = 2; i < argc; ++i) {
    const std::string key = argv[i];
    if (key == "--aliases") {
      a.aliases = true;
      continue;
    }
    if (key.rfind("--", 0) != 0 || i + 1 >= argc) throw std::invalid_argument("bad option " + key);
    values[key.substr(2)] = argv[++i];
  }
  auto take = [&](const char* name, auto& into) {
    const auto it = values.find(name);
    if (it == values.end()) return;
    if constexpr (std::is_same_v<std::decay_t<decltype(into)>, std::string>) {
      into = it->second;
    } else {
      into = static_cast<std::decay_t<decltype(into)>>(std::stoull(it->second));
    }
    values.erase(it);
  };
  take("lib", a.lib);
  take("host", a.host);
  take("port", a.port);
  take("qos", a.qos);
  take("messages", a.messages);
  take("payload", a.payload);
  take("window", a.window);
  take("backlog", a.backlog);
  take("loop", a.loop);
  take("connections", a.connections);
  take("keep-alive", a.keep_alive);
  if (!values.empty()) throw std::invalid_argument("unknown option --" + values.begin()->first);
  if (a.lib != "assay" && a.lib != "mosquitto")
    throw std::invalid_argument("--lib assay|mosquitto");
  if (a.loop != "thread" && a.loop != "own") throw std::invalid_argument("--loop thread|own");
  if (a.qos < 0 || a.qos > 2) throw std::invalid_argument("--qos 0, 1 or 2");
  if (a.messages == 0) throw std::invalid_argument("--messages must be at least 1");
  if (a.backlog < 2) throw std::invalid_argument("--backlog must be at least 2");
  return a;
}

const char* const topic = "bench/clients";

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

long rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

std::string client_id(const char* lib, std::size_t i) {
  return std::string("cb-") + lib + "-" + std::to_string(getpid()) + "-" + std::to_string(i);
}

// What a publishing run measured.
struct Run {
  double seconds = 0;
  double cpu = 0;
  std::size_t completed = 0;
  std::size_t errors = 0;
  int window = 0;  // QoS 1/2 in flight at most (the broker's Receive Maximum)
};

void print_publish(const Args& a, const Run& r) {
  const double n = static_cast<double>(a.messages);
  std::printf(
      "{\"lib\":\"%s\",\"qos\":%d,\"messages\":%zu,\"payload\":%zu,\"window\":%d,"
      "\"loop\":\"%s\",\"seconds\":%.6f,\"messages_per_second\":%.1f,"
      "\"cpu_us_per_message\":%.4f,\"completed\":%zu,\"errors\":%zu}\n",
      a.lib.c_str(), a.qos, a.messages, a.payload, r.window,
      a.lib == "assay" ? "asio" : a.loop.c_str(), r.seconds, n / r.seconds, r.cpu * 1e6 / n,
      r.completed, r.errors);
}

// ---- assay::client::Client ------------------------------------------------

client::Options assay_options(const Args& a, std::size_t index) {
  client::Options o;
  o.engine.servers = {client::Server{a.host, static_cast<std::uint16_t>(a.port)}};
  o.engine.connect.client_id = client_id("a", index);
  o.engine.connect.keep_alive = static_cast<std::uint16_t>(a.keep_alive);
  o.engine.reconnect.enabled = false;
  o.engine.topic_aliases = a.aliases;
  // Every message is handed over at once: the queue holds what the window
  // does not let out yet.
  o.engine.queue.max_messages = a.messages + 1;
  o.engine.queue.max_bytes = (a.messages + 1) * (a.payload + 64);
  return o;
}

Run assay_publish(const Args& a) {
  asio::io_context io;
  client::Client c(io.get_executor(), assay_options(a, 0));
  const std::string payload(a.payload, 'x');
  Run r;
  Clock::time_point start;
  double cpu_start = 0;
  bool failed = false;
  std::size_t published = 0;
  // Up to the backlog at first, then half a backlog whenever half has
  // completed (all on the client's thread).
  std::function<void()> refill = [&] {
    const std::size_t until = std::min(a.messages, r.completed + a.backlog);
    for (; published < until; ++published) {
      c.async_publish(topic, payload, static_cast<mqtt::QoS>(a.qos), false,
                      [&](client::error_code e, mqtt::ReasonCode) {
                        if (e) ++r.errors;
                        ++r.completed;
                        if (published < a.messages && published - r.completed <= a.backlog / 2)
                          refill();
                        if (r.completed < a.messages) return;
                        r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
                        r.cpu = cpu_seconds() - cpu_start;
                        c.async_disconnect([](client::error_code) {});
                      });
    }
  };
  c.async_connect([&](client::error_code ec, const mqtt::Connack& ack) {
    if (ec) {
      std::fprintf(stderr, "client_bench: connect: %s\n", ec.message().c_str());
      failed = true;
      return c.stop();
    }
    r.window =
        static_cast<int>(ack.properties.integer(mqtt::PropertyId::receive_maximum).value_or(65535));
    start = Clock::now();
    cpu_start = cpu_seconds();
    refill();
  });
  io.run();
  if (failed || r.completed != a.messages) throw std::runtime_error("the run did not complete");
  return r;
}

long assay_idle(const Args& a, long& before) {
  asio::io_context io;
  std::vector<std::unique_ptr<client::Client>> clients;
  std::size_t connected = 0;
  std::size_t errors = 0;
  long after = 0;
  auto add = [&](std::size_t i, std::function<void()> then) {
    clients.push_back(std::make_unique<client::Client>(io.get_executor(), assay_options(a, i)));
    clients.back()->async_connect(
        [&errors, then = std::move(then)](client::error_code ec, const mqtt::Connack&) {
          if (ec) ++errors;
          then();
        });
  };
  auto done = [&] {
    for (auto& c : clients)
      c->async_disconnect([](client::error_code) {});
  };
  add(0, [&] {  // warm-up
    before = rss_kib();
    for (std::size_t i = 1; i <= a.connections; ++i) {
      add(i, [&] {
        if (++connected < a.connections) return;
        after = rss_kib();
        done();
      });
    }
  });
  io.run();
  if (errors != 0) throw std::runtime_error(std::to_string(errors) + " connections failed");
  return after;
}

void assay_subscribe(const Args& a) {
  asio::io_context io;
  client::Client c(io.get_executor(), assay_options(a, 0));
  std::size_t received = 0;
  c.set_message_handler([&](const mqtt::Publish&) { ++received; });
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait(
      [&](client::error_code, int) { c.async_disconnect([](client::error_code) {}); });
  c.async_connect([&](client::error_code ec, const mqtt::Connack&) {
    if (ec) throw std::runtime_error("subscriber: connect: " + ec.message());
    c.async_subscribe(topic, static_cast<mqtt::QoS>(a.qos),
                      [&](client::error_code e, mqtt::ReasonCode) {
                        if (e) throw std::runtime_error("subscriber: subscribe: " + e.message());
                        std::printf("subscribed\n");
                        std::fflush(stdout);
                      });
  });
  io.run();
  std::printf("{\"received\":%zu}\n", received);
}

// ---- libmosquitto ---------------------------------------------------------

// The state a libmosquitto client's callbacks share with the bench (they run
// on its network thread with mosquitto_loop_start).
struct MosqState {
  std::mutex mutex;
  std::condition_variable changed;
  bool connected = false;
  bool failed = false;
  int window = 0;
  std::size_t completed = 0;
  std::size_t errors = 0;
  std::size_t expected = 0;
  std::size_t wake_at = 0;  // the publishing thread waits for this many completions
  Clock::time_point end;
  double cpu_end = 0;
};

void on_connect(mosquitto*, void* obj, int rc, int, const mosquitto_property* props) {
  auto& s = *static_cast<MosqState*>(obj);
  std::uint16_t receive_maximum = 65535;
  mosquitto_property_read_int16(props, MQTT_PROP_RECEIVE_MAXIMUM, &receive_maximum, false);
  std::lock_guard lock(s.mutex);
  s.window = receive_maximum;
  (rc == 0 ? s.connected : s.failed) = true;
  s.changed.notify_all();
}

void on_publish(mosquitto*, void* obj, int, int reason_code, const mosquitto_property*) {
  auto& s = *static_cast<MosqState*>(obj);
  std::lock_guard lock(s.mutex);
  if (reason_code >= 0x80) ++s.errors;
  if (++s.completed == s.expected) {
    s.end = Clock::now();
    s.cpu_end = cpu_seconds();
  }
  if (s.completed == s.wake_at) s.changed.notify_all();
}

mosquitto* mosq_new(const Args& a, std::size_t index, MosqState& state) {
  const std::string id = client_id("m", index);
  mosquitto* m = mosquitto_new(id.c_str(), true, &state);
  if (m == nullptr) throw std::runtime_error("mosquitto_new failed");
  mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
  mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM, a.window);
  mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_connect_v5_callback_set(m, on_connect);
  mosquitto_publish_v5_callback_set(m, on_publish);
  return m;
}

void check(int rc, const char* what) {
  if (rc != MOSQ_ERR_SUCCESS) {
    throw std::runtime_error(std::string(what) + ": " + mosquitto_strerror(rc));
  }
}

// Runs mosquitto_loop on this thread until `done` says so.
template <class Done>
void mosq_loop_until(mosquitto* m, MosqState& s, Done done) {
  for (;;) {
    {
      std::lock_guard lock(s.mutex);
      if (done() || s.failed) return;
    }
    check(mosquitto_loop(m, 1000, 1), "mosquitto_loop");
  }
}

Run mosq_publish(const Args& a) {
  MosqState s;
  s.expected = a.messages;
  mosquitto* m = mosq_new(a, 0, s);
  const bool threaded = a.loop == "thread";
  check(mosquitto_connect_bind_v5(m, a.host.c_str(), a.port, a.keep_alive, nullptr, nullptr),
        "mosquitto_connect");
  if (threaded) {
    check(mosquitto_loop_start(m), "mosquitto_loop_start");
    std::unique_lock lock(s.mutex);
    s.changed.wait(lock, [&] { return s.connected || s.failed; });
  } else {
    mosq_loop_until(m, s, [&] { return s.connected; });
  }
  if (s.failed) throw std::runtime_error("libmosquitto: the connection was refused");
  const std::string payload(a.payload, 'x');
  const auto start = Clock::now();
  const double cpu_start = cpu_seconds();
  // As with ours: up to the backlog at first, then half a backlog whenever
  // half has completed. With loop_start this thread publishes while
  // libmosquitto's thread writes and reads; with our own loop, one thread
  // does both (a publish outside a callback writes at once).
  std::size_t published = 0;
  for (;;) {
    std::size_t completed = 0;
    {
      std::unique_lock lock(s.mutex);
      completed = s.completed;
      if (completed == a.messages || s.failed) break;
      if (published == a.messages || published - completed > a.backlog / 2) {
        s.wake_at = published == a.messages ? a.messages : published - a.backlog / 2;
        if (threaded) {
          s.changed.wait(lock, [&] { return s.completed >= s.wake_at || s.failed; });
          continue;
        }
      }
    }
    if (!threaded && (published == a.messages || published - completed > a.backlog / 2)) {
      check(mosquitto_loop(m, 1000, 1), "mosquitto_loop");
      continue;
    }
    const std::size_t until = std::min(a.messages, completed + a.backlog);
    for (; published < until; ++published) {
      check(mosquitto_publish_v5(m, nullptr, topic, static_cast<int>(payload.size()),
                                 payload.data(), a.qos, false, nullptr),
            "mosquitto_publish");
    }
  }
  Run r;
  r.seconds = std::chrono::duration<double>(s.end - start).count();
  r.cpu = s.cpu_end - cpu_start;
  r.completed = s.completed;
  r.errors = s.errors;
  r.window = s.window;
  mosquitto_disconnect(m);
  if (threaded) {
    mosquitto_loop_stop(m, false);
  } else {
    mosquitto_loop(m, 100, 1);
  }
  mosquitto_destroy(m);
  if (r.completed != a.messages) throw std::runtime_error("the run did not complete");
  return r;
}

// K connections on this thread: each connects (libmosquitto's connect is
// blocking and sends CONNECT), then poll() waits for the CONNACKs.
long mosq_idle(const Args& a, long& before) {
  MosqState s;  // shared by all: only `connected` counts are looked at
  std::vector<mosquitto*> clients;
  std::size_t connected = 0;
  auto add = [&](std::size_t i) {
    mosquitto* m = mosq_new(a, i, s);
    mosquitto_connect_v5_callback_set(
        m, [](mosquitto*, void* obj, int rc, int, const mosquitto_property*) {
          auto& st = *static_cast<MosqState*>(obj);
          ++(rc == 0 ? st.completed : st.errors);
        });
    check(mosquitto_connect_bind_v5(m, a.host.c_str(), a.port, a.keep_alive, nullptr, nullptr),
          "mosquitto_connect");
    clients.push_back(m);
  };
  auto wait_connacks = [&](std::size_t from) {
    std::vector<pollfd> fds;
    while (s.completed + s.errors < clients.size()) {
      fds.clear();
      for (std::size_t i = from; i < clients.size(); ++i)
        fds.push_back(pollfd{mosquitto_socket(clients[i]), POLLIN, 0});
      if (poll(fds.data(), fds.size(), 10000) <= 0) throw std::runtime_error("no CONNACK");
      for (std::size_t i = 0; i < fds.size(); ++i) {
        if (fds[i].revents != 0) check(mosquitto_loop_read(clients[from + i], 1), "read");
      }
    }
  };
  add(0);  // warm-up
  wait_connacks(0);
  before = rss_kib();
  for (std::size_t i = 1; i <= a.connections; ++i)
    add(i);
  wait_connacks(1);
  connected = s.completed - 1;
  const long after = rss_kib();
  for (mosquitto* m : clients) {
    mosquitto_disconnect(m);
    mosquitto_destroy(m);
  }
  if (s.errors != 0 || connected != a.connections) {
    throw std::runtime_error(std::to_string(s.errors) + " connections refused");
  }
  return after;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args a = parse(argc, argv);
    mosquitto_lib_init();
    if (a.command == "subscribe") {
      assay_subscribe(a);
    } else if (a.command == "publish") {
      print_publish(a, a.lib == "assay" ? assay_publish(a) : mosq_publish(a));
    } else {
      long before = 0;
      const long after = a.lib == "assay" ? assay_idle(a, before) : mosq_idle(a, before);
      std::printf(
          "{\"lib\":\"%s\",\"connections\":%zu,\"rss_before_kib\":%ld,\"rss_after_kib\":%ld,"
          "\"bytes_per_connection\":%.1f}\n",
          a.lib.c_str(), a.connections, before, after,
          static_cast<double>(after - before) * 1024.0 / static_cast<double>(a.connections));
    }
    mosquitto_lib_cleanup();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "client_bench: %s\n", e.what());
    return 1;
  }
}
