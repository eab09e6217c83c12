#include "assay/client/error.hpp"

#include <string>

namespace assay::client {

namespace {

// Boost.System's categories are meant to be derived from, but its base has a
// non-virtual destructor (instances are never deleted through it).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"

class ReasonCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "mqtt.reason"; }
  std::string message(int value) const override {
    const auto rc = static_cast<mqtt::ReasonCode>(value);
    if (value < 0 || value > 255 || !mqtt::is_defined(rc)) {
      return "reason code " + std::to_string(value);
    }
    // The name as the first packet that may carry it says it.
    for (const auto t : {mqtt::PacketType::connack, mqtt::PacketType::puback,
                         mqtt::PacketType::suback, mqtt::PacketType::disconnect}) {
      if (mqtt::allowed_in(rc, t)) return std::string(mqtt::name(rc, t));
    }
    return std::string(mqtt::name(rc, mqtt::PacketType::disconnect));
  }
};

class ClientCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "mqtt.client"; }
  std::string message(int value) const override {
    switch (static_cast<Errc>(value)) {
      case Errc::stopped:
        return "the client was stopped";
      case Errc::connect_timeout:
        return "no CONNACK in time";
      case Errc::connection_lost:
        return "the connection was lost";
      case Errc::protocol_violation:
        return "the server broke the protocol";
      case Errc::expired:
        return "the message expired while queued";
      case Errc::keep_alive_timeout:
        return "the server did not answer PINGREQ in time";
      case Errc::invalid_argument:
        return "invalid argument";
    }
    return "client error " + std::to_string(value);
  }
};

#pragma GCC diagnostic pop

}  // namespace

const boost::system::error_category& reason_category() {
  static const ReasonCategory c;
  return c;
}

error_code make_error_code(mqtt::ReasonCode rc) {
  return {static_cast<int>(rc), reason_category()};
}

const boost::system::error_category& client_category() {
  static const ClientCategory c;
  return c;
}

error_code make_error_code(Errc e) {
  return {static_cast<int>(e), client_category()};
}

}  // namespace assay::client
