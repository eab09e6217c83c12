// When and where the next attempt goes: exponential backoff with full
// jitter, a count that resets only after a stable connection, refusals
// that waiting cannot cure, and Server References (0x9C/0x9D).
#include <algorithm>
#include <charconv>

#include "assay/client/engine.hpp"

namespace assay::client {

using namespace mqtt;

std::optional<Server> parse_server(std::string_view text, std::uint16_t default_port) {
  // A Server Reference may name several servers, separated by spaces.
  while (!text.empty() && text.front() == ' ')
    text.remove_prefix(1);
  text = text.substr(0, text.find(' '));
  if (text.empty()) return std::nullopt;
  Server s;
  s.port = default_port;
  std::string_view host = text;
  std::string_view port;
  if (text.front() == '[') {  // [v6]:port
    const auto close = text.find(']');
    if (close == std::string_view::npos || close == 1) return std::nullopt;
    host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
      if (port.empty()) return std::nullopt;
    }
  } else if (const auto colon = text.rfind(':'); colon != std::string_view::npos) {
    if (text.find(':') != colon) {
      host = text;  // a bare IPv6 address
    } else {
      host = text.substr(0, colon);
      port = text.substr(colon + 1);
      if (host.empty() || port.empty()) return std::nullopt;
    }
  }
  if (!port.empty()) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) {
      return std::nullopt;
    }
    s.port = static_cast<std::uint16_t>(value);
  }
  s.host = std::string(host);
  return s;
}

namespace {

// Refusals an immediate retry cannot cure: the configuration (credentials,
// client id, version, Will) must change first.
bool refusal_is_final(ReasonCode rc) {
  switch (rc) {
    case ReasonCode::malformed_packet:
    case ReasonCode::protocol_error:
    case ReasonCode::unsupported_protocol_version:
    case ReasonCode::client_identifier_not_valid:
    case ReasonCode::bad_user_name_or_password:
    case ReasonCode::not_authorized:
    case ReasonCode::banned:
    case ReasonCode::bad_authentication_method:
    case ReasonCode::packet_too_large:
    case ReasonCode::payload_format_invalid:
    case ReasonCode::retain_not_supported:
    case ReasonCode::qos_not_supported:
      return true;
    default:
      return false;
  }
}

// min(maximum, initial * 2^(n-1)), without overflow.
Duration ceiling(const Backoff& b, std::uint64_t n) {
  Duration d = std::max(b.initial, Duration{0});
  for (std::uint64_t i = 1; i < n && d < b.maximum; ++i)
    d = d > b.maximum / 2 ? b.maximum : d * 2;
  return std::min(d, b.maximum);
}

}  // namespace

void Engine::schedule_retry(const Loss& loss, Time now) {
  const Backoff& b = config_.reconnect;
  const bool refused = loss.cause == Cause::refused && loss.reason_code;
  const bool final = refused && refusal_is_final(*loss.reason_code);
  auto give_up = [&] {
    emit(event::ConnectionLost{loss.cause, loss.reason_code, loss.detail, std::nullopt});
    stop(loss.cause, loss.reason_code);
  };
  // A connection that stayed up long enough starts the count afresh.
  if (connected_at_ != Time::max() && now - connected_at_ >= b.stable_after) {
    failures_ = 0;
    attempts_ = 0;
  }
  connected_at_ = Time::max();
  ++failures_;
  if (!b.enabled || (final && b.after_refusal <= Duration{0}) ||
      (b.max_attempts > 0 && failures_ >= b.max_attempts)) {
    return give_up();
  }
  Duration delay{0};
  if (loss.reference) {
    // A Server Reference: 0x9D replaces where we connect, 0x9C names a
    // server for the next attempt only.
    if (loss.moved) {
      config_.servers[server_index_ % config_.servers.size()] = *loss.reference;
      redirect_.reset();
    } else {
      redirect_ = loss.reference;
    }
  } else {
    redirect_.reset();
    // The next server in the list, when there are several.
    server_index_ = (server_index_ + 1) % config_.servers.size();
  }
  // A reference is followed at once, but only once in a row: two servers
  // pointing at each other get the backoff like any failure.
  const bool at_once = loss.reference && !redirected_;
  redirected_ = loss.reference.has_value() && at_once;
  if (!at_once) {
    const auto top = static_cast<std::uint64_t>(ceiling(b, failures_).count());
    delay = Duration(static_cast<Duration::rep>(random_() % (top + 1)));  // full jitter
    if (final) delay = std::max(delay, b.after_refusal);
  }
  state_ = State::waiting;
  timer_ = now + delay;
  emit(event::ConnectionLost{loss.cause, loss.reason_code, loss.detail, timer_});
}

}  // namespace assay::client
