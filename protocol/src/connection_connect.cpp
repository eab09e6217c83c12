// Connecting: CONNECT, CONNACK, AUTH (enhanced authentication) and
// DISCONNECT, in both roles, with the 5.0 negotiation of limits.
#include <stdexcept>
#include <string>

#include "assay/mqtt/connection.hpp"
#include "assay/mqtt/constants.hpp"
#include "wire.hpp"

namespace assay::mqtt {

using wire::cite;

namespace {

template <class T>
T prop_or(const Properties& props, PropertyId id, T fallback) {
  const auto v = props.integer(id);
  return v ? static_cast<T>(*v) : fallback;
}

}  // namespace

// ---- client ---------------------------------------------------------------

void Connection::connect(Connect packet, Session session, Time now) {
  require(options_.role == Role::client && state_ == State::idle,
          "connect() is called once, in the client role");
  version_ = packet.version;
  decoder_.set_version(version_);
  const Properties& props = packet.properties;
  // What we announce is what we enforce on the server.
  decoder_.set_limits(DecodeLimits{prop_or<std::uint32_t>(props, PropertyId::maximum_packet_size,
                                                          options_.maximum_packet_size)});
  receive_maximum_ =
      prop_or<std::uint16_t>(props, PropertyId::receive_maximum, default_receive_maximum);
  topic_alias_maximum_ = prop_or<std::uint16_t>(props, PropertyId::topic_alias_maximum, 0);
  if (extras_) extras_->incoming_aliases = {};  // grows as aliases arrive (to the maximum + 1)
  if (const auto* method = props.string(PropertyId::authentication_method)) {
    extras().authentication_method = *method;
  }
  session_ = std::move(session);
  session_.set_client_id(packet.client_id);
  session_.set_expiry_interval(
      version_ == Version::v5
          ? prop_or<std::uint32_t>(props, PropertyId::session_expiry_interval, 0)
          : (packet.clean_start ? 0 : session_never_expires));
  if (packet.clean_start) discard_session_state(ReasonCode::unspecified_error);
  connect_ = std::make_unique<Connect>(packet);
  state_ = State::awaiting_connack;
  send_packet(std::move(packet), now);
  set_timer(connect_timer, now + options_.connect_timeout);
}

void Connection::on_connack(Connack packet, Time now) {
  set_timer(connect_timer, std::nullopt);
  connack_code_ = packet.reason_code;
  if (packet.reason_code != ReasonCode::success) {
    emit(event::ConnectRefused{std::move(packet)});
    request_close(CloseCause::connection_refused);
    return;
  }
  const Properties& props = packet.properties;
  if (packet.session_present && connect_->clean_start) {
    return fail({ReasonCode::protocol_error, cite(version_, "MQTT-3.2.2-1", "MQTT-3.2.2-4"),
                 "Session Present after a Clean Start"},
                now);
  }
  const auto* method = props.string(PropertyId::authentication_method);
  if (authentication_method() ? (method == nullptr || *method != *authentication_method())
                              : method != nullptr) {
    return fail(
        {ReasonCode::protocol_error, authentication_method() ? "MQTT-4.12.0-5" : "MQTT-4.12.0-6",
         "CONNACK Authentication Method does not match the CONNECT"},
        now);
  }
  peer_receive_maximum_ =
      prop_or<std::uint16_t>(props, PropertyId::receive_maximum, default_receive_maximum);
  peer_maximum_packet_size_ =
      prop_or<std::uint32_t>(props, PropertyId::maximum_packet_size, max_packet_size);
  peer_topic_alias_maximum_ = prop_or<std::uint16_t>(props, PropertyId::topic_alias_maximum, 0);
  peer_maximum_qos_ = prop_or<QoS>(props, PropertyId::maximum_qos, QoS::exactly_once);
  peer_retain_available_ = prop_or<std::uint32_t>(props, PropertyId::retain_available, 1) != 0;
  // A Server Keep Alive replaces ours [MQTT-3.2.2-21].
  keep_alive_ = prop_or<std::uint16_t>(props, PropertyId::server_keep_alive, connect_->keep_alive);
  if (const auto* id = props.string(PropertyId::assigned_client_identifier)) {
    session_.set_client_id(*id);
  }
  if (const auto e = props.integer(PropertyId::session_expiry_interval)) {
    session_.set_expiry_interval(*e);
  }
  state_ = State::connected;
  restart_keep_alive(now);
  const bool session_present = packet.session_present;
  emit(event::Connected{std::move(packet)});
  start_session(session_present, now);
}

// ---- server ---------------------------------------------------------------

void Connection::on_connect(Connect packet, Time now) {
  version_ = packet.version;
  const Properties& props = packet.properties;
  keep_alive_ = packet.keep_alive;
  peer_receive_maximum_ =
      prop_or<std::uint16_t>(props, PropertyId::receive_maximum, default_receive_maximum);
  peer_maximum_packet_size_ =
      prop_or<std::uint32_t>(props, PropertyId::maximum_packet_size, max_packet_size);
  peer_topic_alias_maximum_ = prop_or<std::uint16_t>(props, PropertyId::topic_alias_maximum, 0);
  peer_wants_problem_information_ =
      prop_or<std::uint32_t>(props, PropertyId::request_problem_information, 1) != 0;
  if (const auto* method = props.string(PropertyId::authentication_method)) {
    extras().authentication_method = *method;
  }
  connect_ = std::make_unique<Connect>(packet);
  will_declared_ = packet.will.has_value();
  if (version_ == Version::v3_1_1 && packet.client_id.empty() && !packet.clean_start) {
    // [MQTT-3.1.3-8]: CONNACK 0x02 (Identifier rejected), then close.
    return fail({ReasonCode::client_identifier_not_valid, "MQTT-3.1.3-8",
                 "zero-length ClientId with CleanSession 0"},
                now);
  }
  state_ = State::awaiting_decision;
  emit(event::ConnectReceived{std::move(packet)});
}

void Connection::accept(Connack connack, Session session, Time now) {
  if (ended()) return;  // the connection failed while the event waited
  require(options_.role == Role::server && state_ == State::awaiting_decision,
          "accept() answers a ConnectReceived or AuthReceived event");
  require(connack.reason_code == ReasonCode::success, "accept() needs Reason Code Success");
  require(!(connack.session_present && connect_->clean_start),
          "Session Present after Clean Start [MQTT-3.2.2-2]");
  Properties& props = connack.properties;
  if (version_ == Version::v5) {
    const auto* method = props.string(PropertyId::authentication_method);
    require(authentication_method() ? (method != nullptr && *method == *authentication_method())
                                    : method == nullptr,
            "the CONNACK Authentication Method must match the CONNECT [MQTT-4.12.0-5/6]");
    // Response Information only when asked for [MQTT-3.1.2-28].
    if (prop_or<std::uint32_t>(connect_->properties, PropertyId::request_response_information, 0) ==
        0) {
      props.erase(PropertyId::response_information);
    }
  }
  receive_maximum_ =
      prop_or<std::uint16_t>(props, PropertyId::receive_maximum, default_receive_maximum);
  topic_alias_maximum_ = prop_or<std::uint16_t>(props, PropertyId::topic_alias_maximum, 0);
  if (extras_) extras_->incoming_aliases = {};  // grows as aliases arrive (to the maximum + 1)
  maximum_qos_ = prop_or<QoS>(props, PropertyId::maximum_qos, QoS::exactly_once);
  retain_available_ = prop_or<std::uint32_t>(props, PropertyId::retain_available, 1) != 0;
  decoder_.set_limits(DecodeLimits{prop_or<std::uint32_t>(props, PropertyId::maximum_packet_size,
                                                          options_.maximum_packet_size)});
  // The Server Keep Alive, if sent, is the one in force [MQTT-3.2.2-22].
  keep_alive_ = prop_or<std::uint16_t>(props, PropertyId::server_keep_alive, keep_alive_);

  session_ = std::move(session);
  if (const auto* id = props.string(PropertyId::assigned_client_identifier)) {
    session_.set_client_id(*id);
  } else if (session_.client_id().empty()) {
    session_.set_client_id(connect_->client_id);
  }
  const auto* requested = &connect_->properties;
  session_.set_expiry_interval(
      version_ == Version::v5
          ? prop_or<std::uint32_t>(
                props, PropertyId::session_expiry_interval,
                prop_or<std::uint32_t>(*requested, PropertyId::session_expiry_interval, 0))
          : (connect_->clean_start ? 0 : session_never_expires));
  set_timer(connect_timer, std::nullopt);
  connect_.reset();  // answered; what the connection still needs is kept above
  connack_code_ = connack.reason_code;
  send_packet(connack, now);
  connack_sent_ = true;
  state_ = State::connected;
  restart_keep_alive(now);
  const bool session_present = connack.session_present;
  emit(event::Connected{std::move(connack)});
  start_session(session_present, now);
  receive(ByteView{}, now);  // packets the client sent after CONNECT
}

void Connection::reject(Connack connack, Time now) {
  if (ended()) return;
  require(options_.role == Role::server && state_ == State::awaiting_decision,
          "reject() answers a ConnectReceived or AuthReceived event");
  require(is_error(connack.reason_code), "reject() needs a Reason Code of 0x80 or more");
  require(!connack.session_present, "Session Present must be 0 on refusal [MQTT-3.2.2-6]");
  connack.reason_code = for_version(connack.reason_code, PacketType::connack, version_);
  connack_code_ = connack.reason_code;
  send_packet(std::move(connack), now);
  connack_sent_ = true;
  request_close(CloseCause::connection_refused);
}

// ---- enhanced authentication (5.0 §4.12) ---------------------------------

void Connection::auth(Auth packet, Time now) {
  if (ended()) return;
  require(version_ == Version::v5, "AUTH exists only in MQTT 5.0");
  require(authentication_method() != nullptr,
          "AUTH needs an Authentication Method in CONNECT [MQTT-4.12.0-6/7]");
  const auto* method = packet.properties.string(PropertyId::authentication_method);
  require(method != nullptr && *method == *authentication_method(),
          "AUTH must carry the CONNECT's Authentication Method [MQTT-4.12.0-5]");
  const bool connecting = state_ == State::awaiting_decision || state_ == State::awaiting_connack;
  require(connecting || state_ == State::connected, "auth() while not connecting or connected");
  if (connecting) {
    require(packet.reason_code == ReasonCode::continue_authentication,
            "AUTH during CONNECT carries Continue authentication [MQTT-4.12.0-2/3]");
  }
  send_packet(std::move(packet), now);
}

void Connection::on_auth(Auth packet, Time now) {
  const bool server = options_.role == Role::server;
  if (!authentication_method()) {
    return fail({ReasonCode::protocol_error, server ? "MQTT-4.12.0-7" : "MQTT-4.12.0-6",
                 "AUTH without an Authentication Method in CONNECT"},
                now);
  }
  const auto* method = packet.properties.string(PropertyId::authentication_method);
  if (method == nullptr || *method != *authentication_method()) {
    return fail({ReasonCode::protocol_error, "MQTT-4.12.0-5",
                 "AUTH Authentication Method differs from the CONNECT's"},
                now);
  }
  const ReasonCode rc = packet.reason_code;
  const bool connecting = state_ != State::connected;
  bool ok = false;
  if (connecting) {
    ok = rc == ReasonCode::continue_authentication;  // [MQTT-4.12.0-2], [MQTT-4.12.0-3]
  } else if (server) {
    ok = rc == ReasonCode::re_authenticate || rc == ReasonCode::continue_authentication;
  } else {
    ok = rc == ReasonCode::continue_authentication || rc == ReasonCode::success;
  }
  if (!ok) {
    return fail({ReasonCode::protocol_error, connecting ? "§4.12" : "§4.12.1",
                 "AUTH Reason Code does not fit the authentication exchange"},
                now);
  }
  emit(event::AuthReceived{std::move(packet)});
}

// ---- DISCONNECT -----------------------------------------------------------

void Connection::on_disconnect(Disconnect packet, Time now) {
  if (version_ == Version::v5) {
    const auto expiry = packet.properties.integer(PropertyId::session_expiry_interval);
    if (expiry && options_.role == Role::client) {
      return fail({ReasonCode::protocol_error, "MQTT-3.14.2-2",
                   "a server sent Session Expiry Interval in DISCONNECT"},
                  now);
    }
    if (expiry && options_.role == Role::server) {
      if (*expiry != 0 && session_.expiry_interval() == 0) {
        return fail({ReasonCode::protocol_error, "§3.14.2.2.2",
                     "non-zero Session Expiry Interval in DISCONNECT after 0 in CONNECT"},
                    now);
      }
      session_.set_expiry_interval(*expiry);
    }
  }
  // 3.1.1: any DISCONNECT is normal; 5.0: Reason Code 0x00 [MQTT-3.14.4-3].
  normal_disconnect_received_ = packet.reason_code == ReasonCode::success;
  emit(event::DisconnectReceived{std::move(packet)});
  request_close(CloseCause::disconnect_received);
}

}  // namespace assay::mqtt
