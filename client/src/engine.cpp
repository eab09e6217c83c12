// The client engine's frame: inputs, the life of each connection, and what
// the protocol Connection's events become.
#include "assay/client/engine.hpp"

#include <stdexcept>
#include <utility>

#include "assay/mqtt/topic.hpp"

namespace assay::client {

using namespace mqtt;

std::string_view to_string(Cause c) {
  switch (c) {
    case Cause::unreachable:
      return "unreachable";
    case Cause::connect_timeout:
      return "connect_timeout";
    case Cause::refused:
      return "refused";
    case Cause::server_disconnect:
      return "server_disconnect";
    case Cause::keep_alive_timeout:
      return "keep_alive_timeout";
    case Cause::protocol_violation:
      return "protocol_violation";
    case Cause::transport_closed:
      return "transport_closed";
    case Cause::local:
      return "local";
  }
  return "unknown";
}

namespace {

Cause cause_of(CloseCause c) {
  switch (c) {
    case CloseCause::disconnect_sent:
      return Cause::local;
    case CloseCause::disconnect_received:
      return Cause::server_disconnect;
    case CloseCause::protocol_violation:
      return Cause::protocol_violation;
    case CloseCause::keep_alive_timeout:
      return Cause::keep_alive_timeout;
    case CloseCause::connect_timeout:
      return Cause::connect_timeout;
    case CloseCause::connection_refused:
      return Cause::refused;
    case CloseCause::transport_closed:
      return Cause::transport_closed;
  }
  return Cause::transport_closed;
}

// Whether the server can keep our session after a connection ends.
bool session_outlives_connection(const Connect& c) {
  if (c.version == Version::v3_1_1) return !c.clean_start;
  return c.properties.integer(PropertyId::session_expiry_interval).value_or(0) > 0;
}

}  // namespace

Engine::Engine(ClientConfig config, Random random, Time now)
    : config_(std::move(config)), random_(std::move(random)) {
  if (config_.servers.empty()) throw std::invalid_argument("client: no server to connect to");
  if (!random_) throw std::invalid_argument("client: no random source");
  const Connect& c = config_.connect;
  if (c.version == Version::v3_1_1 && c.client_id.empty() && !c.clean_start) {
    // The server must refuse it [MQTT-3.1.3-8]: say so before trying.
    throw std::invalid_argument(
        "client: a 3.1.1 client with an empty client id needs CleanSession 1");
  }
  if (c.version == Version::v3_1_1 && !c.properties.empty()) {
    throw std::invalid_argument("client: CONNECT properties need MQTT 5.0");
  }
  session_ = Session(c.client_id);
  if (config_.store) load(now);
}

Engine::~Engine() = default;

const Server& Engine::server() const {
  if (redirect_) return *redirect_;
  return config_.servers[server_index_ % config_.servers.size()];
}

std::size_t Engine::inflight_messages() const {
  return session().inflight().size();
}

// ---- inputs ---------------------------------------------------------------

void Engine::start(Time now) {
  if (state_ != State::idle) throw std::logic_error("client: start() is called once");
  open_transport(now);
}

void Engine::open_transport(Time now) {
  state_ = State::opening;
  close_emitted_ = false;
  timer_ = now + config_.connect_timeout;
  emit(event::OpenTransport{server(), ++attempts_});
}

void Engine::transport_failed(Time now, std::string why) {
  if (state_ != State::opening) return;  // abandoned already
  timer_ = Time::max();
  lost(Loss{Cause::unreachable, std::nullopt, std::move(why), std::nullopt, false}, now);
}

void Engine::transport_opened(Time now) {
  if (state_ != State::opening) return;  // abandoned (CloseTransport was emitted)
  timer_ = Time::max();
  ConnectionOptions o;
  o.role = Role::client;
  o.version = config_.connect.version;
  o.connect_timeout = config_.connect_timeout;
  o.ping_timeout = config_.ping_timeout;
  o.auto_topic_alias = config_.topic_aliases;
  o.trace_packets = config_.trace_packets;
  o.planted_resend_without_dup = config_.planted_bug == PlantedBug::resend_without_dup;
  conn_ = std::make_unique<Connection>(o, now);
  loss_.reset();
  connected_at_ = Time::max();
  state_ = State::connecting;
  // Until CONNACK tells whether the server kept the session, remember what
  // is in flight: a lost session means sending it again as new.
  unconfirmed_.clear();
  if (config_.planted_bug == PlantedBug::forget_inflight_on_resume) {
    Session emptied(session_.client_id());
    emptied.set_expiry_interval(session_.expiry_interval());
    session_ = std::move(emptied);
  }
  if (config_.resend_after_session_loss) {
    for (const InFlight& f : session_.inflight())
      unconfirmed_.emplace(f.ticket, f);
  }
  conn_->connect(next_connect(), std::exchange(session_, Session{}), now);
  pump(now);
}

Connect Engine::next_connect() const {
  Connect c = config_.connect;
  if (session_started_ && session_outlives_connection(config_.connect)) c.clean_start = false;
  if (config_.authenticator && c.version == Version::v5) {
    c.properties.set(PropertyId::authentication_method, config_.authenticator->method());
    if (auto data = config_.authenticator->initial_data()) {
      c.properties.set(PropertyId::authentication_data, std::move(*data));
    }
  }
  return c;
}

void Engine::receive(ByteView bytes, Time now) {
  if (!conn_) return;
  conn_->receive(bytes, now);
  pump(now);
}

void Engine::transport_closed(Time now) {
  if (!conn_) return;  // nothing open (an abandoned attempt, or already ended)
  conn_->transport_closed(now);
  pump(now);
}

void Engine::handle_timeout(Time now) {
  if (timer_ <= now) {
    timer_ = Time::max();
    if (state_ == State::waiting) {
      open_transport(now);
    } else if (state_ == State::opening) {
      emit(event::CloseTransport{});  // abandon the attempt
      lost(Loss{Cause::unreachable, std::nullopt, "not connected within connect_timeout",
                std::nullopt, false},
           now);
    }
  }
  if (conn_) {
    if (const auto d = conn_->next_deadline(); d && *d <= now) conn_->handle_timeout(now);
    pump(now);
  }
  persist();
}

std::optional<Time> Engine::next_deadline() const {
  Time next = timer_;
  if (conn_) {
    if (const auto d = conn_->next_deadline()) next = std::min(next, *d);
  }
  if (next == Time::max()) return std::nullopt;
  return next;
}

// ---- commands -------------------------------------------------------------

void Engine::disconnect(Time now, Disconnect packet) {
  if (state_ == State::stopped) return;
  stopping_ = true;
  if (conn_ && !conn_->ended()) {
    if (conn_->state() == Connection::State::connected) {
      conn_->disconnect(std::move(packet), now);
    } else {
      conn_->close(CloseCause::disconnect_sent, now);  // before CONNACK: just close
    }
    pump(now);
    return;
  }
  if (conn_) return;  // closing already: Stopped comes with the close
  if (state_ == State::opening) emit(event::CloseTransport{});
  timer_ = Time::max();
  stop(Cause::local, std::nullopt);
  persist();
}

void Engine::reauthenticate(Time now) {
  if (!config_.authenticator)
    throw std::logic_error("client: reauthenticate() needs an Authenticator");
  if (!conn_ || state_ != State::connected || config_.connect.version != Version::v5) return;
  Auth a;
  a.reason_code = ReasonCode::re_authenticate;
  a.properties.set(PropertyId::authentication_method, config_.authenticator->method());
  if (auto data = config_.authenticator->initial_data()) {
    a.properties.set(PropertyId::authentication_data, std::move(*data));
  }
  conn_->auth(std::move(a), now);
  pump(now);
}

// ---- outputs --------------------------------------------------------------

std::optional<Event> Engine::poll_event() {
  if (events_.empty()) return std::nullopt;
  // A message reaches the application only once its QoS 2 state is durable.
  sync_store();
  std::optional<Event> e(std::in_place, std::move(events_.front()));
  events_.pop_front();
  return e;
}

bool Engine::poll_transmit(Bytes& out) {
  if (!conn_) return false;
  // Nothing leaves before what it depends on is durable (a PUBLISH before its
  // record, a PUBREL before its stage, a PUBREC before its Packet Identifier).
  sync_store();
  return conn_->poll_transmit(out);
}

// ---- the connection's events ----------------------------------------------

void Engine::pump(Time now) {
  bool connected_now = false;
  while (conn_) {
    bool any = false;
    while (conn_) {
      auto e = conn_->poll_event();
      if (!e) break;
      any = true;
      if (std::holds_alternative<mqtt::event::Connected>(*e)) connected_now = true;
      on_connection_event(*e, now);
    }
    if (!requeue_.empty()) requeue_lost();
    if (connected_now) unconfirmed_.clear();
    if (state_ == State::connected) {
      send_requests(now);
      drain(now);
    }
    if (!any) break;
  }
  if (!requeue_.empty()) requeue_lost();
  persist();
}

void Engine::on_connection_event(mqtt::Event& e, Time now) {
  using namespace mqtt::event;
  std::visit(
      [&](auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, PacketSent>) {
          emit(event::PacketSent{std::move(x.packet)});
        } else if constexpr (std::is_same_v<T, PacketReceived>) {
          emit(event::PacketReceived{std::move(x.packet)});
        } else if constexpr (std::is_same_v<T, Connected>) {
          on_connected(x.connack, now);
        } else if constexpr (std::is_same_v<T, ConnectRefused>) {
          loss_ = Loss{Cause::refused, x.connack.reason_code, {}, std::nullopt, false};
          if (const auto* ref = x.connack.properties.string(PropertyId::server_reference)) {
            const auto rc = x.connack.reason_code;
            if (rc == ReasonCode::use_another_server || rc == ReasonCode::server_moved) {
              loss_->reference = parse_server(*ref, server().port);
              loss_->moved = rc == ReasonCode::server_moved;
            }
          }
          if (const auto* why = x.connack.properties.string(PropertyId::reason_string)) {
            loss_->detail = *why;
          }
        } else if constexpr (std::is_same_v<T, MessageReceived>) {
          emit(event::Message{std::move(x.message)});
        } else if constexpr (std::is_same_v<T, PublishCompleted>) {
          on_publish_completed(x);
        } else if constexpr (std::is_same_v<T, SubscribeAcked>) {
          on_subscribe_acked(x.suback);
        } else if constexpr (std::is_same_v<T, UnsubscribeAcked>) {
          on_unsubscribe_acked(x.unsuback);
        } else if constexpr (std::is_same_v<T, DisconnectReceived>) {
          const Disconnect& d = x.disconnect;
          loss_ = Loss{Cause::server_disconnect, d.reason_code, {}, std::nullopt, false};
          if (const auto* why = d.properties.string(PropertyId::reason_string))
            loss_->detail = *why;
          const auto* ref = d.properties.string(PropertyId::server_reference);
          if (ref != nullptr && (d.reason_code == ReasonCode::use_another_server ||
                                 d.reason_code == ReasonCode::server_moved)) {
            loss_->reference = parse_server(*ref, server().port);
            loss_->moved = d.reason_code == ReasonCode::server_moved;
          }
        } else if constexpr (std::is_same_v<T, AuthReceived>) {
          on_auth(x.auth, now);
        } else if constexpr (std::is_same_v<T, ViolationDetected>) {
          if (!loss_) {
            loss_ = Loss{Cause::protocol_violation, x.violation.reason,
                         x.violation.detail + " [" + std::string(x.violation.statement) + "]",
                         std::nullopt, false};
          }
        } else if constexpr (std::is_same_v<T, CloseRequested>) {
          if (!loss_) loss_ = Loss{cause_of(x.cause), std::nullopt, {}, std::nullopt, false};
          state_ = State::closing;
          if (!close_emitted_) {
            close_emitted_ = true;
            emit(event::CloseTransport{});
          }
        } else if constexpr (std::is_same_v<T, Closed>) {
          if (!loss_) loss_ = Loss{cause_of(x.cause), std::nullopt, {}, std::nullopt, false};
          on_closed(now);
        }
        // ConnectReceived, SubscribeReceived, UnsubscribeReceived: server role only.
      },
      e);
}

