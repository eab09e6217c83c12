// The Asio client against a real broker. client/tests/live/live.sh starts
// `assay broker` and Mosquitto (plain and TLS) on loopback ports and runs
// this once per broker, told where by the environment:
//   ASSAY_LIVE_BROKER      host:port of the broker under test
//   ASSAY_LIVE_CLOSED      a loopback port nothing listens on
//   ASSAY_LIVE_MIN_ID      (optional) client ids shorter than this are refused
//   ASSAY_LIVE_TLS_PORT    (optional) a TLS listener on 127.0.0.1 whose
//   ASSAY_LIVE_CA          certificate (for "localhost" and 127.0.0.1) this CA signed
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "assay/client/client.hpp"

namespace assay::client::test {
namespace {

namespace asio = boost::asio;
using namespace mqtt;
using namespace std::chrono_literals;

std::string env(const char* name, const char* fallback = "") {
  const char* v = std::getenv(name);
  return v != nullptr ? v : fallback;
}

Server broker() {
  return *parse_server(env("ASSAY_LIVE_BROKER", "127.0.0.1:1883"), 1883);
}

// A unique client id and topic root per test, so runs never collide.
std::string unique(const std::string& prefix) {
  static std::mt19937_64 gen{std::random_device{}()};
  return prefix + "-" + std::to_string(gen() % 1000000000);
}

// An io_context running on its own thread for the test's lifetime.
struct Live : ::testing::TestWithParam<Version> {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::thread runner{[this] { io.run(); }};
  ~Live() override {
    work.reset();
    io.stop();
    runner.join();
  }

