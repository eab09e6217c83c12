// 5.0 enhanced authentication (§4.12): the AUTH exchange between CONNECT and
// CONNACK, and re-authentication on a connected client, driven by the
// Authenticator's AuthExchange (auth.hpp). The Connection has already
// checked each AUTH's method and Reason Code [MQTT-4.12.0-5], [MQTT-4.12.0-7].
#include "engine_internals.hpp"

namespace assay::broker {

using namespace assay::mqtt;
using namespace assay::broker::detail;

namespace {

Auth auth_packet(ReasonCode rc, const std::string& method, Bytes data) {
  Auth a;
  a.reason_code = rc;
  a.properties.set(PropertyId::authentication_method, method);  // [MQTT-4.12.0-5]
  if (!data.empty()) a.properties.set(PropertyId::authentication_data, std::move(data));
  return a;
}

}  // namespace

void Engine::on_auth(Link& link, const Auth& auth, Time now) {
  const std::string* method = link.conn.authentication_method();
  if (method == nullptr) return;  // the Connection refused it already [MQTT-4.12.0-7]
  const Bytes* data = auth.properties.binary(PropertyId::authentication_data);
  const std::optional<Bytes> received = data ? std::optional<Bytes>(*data) : std::nullopt;
  const bool connecting = link.stage != Stage::answered;
  const bool under_way = link.origin && link.origin->exchange;
  if (auth.reason_code == ReasonCode::re_authenticate && !connecting && !under_way) {
    // [MQTT-4.12.1-1]: a new exchange with the same method, on a connection
    // that goes on serving meanwhile.
    ConnectContext context{
        link.origin ? std::string_view(link.origin->peer) : std::string_view(), now, {}, {}};
    if (link.username) context.expected_user = *link.username;
    auto exchange = config_.authenticator->exchange(*method, link.client_id(), context);
    if (!exchange) {
      link.conn.disconnect(Disconnect{ReasonCode::bad_authentication_method, {}, {}}, now);
      return;
    }
    link.origin_for_update().exchange = std::move(exchange);
    return auth_step(link, received, now);
  }
  if (auth.reason_code == ReasonCode::continue_authentication && under_way) {
    return auth_step(link, received, now);
  }
  // An answer to no challenge, or a re-authentication inside another.
  if (connecting) {
    link.to(Stage::answered);
    link.conn.reject(Connack{false, ReasonCode::protocol_error, {}}, now);
  } else {
    link.conn.disconnect(Disconnect{ReasonCode::protocol_error, {}, {}}, now);
  }
}

void Engine::auth_step(Link& link, const std::optional<Bytes>& data, Time now) {
  Link::Origin& origin = *link.origin;
  const std::string method = *link.conn.authentication_method();
  AuthExchange::Step step = origin.exchange->step(data, now);
  const bool connecting = link.stage != Stage::answered;
  if (step.kind == AuthExchange::Step::Kind::challenge) {
    link.conn.auth(auth_packet(ReasonCode::continue_authentication, method, std::move(step.data)),
                   now);  // [MQTT-4.12.0-2]
    return;
  }
  origin.exchange.reset();
  if (step.kind == AuthExchange::Step::Kind::refused) {
    const ReasonCode rc = is_error(step.refusal) ? step.refusal : ReasonCode::not_authorized;
    if (connecting) {
      link.to(Stage::answered);
      link.conn.reject(Connack{false, rc, {}}, now);  // [MQTT-4.12.0-4]
    } else {
      // DISCONNECT has no 0x86: a wrong proof is Not authorized there.
      const ReasonCode code =
          allowed_in(rc, PacketType::disconnect) ? rc : ReasonCode::not_authorized;
      link.conn.disconnect(Disconnect{code, {}, {}}, now);  // [MQTT-4.12.1-2]
    }
    return;
  }
  if (connecting) {
    // Accepted (or refused for another reason) by on_connect, which sees
    // the exchange done; it answers a copy, as answering frees the
    // Connection's CONNECT.
    origin.authenticated = std::move(step.username);
    origin.server_final = std::move(step.data);
    if (const Connect* waiting = link.conn.connect_packet()) {
      const Connect connect = *waiting;
      on_connect(link, connect, now);
    }
    return;
  }
  // A re-authentication may not change who the connection is: its
  // subscriptions and rights were granted to that user.
  if (!link.username || *link.username != step.username) {
    link.conn.disconnect(Disconnect{ReasonCode::not_authorized, {}, {}}, now);  // [MQTT-4.12.1-2]
    return;
  }
  link.conn.auth(auth_packet(ReasonCode::success, method, std::move(step.data)), now);
}

}  // namespace assay::broker
