#include "client_tool.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <cstdio>
#include <iostream>

namespace assay::tools {

using namespace mqtt;

namespace {

std::string connack_text(ReasonCode rc, Version v) {
  if (v == Version::v3_1_1) {
    switch (connack_code_v311(rc).value_or(255)) {
      case 1:
        return "Connection Refused: unacceptable protocol version.";
      case 2:
        return "Connection Refused: identifier rejected.";
      case 3:
        return "Connection Refused: broker unavailable.";
      case 4:
        return "Connection Refused: bad user name or password.";
      case 5:
        return "Connection Refused: not authorised.";
      default:
        return "Connection Refused: unknown reason.";
    }
  }
  return std::string(name(rc, PacketType::connack));
}

}  // namespace

int usage_error(const char* tool, const std::string& message) {
  std::cerr << "Error: " << message << "\n\nUse 'assay " << tool << " --help' to see usage.\n";
  return exit_code::error;
}

ClientTool::ClientTool(const ClientArgs& args, Prepared prepared, const char* name)
    : args_(args), prepared_(std::move(prepared)), name_(name) {
  client_id_ = prepared_.options.engine.connect.client_id;
  if (args_.debug) prepared_.options.engine.trace_packets = true;
  client_ = std::make_unique<client::Client>(io.get_executor(), prepared_.options);
  client_->set_event_handler([this](const client::Event& e) { debug_line(e); });
}

void ClientTool::error(const std::string& line) const {
  if (!args_.quiet) std::cerr << line << '\n';
}

int ClientTool::connect_failed(client::error_code ec) {
  const std::string& target = prepared_.target;
  if (ec.category() == client::reason_category()) {
    const auto rc = static_cast<ReasonCode>(ec.value());
    error("Connection error: " + connack_text(rc, version()));
    if (prepared_.scram && prepared_.scram->failure()) {
      const scram::Failure& f = *prepared_.scram->failure();
      error("SCRAM-SHA-256: " + f.error + " (" + f.detail + ")");
    }
    if (version() == Version::v3_1_1) return connack_code_v311(rc).value_or(exit_code::error);
    return ec.value();
  }
  if (ec == boost::asio::error::connection_refused) {
    error("Error: Connection refused (" + target + ")");
    return exit_code::error;
  }
  if (ec == boost::asio::error::host_not_found ||
      ec == boost::asio::error::host_not_found_try_again) {
    error("Error: cannot resolve '" + prepared_.options.engine.servers[0].host +
          "': " + ec.message());
    return exit_code::error;
  }
  if (ec.category() == boost::asio::error::get_ssl_category() ||
      ec.category() == boost::asio::ssl::error::get_stream_category()) {
    error("Error: TLS with " + target + " failed: " + ec.message());
    // As mosquitto_pub/sub: a certificate that does not verify (chain or
    // name) is 1, any other TLS failure 8.
    const bool verify =
        ec.category() == boost::asio::error::get_ssl_category() &&
        ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED;
    return verify ? exit_code::error : exit_code::tls;
  }
  if (ec == client::make_error_code(client::Errc::connection_lost) ||
      ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset) {
    error("Error: The connection was lost (" + target + ")");
    return exit_code::connection_lost;
  }
  error("Error: " + ec.message() + " (" + target + ")");
  return exit_code::error;
}

void ClientTool::finish(int code, Disconnect disconnect) {
  if (finishing_) return;
  finishing_ = true;
  exit_code_ = code;
  if (version() == Version::v3_1_1) disconnect = {};
  client_->async_disconnect([this](client::error_code) { io.stop(); }, std::move(disconnect));
}

void ClientTool::abort(int code) {
  exit_code_ = code;
  finishing_ = true;
  client_->stop();
  io.stop();
}

// -d: one line per packet, worded as libmosquitto's log (docs/client.md).
void ClientTool::debug_line(const client::Event& e) {
  if (!args_.debug) return;
  const auto* sent = std::get_if<client::event::PacketSent>(&e);
  const auto* received = std::get_if<client::event::PacketReceived>(&e);
  if (sent == nullptr && received == nullptr) return;
  const Packet& packet = sent != nullptr ? sent->packet : received->packet;
  if (const auto* c = std::get_if<Connack>(&packet)) {
    if (const auto* id = c->properties.string(PropertyId::assigned_client_identifier)) {
      client_id_ = *id;
    }
  }
  const std::string who = "Client " + (client_id_.empty() ? std::string("(null)") : client_id_);
  const char* dir = sent != nullptr ? " sending " : " received ";
  std::string line;
  auto code = [](ReasonCode rc) { return std::to_string(static_cast<unsigned>(rc)); };
  std::visit(
      [&](const auto& p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, Connack>) {
          const unsigned rc = version() == Version::v3_1_1
                                  ? connack_code_v311(p.reason_code).value_or(255)
                                  : static_cast<unsigned>(p.reason_code);
          line = who + dir + "CONNACK (" + std::to_string(rc) + ")";
        } else if constexpr (std::is_same_v<T, Publish>) {
          line = who + dir + "PUBLISH (d" + std::to_string(p.dup) + ", q" +
                 std::to_string(static_cast<int>(p.qos)) + ", r" + std::to_string(p.retain) +
                 ", m" + std::to_string(p.packet_id) + ", '" +
                 (p.topic.empty() ? "(null)" : p.topic) + "', ... (" +
                 std::to_string(p.payload.size()) + " bytes))";
        } else if constexpr (std::is_same_v<T, Puback> || std::is_same_v<T, Pubcomp>) {
          const char* type = std::is_same_v<T, Puback> ? "PUBACK" : "PUBCOMP";
          line = sent != nullptr
                     ? who + dir + type + " (m" + std::to_string(p.packet_id) +
                           (std::is_same_v<T, Puback> ? ", rc" + code(p.reason_code) : "") + ")"
                     : who + dir + type + " (Mid: " + std::to_string(p.packet_id) +
                           ", RC:" + code(p.reason_code) + ")";
        } else if constexpr (std::is_same_v<T, Pubrec>) {
          line = sent != nullptr ? who + dir + "PUBREC (m" + std::to_string(p.packet_id) + ", rc" +
                                       code(p.reason_code) + ")"
                                 : who + dir + "PUBREC (Mid: " + std::to_string(p.packet_id) + ")";
        } else if constexpr (std::is_same_v<T, Pubrel>) {
          line = sent != nullptr ? who + dir + "PUBREL (m" + std::to_string(p.packet_id) + ")"
                                 : who + dir + "PUBREL (Mid: " + std::to_string(p.packet_id) + ")";
        } else if constexpr (std::is_same_v<T, Subscribe>) {
          for (const auto& s : p.subscriptions) {
            const unsigned options = (s.options.no_local ? 0x04u : 0u) |
                                     (s.options.retain_as_published ? 0x08u : 0u) |
                                     (static_cast<unsigned>(s.options.retain_handling) << 4);
            char opts[8];
            std::snprintf(opts, sizeof opts, "0x%02x", options);
            if (!line.empty()) line += '\n';
            line += who + dir + "SUBSCRIBE (Mid: " + std::to_string(p.packet_id) +
                    ", Topic: " + s.filter +
                    ", QoS: " + std::to_string(static_cast<int>(s.options.qos)) +
                    ", Options: " + opts + ")";
          }
        } else if constexpr (std::is_same_v<T, Unsubscribe>) {
          for (const auto& f : p.filters) {
            if (!line.empty()) line += '\n';
            line += who + dir + "UNSUBSCRIBE (Mid: " + std::to_string(p.packet_id) +
                    ", Topic: " + f + ")";
          }
        } else if constexpr (std::is_same_v<T, Disconnect>) {
          line = received != nullptr ? "Received DISCONNECT (" + code(p.reason_code) + ")"
                                     : who + dir + "DISCONNECT";
        } else {
          line = who + dir + std::string(to_string(type_of(Packet{p})));
        }
      },
      packet);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

}  // namespace assay::tools
