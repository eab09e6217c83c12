// The Asio driver of the client engine: one transport at a time, a read
// loop, a write loop that coalesces what the engine has to send, one timer
// for the engine's next deadline, and the pending operations matched to
// the engine's completion events.
#include "assay/client/client.hpp"

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <map>
#include <random>

#include "transport.hpp"

namespace assay::client {

namespace asio = boost::asio;
using namespace mqtt;

namespace detail {

class Impl : public std::enable_shared_from_this<Impl> {
 public:
  // The engine takes the ClientConfig; the driver keeps only what it uses.
  Impl(const asio::any_io_executor& ex, Options options)
      : strand_(asio::make_strand(ex)),
        tls_(std::move(options.tls)),
        websocket_path_(std::move(options.websocket_path)),
        max_buffered_messages_(options.max_buffered_messages),
        origin_(std::chrono::steady_clock::now()),
        engine_(std::move(options.engine), seeded(), Time{0}),
        timer_(strand_) {
    if (tls_) tls_context_ = make_tls_context(*tls_);
  }

  // Runs `f` on the strand, keeping the Impl alive meanwhile.
  template <class F>
  void run(F f) {
    asio::dispatch(strand_, [self = shared_from_this(), f = std::move(f)]() mutable { f(*self); });
  }

  // ---- operations (on the strand) -----------------------------------------

  void connect(Client::ConnectHandler h) {
    if (stopped_) return h(make_error_code(Errc::stopped), Connack{});
    if (engine_.state() == Engine::State::connected) return h(error_code{}, last_connack_);
    connects_.push_back(std::move(h));
    if (engine_.state() == Engine::State::idle) {
      engine_.start(now());
      process();
    }
  }

  void publish(Publish m, Client::PublishHandler h) {
    if (stopped_) return h(make_error_code(Errc::stopped), ReasonCode::unspecified_error);
    Ticket t = 0;
    try {
      t = engine_.publish(std::move(m), now());
    } catch (const std::invalid_argument&) {
      return h(make_error_code(Errc::invalid_argument), ReasonCode::unspecified_error);
    }
    publishes_.emplace_back(t, std::move(h));
    process();
  }

  void subscribe(std::vector<Subscription> s, Properties p, Client::SubscribeHandler h) {
    if (stopped_) return h(make_error_code(Errc::stopped), {});
    RequestId id = 0;
    try {
      id = engine_.subscribe(std::move(s), now(), std::move(p));
    } catch (const std::invalid_argument&) {
      return h(make_error_code(Errc::invalid_argument), {});
    }
    requests_.emplace(id, std::move(h));
    process();
  }

  void unsubscribe(std::vector<std::string> f, Client::SubscribeHandler h) {
    if (stopped_) return h(make_error_code(Errc::stopped), {});
    RequestId id = 0;
    try {
      id = engine_.unsubscribe(std::move(f), now());
    } catch (const std::invalid_argument&) {
      return h(make_error_code(Errc::invalid_argument), {});
    }
    requests_.emplace(id, std::move(h));
    process();
  }

  void receive(Client::ReceiveHandler h) {
    if (!buffered_.empty()) {
      Publish m = std::move(buffered_.front());
      buffered_.pop_front();
      h(error_code{}, std::move(m));
      if (read_paused_ && buffered_.size() < max_buffered_messages_) {
        read_paused_ = false;
        start_read();
      }
      return;
    }
    if (stopped_) return h(make_error_code(Errc::stopped), Publish{});
    receivers_.push_back(std::move(h));
  }

  void drain(Client::DoneHandler h) {
    if (idle()) return h(error_code{});
    if (stopped_) return h(make_error_code(Errc::stopped));
    drains_.push_back(std::move(h));
  }

  void disconnect(Disconnect d, Client::DoneHandler h) {
    if (stopped_) return h(error_code{});
    disconnects_.push_back(std::move(h));
    engine_.disconnect(now(), std::move(d));
    process();
  }

  void stop() {
    if (stopped_) return;
    if (transport_) {
      transport_->close();  // no DISCONNECT: as a network failure
      transport_.reset();
      ++generation_;
      engine_.transport_closed(now());
    }
    engine_.disconnect(now());
    process();
  }

  std::function<void(const Publish&)> message_handler;
  std::function<void(const Event&)> event_handler;