void Engine::on_connected(const Connack& connack, Time now) {
  if (config_.authenticator && config_.connect.version == Version::v5 &&
      !config_.authenticator->completed(connack.properties)) {
    loss_ = Loss{Cause::refused, ReasonCode::not_authorized,
                 "the server's authentication did not verify", std::nullopt, false};
    conn_->disconnect(Disconnect{ReasonCode::not_authorized, {}, {}}, now);
    return;
  }
  state_ = State::connected;
  connected_at_ = now;
  redirected_ = false;
  session_started_ = true;
  // The server's Assigned Client Identifier is ours from now on.
  if (const auto* id = connack.properties.string(PropertyId::assigned_client_identifier)) {
    config_.connect.client_id = *id;
  }
  if (!connack.session_present) restore_subscriptions();
  const Connect* sent = conn_->connect_packet();
  emit(event::Connected{connack, connack.session_present, sent != nullptr && sent->clean_start});
}

void Engine::on_auth(const Auth& auth, Time now) {
  if (!config_.authenticator) {
    loss_ = Loss{Cause::protocol_violation, ReasonCode::protocol_error,
                 "AUTH without an Authenticator", std::nullopt, false};
    conn_->disconnect(Disconnect{ReasonCode::protocol_error, {}, {}}, now);
    return;
  }
  if (auth.reason_code == ReasonCode::success) {  // a re-authentication ended
    if (!config_.authenticator->completed(auth.properties)) {
      conn_->disconnect(Disconnect{ReasonCode::not_authorized, {}, {}}, now);
    }
    return;
  }
  auto data = config_.authenticator->respond(auth);
  if (!data) {
    loss_ = Loss{Cause::refused, ReasonCode::not_authorized, "authentication abandoned",
                 std::nullopt, false};
    conn_->disconnect(Disconnect{ReasonCode::not_authorized, {}, {}}, now);
    return;
  }
  Auth answer;
  answer.reason_code = ReasonCode::continue_authentication;
  answer.properties.set(PropertyId::authentication_method, config_.authenticator->method());
  answer.properties.set(PropertyId::authentication_data, std::move(*data));
  conn_->auth(std::move(answer), now);
}

void Engine::on_closed(Time now) {
  session_ = conn_->take_session();
  conn_.reset();
  unconfirmed_.clear();
  // Requests in flight are sent again on the next connection.
  for (Request& r : requests_)
    r.packet_id = 0;
  Loss loss = loss_.value_or(Loss{});
  loss_.reset();
  lost(std::move(loss), now);
}

void Engine::lost(Loss loss, Time now) {
  if (stopping_) {
    emit(event::ConnectionLost{Cause::local, loss.reason_code, std::move(loss.detail),
                               std::nullopt});
    return stop(Cause::local, std::nullopt);
  }
  schedule_retry(loss, now);
}

void Engine::stop(Cause cause, std::optional<ReasonCode> rc) {
  state_ = State::stopped;
  timer_ = Time::max();
  emit(event::Stopped{cause, rc});
}

}  // namespace assay::client
