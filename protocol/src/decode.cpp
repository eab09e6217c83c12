// The fixed header, the dispatcher to the per-packet decoders, and the
// incremental StreamDecoder.
#include <string>

#include "assay/mqtt/codec.hpp"
#include "decode_packets.hpp"

namespace assay::mqtt {
namespace {

using wire::cite;

// Checks the packet type and the flags of byte 1 (§2.1.2, §2.1.3).
std::optional<Violation> check_first_byte(std::uint8_t first, Version v) {
  const auto type = static_cast<PacketType>(first >> 4);
  const std::uint8_t flags = first & 0x0F;
  const auto bad = [&](ReasonCode rc, std::string_view statement, std::string detail) {
    return std::optional<Violation>(Violation{rc, statement, std::move(detail)});
  };
  const unsigned t = first >> 4;
  if (t == 0 || (t == 15 && v == Version::v3_1_1)) {
    return bad(ReasonCode::malformed_packet, cite(v, "§2.2.1", "§2.1.2"),
               "packet type " + std::to_string(t) + " is reserved");
  }
  switch (type) {
    case PacketType::publish:
      if ((flags & 0x06) == 0x06) {
        return bad(ReasonCode::malformed_packet, "MQTT-3.3.1-4", "PUBLISH has both QoS bits set");
      }
      if ((flags & 0x08) != 0 && (flags & 0x06) == 0) {
        return bad(ReasonCode::malformed_packet, "MQTT-3.3.1-2", "DUP is set on a QoS 0 PUBLISH");
      }
      return std::nullopt;
    case PacketType::pubrel:
    case PacketType::subscribe:
    case PacketType::unsubscribe:
      if (flags != 0x02) {
        const std::string_view statement = type == PacketType::pubrel      ? "MQTT-3.6.1-1"
                                           : type == PacketType::subscribe ? "MQTT-3.8.1-1"
                                                                           : "MQTT-3.10.1-1";
        return bad(ReasonCode::malformed_packet, statement,
                   std::string(to_string(type)) + " fixed header flags must be 0010");
      }
      return std::nullopt;
    default:
      if (flags != 0) {
        std::string_view statement = cite(v, "MQTT-2.2.2-2", "MQTT-2.1.3-1");
        if (type == PacketType::disconnect) statement = "MQTT-3.14.1-1";
        if (type == PacketType::auth) statement = "MQTT-3.15.1-1";
        return bad(ReasonCode::malformed_packet, statement,
                   std::string(to_string(type)) + " fixed header flags must be 0000");
      }
      return std::nullopt;
  }
}

}  // namespace

namespace {

// Decodes into `out` (no moves of the packet on the way); returns the
// violation, if any.
std::optional<Violation> decode_body_into(std::uint8_t first_byte, ByteView body, Version version,
                                          Packet& out) {
  const auto type = static_cast<PacketType>(first_byte >> 4);
  wire::Reader r(body, version);
  switch (type) {
    case PacketType::connect:
      detail::decode_connect(r, out);
      break;
    case PacketType::connack:
      detail::decode_connack(r, out);
      break;
    case PacketType::publish:
      detail::decode_publish(r, first_byte & 0x0F, out);
      break;
    case PacketType::puback:
    case PacketType::pubrec:
    case PacketType::pubrel:
    case PacketType::pubcomp:
      detail::decode_publish_ack(r, type, out);
      break;
    case PacketType::subscribe:
      detail::decode_subscribe(r, out);
      break;
    case PacketType::suback:
      detail::decode_suback(r, out);
      break;
    case PacketType::unsubscribe:
      detail::decode_unsubscribe(r, out);
      break;
    case PacketType::unsuback:
      detail::decode_unsuback(r, out);
      break;
    case PacketType::pingreq:
      detail::expect_end(r, type);
      out.emplace<Pingreq>();
      break;
    case PacketType::pingresp:
      detail::expect_end(r, type);
      out.emplace<Pingresp>();
      break;
    case PacketType::disconnect:
      detail::decode_disconnect(r, out);
      break;
    case PacketType::auth:
      detail::decode_auth(r, out);
      break;
  }
  return r.error();
}

}  // namespace

std::variant<Packet, Violation> decode_body(std::uint8_t first_byte, ByteView body,
                                            Version version) {
  if (auto bad = check_first_byte(first_byte, version)) return *std::move(bad);
  Packet packet;
  if (auto bad = decode_body_into(first_byte, body, version, packet)) return *std::move(bad);
  return packet;
}

DecodeResult decode(ByteView bytes, Version version, const DecodeLimits& limits) {
  if (bytes.empty()) return NeedMore{2};
  const std::uint8_t first = bytes[0];
  if (auto bad = check_first_byte(first, version)) return *std::move(bad);

  std::uint32_t remaining = 0;
  std::size_t length = 0;
  switch (wire::read_vbi(bytes.subspan(1), remaining, length)) {
    case wire::VbiStatus::ok:
      break;
    case wire::VbiStatus::need_more:
      return NeedMore{1};
    case wire::VbiStatus::too_long:
      return Violation{ReasonCode::malformed_packet, cite(version, "§2.2.3", "§2.1.4"),
                       "Remaining Length is longer than four bytes"};
    case wire::VbiStatus::not_minimal:
      return Violation{ReasonCode::malformed_packet, cite(version, "§2.2.3", "MQTT-1.5.5-1"),
                       "Remaining Length does not use the minimum number of bytes"};
  }
  const std::size_t total = 1 + length + remaining;
  if (total > limits.maximum_packet_size) {
    return Violation{ReasonCode::packet_too_large, "§3.1.2.11.4",
                     "packet of " + std::to_string(total) + " bytes exceeds the maximum of " +
                         std::to_string(limits.maximum_packet_size)};
  }
  if (bytes.size() < total) return NeedMore{total - bytes.size()};

  DecodeResult result(std::in_place_type<Decoded>);
  auto& decoded = std::get<Decoded>(result);
  decoded.size = total;
  if (auto bad =
          decode_body_into(first, bytes.subspan(1 + length, remaining), version, decoded.packet)) {
    return *std::move(bad);
  }
  return result;
}

void StreamDecoder::feed(ByteView bytes) {
  if (failure_) return;
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

DecodeResult StreamDecoder::next() {
  if (failure_) return *failure_;
  DecodeResult result = decode(ByteView(buffer_).subspan(read_), version_, limits_);
  if (auto* d = std::get_if<Decoded>(&result)) {
    consume(d->size);
    // Everything after a CONNECT follows the version it announced.
    if (const auto* c = std::get_if<Connect>(&d->packet)) version_ = c->version;
  } else if (auto* v = std::get_if<Violation>(&result)) {
    failure_ = std::make_unique<Violation>(*v);
    buffer_.clear();
    buffer_.shrink_to_fit();
    read_ = 0;
  }
  return result;
}

Packet packet_of(ShortAck a) {
  switch (a.type) {
    case PacketType::puback:
      return Puback{a.packet_id, ReasonCode::success, {}, {}};
    case PacketType::pubrec:
      return Pubrec{a.packet_id, ReasonCode::success, {}, {}};
    case PacketType::pubrel:
      return Pubrel{a.packet_id, ReasonCode::success, {}, {}};
    default:
      return Pubcomp{a.packet_id, ReasonCode::success, {}, {}};
  }
}

std::optional<ShortAck> StreamDecoder::next_short_ack() {
  if (failure_ || buffer_.size() - read_ < 4 || limits_.maximum_packet_size < 4) {
    return std::nullopt;
  }
  const std::uint8_t* p = buffer_.data() + read_;
  ShortAck ack;
  ack.type = static_cast<PacketType>(p[0] >> 4);
  if (ack.type != PacketType::puback && ack.type != PacketType::pubrec &&
      ack.type != PacketType::pubrel && ack.type != PacketType::pubcomp) {
    return std::nullopt;
  }
  // Fixed header flags 0000, PUBREL's 0010 [MQTT-3.6.1-1]: others are next()'s to report.
  if ((p[0] & 0x0F) != (ack.type == PacketType::pubrel ? 0x02 : 0x00)) return std::nullopt;
  if (p[1] != 2) return std::nullopt;  // a Reason Code or properties follow
  ack.packet_id = static_cast<std::uint16_t>(p[2] << 8 | p[3]);
  if (ack.packet_id == 0) return std::nullopt;  // next() reports it
  consume(4);
  return ack;
}

void StreamDecoder::consume(std::size_t n) {
  read_ += n;
  if (read_ == buffer_.size()) {
    buffer_.clear();
    read_ = 0;
  } else if (read_ >= 4096 && read_ * 2 >= buffer_.size()) {
    // Drop consumed bytes once they are the larger part of the buffer.
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(read_));
    read_ = 0;
  }
}

}  // namespace assay::mqtt
