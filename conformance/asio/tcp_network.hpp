// The product transport: TCP to any broker, optionally with TLS and/or MQTT
// over WebSocket, with Boost.Asio and Boost.Beast.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "assay/conformance/network.hpp"

namespace assay::conformance {

struct TcpOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 1883;
  bool tls = false;
  std::optional<std::string> cafile;  // verify the server against it (TLS)
  bool insecure = false;              // TLS without verifying the server
  // MQTT over WebSocket on this HTTP path (subprotocol "mqtt"), over TLS
  // when `tls` is set; plain MQTT when unset.
  std::optional<std::string> websocket_path;
  std::chrono::milliseconds connect_timeout{5000};
};

class TcpNetwork : public Network {
 public:
  explicit TcpNetwork(TcpOptions options);
  ~TcpNetwork() override;

  std::unique_ptr<Link> connect() override;
  Time now() override;
  void wait(Time until) override;
  std::string describe() const override;

  struct Impl;  // the Asio state, shared with the links (defined in the .cpp)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace assay::conformance