 private:
  static Random seeded() {
    // Jitter only: a fresh seed per client, so fleets spread out. SplitMix64:
    // 8 bytes of state, held inside the std::function (an mt19937_64 was
    // 2.5 KB on the heap for every client).
    std::random_device rd;
    return [state = (std::uint64_t{rd()} << 32) ^ rd()]() mutable {
      std::uint64_t z = (state += 0x9E3779B97F4A7C15u);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
      return z ^ (z >> 31);
    };
  }

  Time now() const {
    return std::chrono::duration_cast<Time>(std::chrono::steady_clock::now() - origin_);
  }

  bool idle() const {
    return engine_.queued_messages() == 0 && engine_.inflight_messages() == 0 && publishes_.empty();
  }

  // After every input to the engine: its events, then its bytes, then its
  // next deadline (the engine's driver contract).
  void process() {
    do {
      while (auto e = engine_.poll_event()) {
        if (event_handler) event_handler(*e);
        std::visit([this](auto& x) { on(x); }, *e);
      }
      flush();  // closing the transport there is an input with events of its own
    } while (engine_.has_events());
    arm_timer();
    if (!drains_.empty() && idle()) {
      for (auto& h : std::exchange(drains_, {}))
        h(error_code{});
    }
  }

  void on(event::OpenTransport& o) {
    closing_ = false;
    out_.clear();
    if (websocket_path_) {
      transport_ = make_websocket_transport(strand_, *websocket_path_, tls_context_,
                                            tls_ ? &*tls_ : nullptr);
    } else {
      transport_ = tls_context_ ? make_tls_transport(strand_, tls_context_, *tls_)
                                : make_tcp_transport(strand_);
    }
    const std::uint64_t gen = ++generation_;
    transport_->async_open(o.server, [self = shared_from_this(), gen](error_code ec) {
      Impl& s = *self;
      if (gen != s.generation_) return;  // abandoned
      if (ec) {
        s.last_transport_error_ = ec;
        s.transport_.reset();
        s.engine_.transport_failed(s.now(), ec.message());
      } else {
        s.engine_.transport_opened(s.now());
        s.start_read();
      }
      s.process();
    });
  }

  void on(event::CloseTransport&) {
    if (!transport_) {  // an attempt being opened is abandoned
      ++generation_;
      return;
    }
    closing_ = true;
  }

  void on(event::Connected& c) {
    last_connack_ = c.connack;
    first_attempt_done_ = true;
    for (auto& h : std::exchange(connects_, {}))
      h(error_code{}, c.connack);
  }

  void on(event::ConnectionLost& l) {
    if (connects_.empty() || first_attempt_done_) return;
    first_attempt_done_ = true;
    error_code ec;
    switch (l.cause) {
      case Cause::unreachable:
        ec = last_transport_error_ ? last_transport_error_ : make_error_code(Errc::connect_timeout);
        break;
      case Cause::refused:
        ec = make_error_code(l.reason_code.value_or(ReasonCode::unspecified_error));
        break;
      case Cause::connect_timeout:
        ec = make_error_code(Errc::connect_timeout);
        break;
      case Cause::protocol_violation:
        ec = make_error_code(Errc::protocol_violation);
        break;
      case Cause::server_disconnect:
        ec = make_error_code(l.reason_code.value_or(ReasonCode::unspecified_error));
        break;
      default:
        ec = make_error_code(Errc::connection_lost);
    }
    for (auto& h : std::exchange(connects_, {}))
      h(ec, Connack{});
  }

  void on(event::Message& m) {
    if (message_handler) return message_handler(m.message);
    if (!receivers_.empty()) {
      auto h = std::move(receivers_.front());
      receivers_.pop_front();
      return h(error_code{}, std::move(m.message));
    }
    buffered_.push_back(std::move(m.message));
    if (buffered_.size() >= max_buffered_messages_) read_paused_ = true;
  }

  void on(event::PublishDone& d) {
    const auto it = std::lower_bound(
        publishes_.begin(), publishes_.end(), d.ticket,
        [](const std::pair<Ticket, Client::PublishHandler>& p, Ticket t) { return p.first < t; });
    if (it == publishes_.end() || it->first != d.ticket || !it->second) return;
    auto h = std::move(it->second);
    while (!publishes_.empty() && !publishes_.front().second)
      publishes_.pop_front();
    switch (d.outcome) {
      case Outcome::acknowledged:
        if (d.qos == QoS::at_most_once && transport_) {
          // QoS 0 completes once its bytes are written (flush() and the
          // write's completion below), so a fast publisher waits for the
          // socket instead of filling memory.
          return unwritten_.push_back(std::move(h));
        }
        return h(error_code{}, d.reason_code);
      case Outcome::expired:
        return h(make_error_code(Errc::expired), d.reason_code);
      default:
        return h(make_error_code(d.reason_code), d.reason_code);
    }
  }

