// The engine's security interfaces: who may connect (Authenticator) and what
// a connected client may publish, subscribe to and receive (Authorizer). The
// default, AllowAll, lets everything through; `assay broker` plugs in its
// password and ACL files here (broker/security/, docs/broker.md). Both are
// called on the engines' threads, several at once, with no I/O expected: an
// implementation that must consult a remote service caches.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "assay/mqtt/packets.hpp"
#include "assay/mqtt/time.hpp"

namespace assay::broker {

// A connected client as the Authorizer sees it (views valid for the call).
struct Principal {
  std::string_view client_id;
  std::optional<std::string_view> username;
};

// Where a CONNECT came from, as the driver told the engine (Engine::open).
struct ConnectContext {
  std::string_view peer;  // "address:port"; empty when the driver has none
  mqtt::Time now{0};
  // The identity of a client certificate the TLS handshake verified, when
  // its listener uses it as the user name (Engine::set_identity); empty
  // otherwise. It replaces the CONNECT's user name and needs no password.
  std::string_view certificate_identity;
  // A re-authentication (or a CONNECT whose certificate names the user):
  // the user the exchange must prove; empty otherwise.
  std::string_view expected_user;
};

// 5.0 enhanced authentication (§4.12): one exchange of Authentication Data,
// from CONNECT to CONNACK or, for a re-authentication, from AUTH 0x19 to
// AUTH 0x00. The engine feeds it the data of the CONNECT (or AUTH 0x19) and
// then of each AUTH 0x18 the client answers with, and sends what each step
// returns: AUTH 0x18 for a challenge [MQTT-4.12.0-2], CONNACK 0x00 or
// AUTH 0x00 for success, CONNACK (or DISCONNECT) with the refusal code
// otherwise [MQTT-4.12.0-4], [MQTT-4.12.1-2]. A client that stops answering
// is closed by the CONNECT timeout.
class AuthExchange {
 public:
  struct Step {
    enum class Kind : std::uint8_t { challenge, success, refused };
    Kind kind = Kind::refused;
    // Sent as Authentication Data: in AUTH 0x18 (challenge), in CONNACK or
    // AUTH 0x00 (success, when not empty).
    mqtt::Bytes data;
    mqtt::ReasonCode refusal = mqtt::ReasonCode::not_authorized;
    // Success: the user name who proved itself, as the Authorizer sees it.
    std::string username;
  };
  virtual ~AuthExchange() = default;
  // `data`: the Authentication Data received (nullopt: the packet had none).
  virtual Step step(const std::optional<mqtt::Bytes>& data, mqtt::Time now) = 0;
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // Success, or the CONNACK Reason Code to refuse with: 0x86 (Bad User Name
  // or Password), 0x87 (Not authorized), 0x8A (Banned), ... A 3.1.1 client
  // gets the return code of the same meaning (mqtt::for_version: 0x86 -> 4,
  // 0x87 and 0x8A -> 5, 0x85 -> 2, 0x88 -> 3; anything else -> 3).
  virtual mqtt::ReasonCode authenticate(const mqtt::Connect& connect,
                                        const ConnectContext& context) = 0;
  // An exchange for a CONNECT (or AUTH 0x19) naming Authentication Method
  // `method`, or nullptr when this broker does not know the method: the
  // CONNECT is refused with 0x8C (Bad authentication method)
  // [MQTT-4.12.0-1]. With an exchange, authenticate() is not called: the
  // exchange decides alone.
  virtual std::unique_ptr<AuthExchange> exchange(std::string_view method,
                                                 std::string_view client_id,
                                                 const ConnectContext& context) {
    (void)method;
    (void)client_id;
    (void)context;
    return nullptr;
  }
};

class Authorizer {
 public:
  virtual ~Authorizer() = default;
  // A PUBLISH that may not be published is acknowledged with 0x87 (5.0) or
  // dropped after its acknowledgement (3.1.1, which has no way to say no).
  virtual bool may_publish(const Principal& who, std::string_view topic) = 0;
  // A filter that may not be subscribed gets SUBACK 0x87 (5.0) or 0x80.
  // A shared subscription is authorised as its filter: the engine passes
  // "f" for "$share/g/f".
  virtual bool may_subscribe(const Principal& who, std::string_view filter) = 0;
  // Whether a message published to `topic` may reach `who` (a subscription
  // may reach into a part of the tree it may not read, and rules change on a
  // reload). Asked for each copy, and for each retained message sent at
  // subscribe, only when checks_reads() is true.
  virtual bool may_read(const Principal& who, std::string_view topic) {
    (void)who;
    (void)topic;
    return true;
  }
  virtual bool checks_reads() const { return false; }
};

class AllowAll final : public Authenticator, public Authorizer {
 public:
  mqtt::ReasonCode authenticate(const mqtt::Connect&, const ConnectContext&) override {
    return mqtt::ReasonCode::success;
  }
  bool may_publish(const Principal&, std::string_view) override { return true; }
  bool may_subscribe(const Principal&, std::string_view) override { return true; }
};

}  // namespace assay::broker