  Options options(const std::string& id, Version v) {
    Options o;
    o.engine.trace_packets = !env("ASSAY_LIVE_TRACE").empty();
    o.engine.servers = {broker()};
    o.engine.connect.client_id = id;
    o.engine.connect.version = v;
    o.engine.reconnect.initial = 100ms;
    return o;
  }
};

// With ASSAY_LIVE_TRACE set, every packet a client sends and receives is
// printed, for finding out where a failing test stopped.
void trace(Client& c, std::string who) {
  if (env("ASSAY_LIVE_TRACE").empty()) return;
  c.set_event_handler([who](const Event& e) {
    if (const auto* r = std::get_if<event::PacketReceived>(&e)) {
      std::fprintf(stderr, "%s < %s\n", who.c_str(),
                   std::string(to_string(type_of(r->packet))).c_str());
    } else if (const auto* t = std::get_if<event::PacketSent>(&e)) {
      std::fprintf(stderr, "%s > %s\n", who.c_str(),
                   std::string(to_string(type_of(t->packet))).c_str());
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Both, Live, ::testing::Values(Version::v3_1_1, Version::v5),
                         [](const auto& p) { return p.param == Version::v5 ? "v5" : "v311"; });

template <class T>
T get(std::future<T>& f) {
  if (f.wait_for(10s) != std::future_status::ready) throw std::runtime_error("timed out");
  return f.get();
}

// use_future: each operation a future; errors throw system_error.
TEST_P(Live, FuturesPublishAndReceiveAtEachQoS) {
  const std::string root = unique("live/futures");
  Client sub(io.get_executor(), options(unique("sub"), GetParam()));
  Client pub(io.get_executor(), options(unique("pub"), GetParam()));
  trace(sub, "sub");
  trace(pub, "pub");
  auto c1 = sub.async_connect(asio::use_future);
  auto c2 = pub.async_connect(asio::use_future);
  get(c1);
  get(c2);
  auto granted = sub.async_subscribe(root + "/#", QoS::exactly_once, asio::use_future);
  EXPECT_EQ(get(granted), ReasonCode::granted_qos_2);
  for (int q = 0; q <= 2; ++q) {
    auto done = pub.async_publish(root + "/" + std::to_string(q), "m" + std::to_string(q),
                                  static_cast<QoS>(q), false, asio::use_future);
    EXPECT_EQ(get(done), ReasonCode::success);
  }
  for (int q = 0; q <= 2; ++q) {
    auto m = sub.async_receive(asio::use_future);
    const Publish got = get(m);
    EXPECT_EQ(got.topic, root + "/" + std::to_string(q));
    EXPECT_EQ(got.payload.as_chars(), "m" + std::to_string(q));
    EXPECT_EQ(got.qos, static_cast<QoS>(q));
  }
  auto d1 = sub.async_disconnect(asio::use_future);
  auto d2 = pub.async_disconnect(asio::use_future);
  get(d1);
  get(d2);
}

// Callbacks, a message handler, and the order of one publisher's messages.
TEST_P(Live, CallbacksAndAMessageHandlerKeepOrder) {
  const std::string topic = unique("live/order");
  Client sub(io.get_executor(), options(unique("sub"), GetParam()));
  Client pub(io.get_executor(), options(unique("pub"), GetParam()));
  std::mutex m;
  std::vector<std::string> got;
  std::promise<void> all;
  constexpr int n = 200;
  sub.set_message_handler([&](const Publish& p) {
    std::lock_guard lock(m);
    got.emplace_back(p.payload.as_chars());
    if (got.size() == n) all.set_value();
  });
  std::promise<void> ready;
  sub.async_connect([&](error_code ec, const Connack&) {
    ASSERT_FALSE(ec) << ec.message();
    sub.async_subscribe(topic, QoS::at_least_once, [&](error_code e, ReasonCode) {
      ASSERT_FALSE(e) << e.message();
      ready.set_value();
    });
  });
  ASSERT_EQ(ready.get_future().wait_for(10s), std::future_status::ready);
  std::atomic<int> acked{0};
  std::promise<void> all_acked;
  for (int i = 0; i < n; ++i) {
    pub.async_publish(topic, std::to_string(i), QoS::at_least_once, false,
                      [&](error_code ec, ReasonCode) {
                        EXPECT_FALSE(ec) << ec.message();
                        if (++acked == n) all_acked.set_value();
                      });
  }
  pub.async_connect([](error_code, const Connack&) {});  // published before: queued, then sent
  ASSERT_EQ(all.get_future().wait_for(10s), std::future_status::ready);
  ASSERT_EQ(all_acked.get_future().wait_for(10s), std::future_status::ready);
  std::lock_guard lock(m);
  for (int i = 0; i < n; ++i)
    ASSERT_EQ(got[static_cast<std::size_t>(i)], std::to_string(i));
  // Nothing left: a drain completes at once.
  auto drained = pub.async_drain(asio::use_future);
  get(drained);
}

// C++20 coroutines through use_awaitable.
TEST_P(Live, CoroutinesWithUseAwaitable) {
  const std::string topic = unique("live/coro");
  Client sub(io.get_executor(), options(unique("sub"), GetParam()));
  Client pub(io.get_executor(), options(unique("pub"), GetParam()));
  auto result = asio::co_spawn(
      io,
      [&]() -> asio::awaitable<std::string> {
        co_await sub.async_connect(asio::use_awaitable);
        co_await pub.async_connect(asio::use_awaitable);
        co_await sub.async_subscribe(topic, QoS::exactly_once, asio::use_awaitable);
        const ReasonCode rc = co_await pub.async_publish(topic, "awaited", QoS::exactly_once, false,
                                                         asio::use_awaitable);
        EXPECT_EQ(rc, ReasonCode::success);
        const Publish m = co_await sub.async_receive(asio::use_awaitable);
        co_await sub.async_disconnect(asio::use_awaitable);
        co_await pub.async_disconnect(asio::use_awaitable);
        co_return std::string(m.payload.as_chars());
      },
      asio::use_future);
  EXPECT_EQ(get(result), "awaited");
}

TEST_P(Live, RetainedMessagesReachLaterSubscribersAndCanBeCleared) {
  const std::string topic = unique("live/retained");
  Client pub(io.get_executor(), options(unique("pub"), GetParam()));
  auto c = pub.async_connect(asio::use_future);
  get(c);
  auto p = pub.async_publish(topic, "kept", QoS::at_least_once, true, asio::use_future);
  get(p);
  Client late(io.get_executor(), options(unique("late"), GetParam()));
  auto c2 = late.async_connect(asio::use_future);
  get(c2);
  auto s = late.async_subscribe(topic, QoS::at_least_once, asio::use_future);
  get(s);
  auto m = late.async_receive(asio::use_future);
  const Publish got = get(m);
  EXPECT_EQ(got.payload.as_chars(), "kept");
  EXPECT_TRUE(got.retain);  // [MQTT-3.3.1-8]
  auto clear = pub.async_publish(topic, "", QoS::at_least_once, true, asio::use_future);
  get(clear);
}

// A client that vanishes without DISCONNECT has its Will published
// [MQTT-3.1.2-8]; one that disconnects normally does not [MQTT-3.1.2-10].
TEST_P(Live, WillOnAbruptStopOnly) {
  const std::string topic = unique("live/will");
  Client watcher(io.get_executor(), options(unique("watch"), GetParam()));
  auto c = watcher.async_connect(asio::use_future);
  get(c);
  auto s = watcher.async_subscribe(topic, QoS::at_least_once, asio::use_future);
  get(s);
  for (const bool abrupt : {false, true}) {
    Options o = options(unique("dying"), GetParam());
    Will w;
    w.topic = topic;
    w.payload = SharedBytes(std::string_view(abrupt ? "abrupt" : "normal"));
    w.qos = QoS::at_least_once;
    o.engine.connect.will = w;
    Client dying(io.get_executor(), o);
    auto dc = dying.async_connect(asio::use_future);
    get(dc);
    if (abrupt) {
      dying.stop();
    } else {
      auto d = dying.async_disconnect(asio::use_future);
      get(d);
    }
  }
  auto m = watcher.async_receive(asio::use_future);
  EXPECT_EQ(get(m).payload.as_chars(), "abrupt");
}

TEST_P(Live, ConnectionRefusedIsAsiosOwnError) {
  Options o = options(unique("nobody"), GetParam());
  o.engine.servers = {
      Server{"127.0.0.1", static_cast<std::uint16_t>(std::stoi(env("ASSAY_LIVE_CLOSED", "1")))}};
  o.engine.reconnect.enabled = false;
  Client c(io.get_executor(), o);
  auto f = c.async_connect(asio::use_future);
  try {
    get(f);
    FAIL() << "connected to a closed port";
  } catch (const boost::system::system_error& e) {
    EXPECT_EQ(e.code(), asio::error::connection_refused) << e.code().message();
  }
}

TEST_P(Live, ARefusedConnackIsItsReasonCode) {
  // live.sh runs this only where the broker refuses short ids.
  ASSERT_FALSE(env("ASSAY_LIVE_MIN_ID").empty()) << "needs ASSAY_LIVE_MIN_ID";
  Options o = options("short", GetParam());
  o.engine.reconnect.enabled = false;
  Client c(io.get_executor(), o);
  auto f = c.async_connect(asio::use_future);
  try {
    get(f);
    FAIL() << "a short client id was accepted";
  } catch (const boost::system::system_error& e) {
    // 0x85 (3.1.1: return code 2) [MQTT-3.2.2-8]
    EXPECT_EQ(e.code(), make_error_code(ReasonCode::client_identifier_not_valid));
    const std::error_code as_std = e.code();
    EXPECT_EQ(as_std, std::error_code(make_error_code(ReasonCode::client_identifier_not_valid)));
  }
}

TEST_P(Live, InvalidTopicsCompleteWithAnError) {
  Client c(io.get_executor(), options(unique("c"), GetParam()));
  auto f = c.async_publish("a/+/b", "x", QoS::at_most_once, false, asio::use_future);
  try {
    get(f);
    FAIL();
  } catch (const boost::system::system_error& e) {
    EXPECT_EQ(e.code(), make_error_code(Errc::invalid_argument));
  }
}

// live.sh runs these only against a broker with a TLS listener.
struct Tls : Live {
  Options tls_options(const std::string& name) {
    EXPECT_FALSE(env("ASSAY_LIVE_TLS_PORT").empty()) << "needs ASSAY_LIVE_TLS_PORT";
    Options o = options(unique("tls"), Version::v5);
    o.engine.servers = {
        Server{"127.0.0.1", static_cast<std::uint16_t>(std::stoi(env("ASSAY_LIVE_TLS_PORT")))}};
    o.engine.reconnect.enabled = false;
    TlsOptions t;
    t.ca_file = env("ASSAY_LIVE_CA");
    t.server_name = name;
    o.tls = t;
    return o;
  }
};
INSTANTIATE_TEST_SUITE_P(V5, Tls, ::testing::Values(Version::v5));

TEST_P(Tls, ConnectsWithTheRightCAAndName) {
  const std::string topic = unique("live/tls");
  Client c(io.get_executor(), tls_options("localhost"));
  auto f = c.async_connect(asio::use_future);
  get(f);
  auto s = c.async_subscribe(topic, QoS::at_least_once, asio::use_future);
  get(s);
  auto p = c.async_publish(topic, "secret", QoS::at_least_once, false, asio::use_future);
  get(p);
  auto m = c.async_receive(asio::use_future);
  EXPECT_EQ(get(m).payload.as_chars(), "secret");
}

// Host-name verification is on by default: a certificate for "localhost"
// does not pass for another name.
TEST_P(Tls, AWrongHostNameFails) {
  Client c(io.get_executor(), tls_options("wrong.example"));
  auto f = c.async_connect(asio::use_future);
  try {
    get(f);
    FAIL() << "a certificate for localhost passed for wrong.example";
  } catch (const boost::system::system_error& e) {
    EXPECT_EQ(e.code().category(), asio::error::get_ssl_category()) << e.code().message();
  }
  // Turned off explicitly, the same name connects.
  Options o = tls_options("wrong.example");
  o.tls->verify_host_name = false;
  Client insecure(io.get_executor(), o);
  auto g = insecure.async_connect(asio::use_future);
  get(g);
}

TEST_P(Tls, AnUnknownCAFails) {
  Options o = tls_options("localhost");
  o.tls->ca_file.clear();  // the system trust store: it does not know our test CA
  Client c(io.get_executor(), o);
  auto f = c.async_connect(asio::use_future);
  EXPECT_THROW(get(f), boost::system::system_error);
}

TEST(TlsOptionsCheck, AMissingCAFileIsNamed) {
  asio::io_context io;
  Options o;
  TlsOptions t;
  t.ca_file = "/nonexistent/ca.pem";
  o.tls = t;
  try {
    Client c(io.get_executor(), o);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/ca.pem"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace assay::client::test