  void on(event::SubscribeDone& d) {
    const auto it = requests_.find(d.id);
    if (it == requests_.end()) return;  // 0: the engine restoring subscriptions
    auto h = std::move(it->second);
    requests_.erase(it);
    h(error_code{}, std::move(d.reason_codes));
  }

  void on(event::UnsubscribeDone& d) {
    const auto it = requests_.find(d.id);
    if (it == requests_.end()) return;
    auto h = std::move(it->second);
    requests_.erase(it);
    h(error_code{}, std::move(d.reason_codes));
  }

  void on(event::Stopped&) {
    stopped_ = true;
    timer_.cancel();
    const error_code stopped = make_error_code(Errc::stopped);
    for (auto& h : std::exchange(connects_, {}))
      h(first_attempt_done_ ? stopped : make_error_code(Errc::connection_lost), Connack{});
    for (auto& [t, h] : std::exchange(publishes_, {})) {
      if (h) h(stopped, ReasonCode::unspecified_error);
    }
    for (auto& h : std::exchange(unwritten_, {}))
      h(stopped, ReasonCode::unspecified_error);
    for (auto& [id, h] : std::exchange(requests_, {}))
      h(stopped, {});
    for (auto& h : std::exchange(receivers_, {}))
      h(stopped, Publish{});
    for (auto& h : std::exchange(drains_, {}))
      h(stopped);
    for (auto& h : std::exchange(disconnects_, {}))
      h(error_code{});
  }

  void on(event::PacketSent&) {}
  void on(event::PacketReceived&) {}

  // ---- bytes ----------------------------------------------------------------

  void start_read() {
    if (!transport_ || read_paused_ || reading_) return;
    reading_ = true;
    const std::uint64_t gen = generation_;
    transport_->async_receive([self = shared_from_this(), gen](error_code ec, ByteView bytes) {
      Impl& s = *self;
      s.reading_ = false;
      if (gen != s.generation_) return;
      if (ec) {
        s.close_transport();
      } else {
        s.engine_.receive(bytes, s.now());
        if (s.message_handler || s.buffered_.size() < s.max_buffered_messages_) {
          s.start_read();
        } else {
          s.read_paused_ = true;
        }
      }
      s.process();
    });
  }

  void flush() {
    if (!transport_) return;
    engine_.poll_transmit(out_);
    if (writing_) return;
    if (out_.empty()) {
      if (closing_) close_transport();
      return;
    }
    writing_ = true;
    std::swap(out_, writing_buffer_);
    std::swap(unwritten_, being_written_);
    const std::uint64_t gen = generation_;
    transport_->async_write(asio::buffer(writing_buffer_), [self = shared_from_this(), gen](
                                                               error_code ec, std::size_t) {
      Impl& s = *self;
      s.writing_ = false;
      s.writing_buffer_.clear();
      s.complete_written(ec ? make_error_code(Errc::connection_lost) : error_code{});
      if (gen != s.generation_) return;
      if (ec) s.close_transport();
      s.process();
    });
  }

  void complete_written(error_code ec) {
    for (auto& h : std::exchange(being_written_, {}))
      h(ec, ReasonCode::success);
  }

  void close_transport() {
    if (!transport_) return;
    // QoS 0 bytes not written are lost with the connection.
    for (auto& h : std::exchange(unwritten_, {}))
      h(make_error_code(Errc::connection_lost), ReasonCode::success);
    transport_->close();
    transport_.reset();
    ++generation_;
    closing_ = false;
    read_paused_ = false;
    engine_.transport_closed(now());
  }

  void arm_timer() {
    const auto deadline = engine_.next_deadline();
    if (!deadline || stopped_) {
      timer_.cancel();
      return;
    }
    if (deadline == armed_) return;
    armed_ = deadline;
    timer_.expires_at(origin_ + *deadline);
    timer_.async_wait([self = shared_from_this(), at = *deadline](error_code ec) {
      Impl& s = *self;
      if (ec || s.armed_ != at) return;  // cancelled or moved
      s.armed_.reset();
      s.engine_.handle_timeout(s.now());
      s.process();
    });
  }

