#include "assay/mqtt/session.hpp"

#include "assay/mqtt/constants.hpp"

#include "property_codec.hpp"
#include "wire.hpp"

namespace assay::mqtt {
namespace {

std::size_t message_bytes(const Publish& p) {
  return p.topic.size() + p.payload.size();
}

constexpr std::string_view magic = "ASSN";
constexpr std::uint8_t format_version = 2;

template <class Sink>
void put_u64(Sink& s, std::uint64_t v) {
  wire::put_u32(s, static_cast<std::uint32_t>(v >> 32));
  wire::put_u32(s, static_cast<std::uint32_t>(v));
}

template <class Sink>
void put_message(Sink& s, const Publish& p) {
  s.byte(static_cast<std::uint8_t>((p.dup ? 0x08 : 0) | (static_cast<unsigned>(p.qos) << 1) |
                                   (p.retain ? 0x01 : 0)));
  wire::put_u16(s, p.packet_id);
  wire::put_string(s, p.topic);
  detail::write_properties(s, p.properties);
  wire::put_u32(s, static_cast<std::uint32_t>(p.payload.size()));
  wire::put_raw(s, p.payload.view());
}

std::uint64_t get_u64(wire::Reader& r) {
  const std::uint64_t hi = r.u32("u64");
  return (hi << 32) | r.u32("u64");
}

Publish get_message(wire::Reader& r) {
  Publish p;
  const std::uint8_t flags = r.u8("flags");
  p.dup = (flags & 0x08) != 0;
  p.qos = static_cast<QoS>((flags >> 1) & 0x03);
  p.retain = (flags & 0x01) != 0;
  p.packet_id = r.u16("packet id");
  p.topic = r.utf8("topic");
  p.properties = detail::read_properties(r, PropertyContext::publish);
  const std::uint32_t size = r.u32("payload size");
  p.payload = SharedBytes::copy_of(r.take(size, "payload"));
  if (static_cast<unsigned>(p.qos) > 2) r.malformed("session", "bad QoS");
  return p;
}

}  // namespace

bool Session::has_room(const Publish& message) const {
  return queue_.size() < limits_.max_queued_messages &&
         queued_bytes_ + message_bytes(message) <= limits_.max_queued_bytes;
}

EnqueueResult Session::enqueue(Publish message, Ticket* ticket, Time now) {
  if (!has_room(message)) return EnqueueResult::full;
  const std::size_t size = message_bytes(message);
  message.dup = false;
  message.packet_id = 0;
  const Ticket t = next_ticket_++;
  queue_.push_back(Queued{t, std::move(message), now});
  queued_bytes_ += size;
  if (ticket != nullptr) *ticket = t;
  return EnqueueResult::queued;
}

std::optional<std::uint16_t> Session::allocate_packet_id() {
  for (std::uint32_t tries = 0; tries < max_packet_identifier; ++tries) {
    const std::uint16_t id = next_id_;
    next_id_ = next_id_ == max_packet_identifier ? 1 : static_cast<std::uint16_t>(next_id_ + 1);
    if (used_ids_.insert(id)) return id;
  }
  return std::nullopt;
}

bool Session::restore_inflight(InFlight entry) {
  if (entry.publish.packet_id == 0 || !used_ids_.insert(entry.publish.packet_id)) return false;
  entry.sent = false;
  inflight_.push_back(std::move(entry));
  return true;
}

void Session::clear() {
  inflight_.clear();
  queue_.clear();
  queued_bytes_ = 0;
  incoming_qos2_.clear();
  used_ids_.clear();
}

Bytes Session::serialize() const {
  Bytes out;
  wire::VectorSink s{out};
  for (const char c : magic)
    s.byte(static_cast<std::uint8_t>(c));
  s.byte(format_version);
  wire::put_string(s, client_id_);
  wire::put_u32(s, expiry_interval_);
  put_u64(s, limits_.max_queued_messages);
  put_u64(s, limits_.max_queued_bytes);
  put_u64(s, next_ticket_);
  wire::put_u16(s, next_id_);
  wire::put_u32(s, static_cast<std::uint32_t>(inflight_.size()));
  for (const auto& f : inflight_) {
    put_u64(s, f.ticket);
    s.byte(static_cast<std::uint8_t>(f.stage));
    put_message(s, f.publish);
  }
  wire::put_u32(s, static_cast<std::uint32_t>(queue_.size()));
  for (const auto& q : queue_) {
    put_u64(s, q.ticket);
    put_u64(s, static_cast<std::uint64_t>(q.queued_at.count()));
    put_message(s, q.publish);
  }
  wire::put_u32(s, static_cast<std::uint32_t>(incoming_qos2_.size()));
  incoming_qos2_.for_each([&](std::uint16_t id) { wire::put_u16(s, id); });
  return out;
}

std::optional<Session> Session::parse(ByteView bytes) {
  wire::Reader r(bytes, Version::v5);
  const ByteView m = r.take(magic.size(), "magic");
  if (r.failed() || std::string_view(reinterpret_cast<const char*>(m.data()), m.size()) != magic ||
      r.u8("format") != format_version) {
    return std::nullopt;
  }
  Session s;
  s.client_id_ = r.utf8("client id");
  s.expiry_interval_ = r.u32("expiry");
  s.limits_.max_queued_messages = static_cast<std::size_t>(get_u64(r));
  s.limits_.max_queued_bytes = static_cast<std::size_t>(get_u64(r));
  s.next_ticket_ = get_u64(r);
  s.next_id_ = r.u16("next id");
  if (s.next_id_ == 0) s.next_id_ = 1;
  const std::uint32_t inflight = r.u32("in-flight count");
  for (std::uint32_t i = 0; i < inflight && !r.failed(); ++i) {
    InFlight f;
    f.ticket = get_u64(r);
    const std::uint8_t stage = r.u8("stage");
    if (stage > 2) return std::nullopt;
    f.stage = static_cast<InFlight::Stage>(stage);
    f.publish = get_message(r);
    if (f.publish.packet_id == 0 || !s.used_ids_.insert(f.publish.packet_id)) {
      return std::nullopt;
    }
    s.inflight_.push_back(std::move(f));
  }
  const std::uint32_t queued = r.u32("queue count");
  for (std::uint32_t i = 0; i < queued && !r.failed(); ++i) {
    Queued q;
    q.ticket = get_u64(r);
    q.queued_at = Time(static_cast<std::int64_t>(get_u64(r)));
    q.publish = get_message(r);
    s.queued_bytes_ += message_bytes(q.publish);
    s.queue_.push_back(std::move(q));
  }
  const std::uint32_t incoming = r.u32("incoming count");
  for (std::uint32_t i = 0; i < incoming && !r.failed(); ++i) {
    s.incoming_qos2_.insert(r.u16("incoming id"));
  }
  if (r.failed() || !r.at_end()) return std::nullopt;
  return s;
}

bool age_message_expiry(Publish& message, Time since, Time now) {
  const auto interval = message.properties.integer(PropertyId::message_expiry_interval);
  if (!interval) return true;
  const auto waited = std::chrono::duration_cast<std::chrono::seconds>(now - since).count();
  if (waited <= 0) return true;
  if (static_cast<std::uint64_t>(waited) >= *interval) return false;
  message.properties.set(PropertyId::message_expiry_interval,
                         *interval - static_cast<std::uint32_t>(waited));
  return true;
}

}  // namespace assay::mqtt
