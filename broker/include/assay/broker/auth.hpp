// The engine's security interfaces: who may connect (Authenticator) and what
// a connected client may publish, subscribe to and receive (Authorizer). The
// default, AllowAll, lets everything through; `assay broker` plugs in its
// password and ACL files here (broker/security/, docs/broker.md). Both are
// called on the engines' threads, several at once, with no I/O expected: an
// implementation that must consult a remote service caches.
#pragma once

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