  asio::strand<asio::any_io_executor> strand_;
  std::optional<TlsOptions> tls_;
  std::optional<std::string> websocket_path_;
  std::size_t max_buffered_messages_;
  std::chrono::steady_clock::time_point origin_;
  Engine engine_;
  asio::steady_timer timer_;
  std::optional<Time> armed_;
  std::shared_ptr<asio::ssl::context> tls_context_;
  std::shared_ptr<Transport> transport_;
  std::uint64_t generation_ = 0;  // of transport_: handlers of an older one do nothing
  error_code last_transport_error_;
  Bytes out_;
  Bytes writing_buffer_;
  bool reading_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool read_paused_ = false;
  bool stopped_ = false;
  bool first_attempt_done_ = false;
  Connack last_connack_;

  std::vector<Client::ConnectHandler> connects_;
  // Publishes waiting for their PublishDone, in ticket order (the engine
  // numbers them as they are made): a vector, not a node per message. One
  // that completes before those ahead of it leaves an empty handler until
  // they have completed.
  Fifo<std::pair<Ticket, Client::PublishHandler>> publishes_;
  // QoS 0 publishes handed to the connection: bytes in out_ (unwritten_),
  // or in the write under way (being_written_).
  std::vector<Client::PublishHandler> unwritten_;
  std::vector<Client::PublishHandler> being_written_;
  std::map<RequestId, Client::SubscribeHandler> requests_;
  // Fifo: nothing allocated while empty (a std::deque allocates 576 bytes
  // at construction), and these two are empty in most clients.
  Fifo<Client::ReceiveHandler> receivers_;
  Fifo<Publish> buffered_;
  std::vector<Client::DoneHandler> drains_;
  std::vector<Client::DoneHandler> disconnects_;
};

}  // namespace detail

Client::Client(executor_type executor, Options options)
    : executor_(std::move(executor)),
      impl_(std::make_shared<detail::Impl>(executor_, std::move(options))) {}

Client::~Client() {
  impl_->run([](detail::Impl& i) { i.stop(); });
}

void Client::stop() {
  impl_->run([](detail::Impl& i) { i.stop(); });
}

void Client::set_message_handler(std::function<void(const mqtt::Publish&)> handler) {
  impl_->run(
      [h = std::move(handler)](detail::Impl& i) mutable { i.message_handler = std::move(h); });
}

void Client::set_event_handler(std::function<void(const Event&)> handler) {
  impl_->run([h = std::move(handler)](detail::Impl& i) mutable { i.event_handler = std::move(h); });
}

void Client::start_connect(ConnectHandler h) {
  impl_->run([h = std::move(h)](detail::Impl& i) mutable { i.connect(std::move(h)); });
}

void Client::start_publish(mqtt::Publish m, PublishHandler h) {
  impl_->run([m = std::move(m), h = std::move(h)](detail::Impl& i) mutable {
    i.publish(std::move(m), std::move(h));
  });
}

void Client::start_subscribe(std::vector<mqtt::Subscription> s, mqtt::Properties p,
                             SubscribeHandler h) {
  impl_->run([s = std::move(s), p = std::move(p), h = std::move(h)](detail::Impl& i) mutable {
    i.subscribe(std::move(s), std::move(p), std::move(h));
  });
}

void Client::start_subscribe_one(std::string filter, mqtt::QoS qos, PublishHandler h) {
  Subscription s;
  s.filter = std::move(filter);
  s.options.qos = qos;
  impl_->run([s = std::move(s), h = std::move(h)](detail::Impl& i) mutable {
    i.subscribe(
        {std::move(s)}, {},
        SubscribeHandler([h = std::move(h)](error_code ec, std::vector<ReasonCode> codes) mutable {
          const ReasonCode rc = codes.empty() ? ReasonCode::unspecified_error : codes[0];
          if (!ec && is_error(rc)) ec = make_error_code(rc);
          h(ec, rc);
        }));
  });
}

void Client::start_unsubscribe(std::vector<std::string> f, SubscribeHandler h) {
  impl_->run([f = std::move(f), h = std::move(h)](detail::Impl& i) mutable {
    i.unsubscribe(std::move(f), std::move(h));
  });
}

void Client::start_receive(ReceiveHandler h) {
  impl_->run([h = std::move(h)](detail::Impl& i) mutable { i.receive(std::move(h)); });
}

void Client::start_drain(DoneHandler h) {
  impl_->run([h = std::move(h)](detail::Impl& i) mutable { i.drain(std::move(h)); });
}

void Client::start_disconnect(mqtt::Disconnect d, DoneHandler h) {
  impl_->run([d = std::move(d), h = std::move(h)](detail::Impl& i) mutable {
    i.disconnect(std::move(d), std::move(h));
  });
}

}  // namespace assay::client
