// Beast's HTTP parser inlined here at -O2 with the sanitizers makes GCC 12
// warn that a boost::optional it returns empty "may be used uninitialized"
// (a false positive inside Boost's headers): off for this file only.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "websocket.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <string_view>

namespace assay::broker::front_end {

namespace http = boost::beast::http;

namespace {

// RFC 6455 section 1.3: the key the client sent, with this GUID, hashed.
std::string accept_key(std::string_view key) {
  std::string text(key);
  text.append("258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha1(), nullptr);
  unsigned char out[64] = {};
  const int n = EVP_EncodeBlock(out, digest, static_cast<int>(size));
  return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
}

// The subprotocol to answer with: "mqtt" [MQTT-6.0.0-4], or the name
// MQTT 3.1 clients still offer; empty if the client offered neither.
std::string choose_subprotocol(std::string_view offered) {
  bool old_name = false;
  while (!offered.empty()) {
    const std::size_t comma = offered.find(',');
    std::string_view name = offered.substr(0, comma);
    offered = comma == std::string_view::npos ? std::string_view() : offered.substr(comma + 1);
    while (!name.empty() && (name.front() == ' ' || name.front() == '\t'))
      name.remove_prefix(1);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t'))
      name.remove_suffix(1);
    if (name == "mqtt") return "mqtt";
    if (name == "mqttv3.1") old_name = true;
  }
  return old_name ? "mqttv3.1" : "";
}

void append(mqtt::Bytes& out, std::string_view text) {
  out.insert(out.end(), text.begin(), text.end());
}

}  // namespace

struct WebSocketSession::Parser {
  Parser() {
    request.header_limit(8 * 1024);  // a peer's request is bounded
    request.body_limit(0);
  }
  http::request_parser<http::empty_body> request;
};

WebSocketSession::WebSocketSession(std::string path)
    : path_(std::move(path)), parser_(std::make_unique<Parser>()) {}

WebSocketSession::~WebSocketSession() = default;

WebSocketSession::Result WebSocketSession::receive(mqtt::ByteView in, mqtt::Bytes& app,
                                                   mqtt::Bytes& reply) {
  if (state_ == State::closed) return Result::closed;
  std::size_t used = 0;
  if (state_ == State::handshake) {
    if (const Result r = upgrade(in, used, reply); r != Result::ok) return r;
    if (state_ == State::handshake) return Result::ok;  // more of the request to come
  }
  return frames(in.subspan(used), app, reply);
}

WebSocketSession::Result WebSocketSession::upgrade(mqtt::ByteView in, std::size_t& used,
                                                   mqtt::Bytes& reply) {
  boost::system::error_code ec;
  used = parser_->request.put(boost::asio::buffer(in.data(), in.size()), ec);
  if (ec == http::error::need_more) {
    used = in.size();  // the parser keeps what it has not taken yet
    return Result::ok;
  }
  if (ec) return fail(400, "bad upgrade request: " + ec.message(), reply);
  if (!parser_->request.is_header_done()) return Result::ok;
  const auto& req = parser_->request.get();
  std::string_view target(req.target().data(), req.target().size());
  target = target.substr(0, target.find('?'));
  if (!boost::beast::websocket::is_upgrade(req)) {
    return fail(400, "not a WebSocket upgrade request", reply);
  }
  if (target != path_) {
    return fail(404, "upgrade request for \"" + std::string(target) + "\", not \"" + path_ + "\"",
                reply);
  }
  const auto version = req[http::field::sec_websocket_version];
  if (version != "13") return fail(426, "WebSocket version is not 13", reply);
  const auto key = req[http::field::sec_websocket_key];
  if (key.size() != 24) return fail(400, "no valid Sec-WebSocket-Key", reply);
  const auto offered = req[http::field::sec_websocket_protocol];
  const std::string protocol = choose_subprotocol(std::string_view(offered.data(), offered.size()));
  if (protocol.empty()) {
    return fail(400, "the client offered no \"mqtt\" subprotocol [MQTT-6.0.0-3]", reply);
  }
  append(reply,
         "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
         "Connection: Upgrade\r\nSec-WebSocket-Accept: ");
  append(reply, accept_key(std::string_view(key.data(), key.size())));
  append(reply, "\r\nSec-WebSocket-Protocol: ");
  append(reply, protocol);
  append(reply, "\r\n\r\n");
  parser_.reset();
  state_ = State::open;
  return Result::ok;
}

WebSocketSession::Result WebSocketSession::frames(mqtt::ByteView in, mqtt::Bytes& app,
                                                  mqtt::Bytes& reply) {
  std::size_t at = 0;
  while (at < in.size()) {
    if (!in_payload_) {
      // The header: 2 bytes, then 0, 2 or 8 of length, then 4 of mask.
      header_[header_size_++] = in[at++];
      if (header_size_ < 2) continue;
      const std::uint8_t len7 = header_[1] & 0x7F;
      const std::size_t length_bytes = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
      const bool masked = (header_[1] & 0x80) != 0;
      if (!masked) return fail(1002, "a client frame without a mask", reply);
      if (header_size_ < 2 + length_bytes + 4) continue;
      fin_ = (header_[0] & 0x80) != 0;
      opcode_ = header_[0] & 0x0F;
      std::uint64_t length = len7;
      if (length_bytes > 0) {
        length = 0;
        for (std::size_t i = 0; i < length_bytes; ++i)
          length = (length << 8) | header_[2 + i];
      }
      std::copy_n(header_.begin() + static_cast<long>(2 + length_bytes), 4, mask_.begin());
      header_size_ = 0;
      if ((header_[0] & 0x70) != 0) return fail(1002, "reserved bits set", reply);
      if ((length >> 63) != 0) return fail(1002, "a frame length over 2^63", reply);
      const bool is_control = (opcode_ & 0x08) != 0;
      if (is_control) {
        if (opcode_ != 0x8 && opcode_ != 0x9 && opcode_ != 0xA) {
          return fail(1002, "an unknown control opcode", reply);
        }
        if (!fin_ || length > 125) return fail(1002, "a fragmented or long control frame", reply);
        control_payload_.clear();
      } else if (opcode_ == 0x1) {
        return fail(1003, "a text frame: MQTT travels in binary frames [MQTT-6.0.0-1]", reply);
      } else if (opcode_ == 0x2) {
        if (in_message_) return fail(1002, "a new message inside a fragmented one", reply);
        in_message_ = !fin_;
      } else if (opcode_ == 0x0) {
        if (!in_message_) return fail(1002, "a continuation frame without a message", reply);
        in_message_ = !fin_;
      } else {
        return fail(1002, "an unknown data opcode", reply);
      }
      remaining_ = length;
      masked_ = 0;
      in_payload_ = true;
    } else {
      const std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size() - at));
      const bool is_control = (opcode_ & 0x08) != 0;
      for (std::size_t i = 0; i < n; ++i) {
        const auto byte = static_cast<std::uint8_t>(in[at + i] ^ mask_[(masked_ + i) % 4]);
        if (is_control) {
          control_payload_.push_back(static_cast<char>(byte));
        } else {
          app.push_back(byte);
        }
      }
      masked_ += n;
      remaining_ -= n;
      at += n;
    }
    if (in_payload_ && remaining_ == 0) {  // a whole frame (maybe empty)
      in_payload_ = false;
      if ((opcode_ & 0x08) != 0) {
        if (const Result r = control(reply); r != Result::ok) return r;
      }
    }
  }
  return Result::ok;
}

