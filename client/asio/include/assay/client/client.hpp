// assay::client::Client: an MQTT 3.1.1/5.0 client on Boost.Asio, over TCP
// or TLS, driving the client engine (assay/client/engine.hpp) that the
// simulator and the tests drive too.
//
//   asio::io_context io;
//   client::Options o;
//   o.engine.connect.client_id = "sensor-0001";
//   client::Client c(io.get_executor(), o);
//   c.set_message_handler([](const mqtt::Publish& m) { ... });
//   c.async_connect([&](client::error_code ec, const mqtt::Connack&) {
//     c.async_subscribe("alerts/#", mqtt::QoS::at_least_once, ...);
//     c.async_publish("sensor/temperature", "21.5", mqtt::QoS::at_least_once, true,
//                     [](client::error_code ec, mqtt::ReasonCode) { ... });
//   });
//   io.run();
//
// Every async_ operation takes an Asio completion token: a callback,
// asio::use_future, asio::use_awaitable (C++20 coroutines), ... and
// completes exactly once, through the token's associated executor, never
// inside the call that started it.
//
// Thread safety: every member function may be called from any thread; the
// work runs on the client's strand. Handlers given to set_message_handler()
// and set_event_handler() run on that strand: they must not block.
#pragma once

#include <utility>  // before Asio: Boost 1.74 uses std::exchange unincluded

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "assay/client/config.hpp"
#include "assay/client/engine.hpp"
#include "assay/client/error.hpp"

namespace assay::client {

// TLS (OpenSSL through asio::ssl). By default the server's certificate is
// checked against the system's trust store and its name against the host
// connected to; turning either off is explicit (and the tools say so loudly).
struct TlsOptions {
  std::string ca_file;  // PEM; with ca_path empty too, the system trust store
  std::string ca_path;  // a directory of hashed CA certificates
  std::string cert_file;
  std::string key_file;
  // The name sent as SNI and checked against the certificate; empty: the
  // host connected to.
  std::string server_name;
  bool verify_peer = true;       // the certificate chain
  bool verify_host_name = true;  // the name in the certificate
  // "tlsv1.2" (1.2 or later, the default) or "tlsv1.3" (1.3 only).
  std::string version = "tlsv1.2";
  std::vector<std::string> alpn;
};

struct Options {
  ClientConfig engine;
  std::optional<TlsOptions> tls;
  // MQTT over WebSocket on this HTTP path ("/mqtt"), secure WebSocket when
  // `tls` is set too; MQTT's own framing on TCP without.
  std::optional<std::string> websocket_path;
  // Messages not yet taken by async_receive() are held up to this many;
  // beyond it the client stops reading the socket (TCP pushes back on the
  // server). Unused while a message handler is set.
  std::size_t max_buffered_messages = 1000;
};

namespace detail {

// A move-only handler behind a pointer (std::function needs copies;
// coroutine and future handlers are move-only).
template <class Signature>
class Completion;
template <class... Args>
class Completion<void(Args...)> {
 public:
  Completion() = default;
  template <class F>
  explicit Completion(F f) : impl_(std::make_unique<Model<F>>(std::move(f))) {}
  explicit operator bool() const { return impl_ != nullptr; }
  void operator()(Args... args) {
    auto impl = std::move(impl_);
    impl->call(std::move(args)...);
  }

 private:
  struct Base {
    virtual ~Base() = default;
    virtual void call(Args... args) = 0;
  };
  template <class F>
  struct Model final : Base {
    explicit Model(F fn) : f(std::move(fn)) {}
    void call(Args... args) override { f(std::move(args)...); }
    F f;
  };
  std::unique_ptr<Base> impl_;
};

// Wraps an Asio handler: it will be posted to its associated executor
// (the client's, by default), which is kept busy until then.
template <class Signature, class Handler>
Completion<Signature> wrap(Handler handler, const boost::asio::any_io_executor& fallback) {
  auto ex = boost::asio::prefer(boost::asio::get_associated_executor(handler, fallback),
                                boost::asio::execution::outstanding_work.tracked);
  return Completion<Signature>([h = std::move(handler),
                                ex = std::move(ex)](auto&&... args) mutable {
    boost::asio::post(ex, [h = std::move(h), ... a = std::forward<decltype(args)>(args)]() mutable {
      h(std::move(a)...);
    });
  });
}

class Impl;

}  // namespace detail

class Client {
 public:
  using executor_type = boost::asio::any_io_executor;
  using ConnectHandler = detail::Completion<void(error_code, mqtt::Connack)>;
  using PublishHandler = detail::Completion<void(error_code, mqtt::ReasonCode)>;
  using SubscribeHandler = detail::Completion<void(error_code, std::vector<mqtt::ReasonCode>)>;
  using ReceiveHandler = detail::Completion<void(error_code, mqtt::Publish)>;
  using DoneHandler = detail::Completion<void(error_code)>;

  // Throws std::invalid_argument for options that cannot work (see Engine).
  Client(executor_type executor, Options options);
  // Stops the client (as stop()); operations still pending complete with
  // Errc::stopped.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  executor_type get_executor() const { return executor_; }

