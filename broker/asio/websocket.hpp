// MQTT over WebSocket (RFC 6455; MQTT 5.0 section 6), server side, on
// memory buffers like TlsSession: the HTTP upgrade (parsed by Boost.Beast),
// then binary frames whose payload is the MQTT byte stream. Data frames are
// unmasked as their bytes arrive, so no frame is ever held whole: only a
// frame header (at most 14 bytes) and a control frame (at most 125 bytes)
// are buffered, and the upgrade request at most 8 KiB (docs/broker.md,
// "WebSocket").
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "assay/mqtt/types.hpp"

namespace assay::broker::front_end {

class WebSocketSession {
 public:
  explicit WebSocketSession(std::string path);
  ~WebSocketSession();
  WebSocketSession(const WebSocketSession&) = delete;
  WebSocketSession& operator=(const WebSocketSession&) = delete;

  enum class Result { ok, closed, failed };
  // Bytes from below (TCP, or TLS decrypted): the MQTT bytes are appended
  // to `app`, and what must go back (the 101 or 400 reply, pongs, a close
  // frame) to `reply`. closed: the client sent a close frame (answered in
  // `reply`); failed: see error() (a close frame or 400 is in `reply`).
  Result receive(mqtt::ByteView in, mqtt::Bytes& app, mqtt::Bytes& reply);
  // MQTT bytes out, as one binary frame appended to `out`.
  void send(mqtt::ByteView app, mqtt::Bytes& out) const;
  // A close frame (1000, normal) appended to `out`, once.
  void close(mqtt::Bytes& out);

  bool open() const { return state_ == State::open; }
  const std::string& error() const { return error_; }

 private:
  enum class State : std::uint8_t { handshake, open, closed };
  Result upgrade(mqtt::ByteView in, std::size_t& used, mqtt::Bytes& reply);
  Result frames(mqtt::ByteView in, mqtt::Bytes& app, mqtt::Bytes& reply);
  Result control(mqtt::Bytes& reply);
  Result fail(std::uint16_t code, std::string why, mqtt::Bytes& reply);
  static void frame(std::uint8_t opcode, mqtt::ByteView payload, mqtt::Bytes& out);

  struct Parser;  // Beast's request parser, while the upgrade is read
  std::string path_;
  std::unique_ptr<Parser> parser_;
  State state_ = State::handshake;
  bool close_sent_ = false;
  // The frame being read: its header bytes until whole, then its payload.
  std::array<std::uint8_t, 14> header_{};
  std::uint8_t header_size_ = 0;
  bool in_payload_ = false;
  std::uint8_t opcode_ = 0;
  bool fin_ = false;
  std::uint64_t remaining_ = 0;  // payload bytes of this frame still to come
  std::array<std::uint8_t, 4> mask_{};
  std::uint64_t masked_ = 0;     // payload bytes unmasked so far
  bool in_message_ = false;      // a fragmented binary message continues
  std::string control_payload_;  // a control frame's, at most 125 bytes
  std::string error_;
};

}  // namespace assay::broker::front_end