WebSocketSession::Result WebSocketSession::control(mqtt::Bytes& reply) {
  const auto* payload = reinterpret_cast<const std::uint8_t*>(control_payload_.data());
  if (opcode_ == 0x9) {  // ping: the same payload back
    frame(0xA, mqtt::ByteView(payload, control_payload_.size()), reply);
  } else if (opcode_ == 0x8) {  // close: answered with the client's code
    if (!close_sent_) {
      close_sent_ = true;
      frame(0x8, mqtt::ByteView(payload, std::min<std::size_t>(control_payload_.size(), 2)), reply);
    }
    state_ = State::closed;
    return Result::closed;
  }
  return Result::ok;  // a pong
}

void WebSocketSession::send(mqtt::ByteView app, mqtt::Bytes& out) const {
  frame(0x2, app, out);
}

void WebSocketSession::close(mqtt::Bytes& out) {
  if (state_ != State::open || close_sent_) return;
  close_sent_ = true;
  const std::uint8_t normal[] = {0x03, 0xE8};  // 1000
  frame(0x8, mqtt::ByteView(normal, 2), out);
}

// A frame from the server: FIN, unmasked.
void WebSocketSession::frame(std::uint8_t opcode, mqtt::ByteView payload, mqtt::Bytes& out) {
  out.push_back(static_cast<std::uint8_t>(0x80 | opcode));
  const std::uint64_t n = payload.size();
  if (n < 126) {
    out.push_back(static_cast<std::uint8_t>(n));
  } else if (n <= 0xFFFF) {
    out.push_back(126);
    out.push_back(static_cast<std::uint8_t>(n >> 8));
    out.push_back(static_cast<std::uint8_t>(n));
  } else {
    out.push_back(127);
    for (int shift = 56; shift >= 0; shift -= 8)
      out.push_back(static_cast<std::uint8_t>(n >> shift));
  }
  out.insert(out.end(), payload.begin(), payload.end());
}

WebSocketSession::Result WebSocketSession::fail(std::uint16_t code, std::string why,
                                                mqtt::Bytes& reply) {
  error_ = std::move(why);
  if (state_ == State::handshake) {
    const char* status = code == 404   ? "404 Not Found"
                         : code == 426 ? "426 Upgrade Required\r\nSec-WebSocket-Version: 13"
                                       : "400 Bad Request";
    append(reply, "HTTP/1.1 ");
    append(reply, status);
    append(reply, "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  } else if (!close_sent_) {
    close_sent_ = true;
    const std::uint8_t status[] = {static_cast<std::uint8_t>(code >> 8),
                                   static_cast<std::uint8_t>(code)};
    frame(0x8, mqtt::ByteView(status, 2), reply);
  }
  state_ = State::closed;
  return Result::failed;
}

}  // namespace assay::broker::front_end