  // Starts the client and completes with the first attempt's outcome: the
  // CONNACK (success), its refusal (a reason_category code), or the
  // transport's failure (Asio's code: connection refused, host not found, a
  // TLS error). The engine goes on reconnecting by its Backoff either way;
  // publishing before or between connections queues.
  template <class Token>
  auto async_connect(Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code, mqtt::Connack)>(
        [this](auto handler) {
          start_connect(
              detail::wrap<void(error_code, mqtt::Connack)>(std::move(handler), executor_));
        },
        token);
  }

  // Completes when the message's QoS flow does: QoS 0 once its bytes are
  // written to the socket (not before: a fast publisher waits), QoS 1
  // at PUBACK, QoS 2 at PUBCOMP, with the server's reason code. Errors: the
  // server's refusal (>= 0x80), Quota exceeded (the queue was full), Packet
  // too large, Errc::expired, Errc::stopped, Errc::invalid_argument.
  template <class Token>
  auto async_publish(mqtt::Publish message, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code, mqtt::ReasonCode)>(
        [this](auto handler, mqtt::Publish m) {
          start_publish(std::move(m), detail::wrap<void(error_code, mqtt::ReasonCode)>(
                                          std::move(handler), executor_));
        },
        token, std::move(message));
  }
  template <class Token>
  auto async_publish(std::string topic, std::string_view payload, mqtt::QoS qos, bool retain,
                     Token&& token) {
    mqtt::Publish m;
    m.topic = std::move(topic);
    m.payload = mqtt::SharedBytes(payload);
    m.qos = qos;
    m.retain = retain;
    return async_publish(std::move(m), std::forward<Token>(token));
  }

  // Completes with the SUBACK's codes, one per filter (a refused filter has
  // its code >= 0x80 there; the error_code is for the request as a whole).
  template <class Token>
  auto async_subscribe(std::vector<mqtt::Subscription> subscriptions, Token&& token,
                       mqtt::Properties properties = {}) {
    return boost::asio::async_initiate<Token, void(error_code, std::vector<mqtt::ReasonCode>)>(
        [this](auto handler, std::vector<mqtt::Subscription> s, mqtt::Properties p) {
          start_subscribe(std::move(s), std::move(p),
                          detail::wrap<void(error_code, std::vector<mqtt::ReasonCode>)>(
                              std::move(handler), executor_));
        },
        token, std::move(subscriptions), std::move(properties));
  }
  // One filter: completes with its granted QoS, or its refusal as the error.
  template <class Token>
  auto async_subscribe(std::string filter, mqtt::QoS qos, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code, mqtt::ReasonCode)>(
        [this](auto handler, std::string f, mqtt::QoS q) {
          start_subscribe_one(
              std::move(f), q,
              detail::wrap<void(error_code, mqtt::ReasonCode)>(std::move(handler), executor_));
        },
        token, std::move(filter), qos);
  }

  template <class Token>
  auto async_unsubscribe(std::vector<std::string> filters, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code, std::vector<mqtt::ReasonCode>)>(
        [this](auto handler, std::vector<std::string> f) {
          start_unsubscribe(std::move(f),
                            detail::wrap<void(error_code, std::vector<mqtt::ReasonCode>)>(
                                std::move(handler), executor_));
        },
        token, std::move(filters));
  }

  // The next message from the server (in arrival order), for code that
  // pulls rather than registers a handler.
  template <class Token>
  auto async_receive(Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code, mqtt::Publish)>(
        [this](auto handler) {
          start_receive(
              detail::wrap<void(error_code, mqtt::Publish)>(std::move(handler), executor_));
        },
        token);
  }

  // Completes once nothing is queued or in flight (every publish has
  // completed), or with Errc::stopped.
  template <class Token>
  auto async_drain(Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code)>(
        [this](auto handler) {
          start_drain(detail::wrap<void(error_code)>(std::move(handler), executor_));
        },
        token);
  }

  // Sends DISCONNECT (5.0: with `packet`'s reason code and properties; 0x04
  // asks the server to publish the Will) and completes once the connection
  // is closed. The client stops; pending operations end with Errc::stopped.
  template <class Token>
  auto async_disconnect(Token&& token, mqtt::Disconnect packet = {}) {
    return boost::asio::async_initiate<Token, void(error_code)>(
        [this](auto handler, mqtt::Disconnect d) {
          start_disconnect(std::move(d),
                           detail::wrap<void(error_code)>(std::move(handler), executor_));
        },
        token, std::move(packet));
  }

  // Closes at once, without DISCONNECT (the server publishes the Will).
  void stop();

  // Each message from the server, on the client's strand. Set it before
  // async_connect() (a message that arrives with no handler and no
  // async_receive() waiting is buffered).
  void set_message_handler(std::function<void(const mqtt::Publish&)> handler);
  // Every engine event (connections made and lost, packets with
  // trace_packets...), on the client's strand: for logs and tools.
  void set_event_handler(std::function<void(const Event&)> handler);

 private:
  void start_connect(ConnectHandler h);
  void start_publish(mqtt::Publish m, PublishHandler h);
  void start_subscribe(std::vector<mqtt::Subscription> s, mqtt::Properties p, SubscribeHandler h);
  void start_subscribe_one(std::string filter, mqtt::QoS qos, PublishHandler h);
  void start_unsubscribe(std::vector<std::string> f, SubscribeHandler h);
  void start_receive(ReceiveHandler h);
  void start_drain(DoneHandler h);
  void start_disconnect(mqtt::Disconnect d, DoneHandler h);

  executor_type executor_;
  std::shared_ptr<detail::Impl> impl_;
};

}  // namespace assay::client
