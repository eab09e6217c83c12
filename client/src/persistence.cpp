// The session in the store: one record per message (queued or in flight,
// with its stage), per incoming QoS 2 Packet Identifier and per
// subscription, and one for the counters. After every input the engine
// writes what changed; outputs wait for sync() (poll_event/poll_transmit).
//
// Records (all integers big-endian):
//   "meta"            magic "ACS1", next ticket (8), session started (1),
//                     client id (2 + bytes)
//   "m/<ticket hex>"  stage (1: 0 queued, 1 + InFlight::Stage), flags (1:
//                     QoS << 1 | DUP << 3 | RETAIN), packet id (2), queued at
//                     (8, ms), then the message as a 5.0 QoS 0 PUBLISH
//   "i/<id hex>"      empty: an incoming QoS 2 id awaiting PUBREL
//   "s/<filter>"      confirmed (1), then a 5.0 SUBSCRIBE of that filter
//                     with its options and properties
#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "assay/client/engine.hpp"
#include "assay/mqtt/codec.hpp"

namespace assay::client {

using namespace mqtt;

namespace {

constexpr std::string_view meta_key = "meta";
constexpr std::string_view meta_magic = "ACS1";

void put_int(Bytes& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i)
    out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

// Reads big-endian integers and fails (throws) on a short record.
class Reader {
 public:
  Reader(ByteView bytes, const std::string& key) : bytes_(bytes), key_(key) {}
  std::uint64_t next(int n) {
    if (bytes_.size() - at_ < static_cast<std::size_t>(n)) bad("truncated");
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i)
      v = (v << 8) | bytes_[at_++];
    return v;
  }
  ByteView rest() const { return bytes_.subspan(at_); }
  ByteView take(std::size_t n) {
    if (bytes_.size() - at_ < n) bad("truncated");
    const ByteView v = bytes_.subspan(at_, n);
    at_ += n;
    return v;
  }
  [[noreturn]] void bad(const std::string& why) const {
    throw std::invalid_argument("client store: record '" + key_ + "' is not the engine's (" + why +
                                ")");
  }

 private:
  ByteView bytes_;
  std::size_t at_ = 0;
  const std::string& key_;
};

std::string hex_key(char kind, std::uint64_t v, int digits) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%c/%0*llx", kind, digits, static_cast<unsigned long long>(v));
  return buf;
}

Bytes message_record(std::uint8_t stage, const Publish& p, Time queued_at) {
  Bytes out;
  out.push_back(stage);
  out.push_back(static_cast<std::uint8_t>((static_cast<unsigned>(p.qos) << 1) | (p.dup ? 0x08 : 0) |
                                          (p.retain ? 0x01 : 0)));
  put_int(out, p.packet_id, 2);
  put_int(out, static_cast<std::uint64_t>(queued_at.count()), 8);
  Publish body = p;
  body.qos = QoS::at_most_once;
  body.dup = false;
  body.retain = false;
  body.packet_id = 0;
  encode(Packet{std::move(body)}, Version::v5, out);
  return out;
}

template <class P>
P decode_as(ByteView bytes, Reader& r) {
  const DecodeResult d = decode(bytes, Version::v5);
  const auto* ok = std::get_if<Decoded>(&d);
  if (ok == nullptr || ok->size != bytes.size() || !std::holds_alternative<P>(ok->packet)) {
    r.bad("bad packet");
  }
  return std::get<P>(ok->packet);
}

}  // namespace

void Engine::load(Time now) {
  auto records = config_.store->load();
  struct Loaded {
    Ticket ticket;
    std::uint8_t stage;
    Publish publish;
    Time queued_at;
  };
  std::vector<Loaded> messages;
  for (auto& [key, record] : records) {
    Reader r(record, key);
    if (key == meta_key) {
      const ByteView magic = r.take(meta_magic.size());
      if (!std::equal(magic.begin(), magic.end(), meta_magic.begin())) r.bad("magic");
      next_ticket_ = std::max<Ticket>(next_ticket_, r.next(8));
      session_started_ = r.next(1) != 0;
      const auto n = static_cast<std::size_t>(r.next(2));
      const ByteView id = r.take(n);
      const std::string client_id(id.begin(), id.end());
      if (config_.connect.client_id.empty()) config_.connect.client_id = client_id;
      stored_meta_.assign(record.begin(), record.end());
    } else if (key.starts_with("m/")) {
      Loaded m{};
      m.ticket = std::stoull(key.substr(2), nullptr, 16);
      m.stage = static_cast<std::uint8_t>(r.next(1));
      const auto flags = static_cast<std::uint8_t>(r.next(1));
      const auto packet_id = static_cast<std::uint16_t>(r.next(2));
      m.queued_at = Time(static_cast<Time::rep>(r.next(8)));
      m.publish = decode_as<Publish>(r.rest(), r);
      m.publish.qos = static_cast<QoS>((flags >> 1) & 3);
      m.publish.dup = (flags & 0x08) != 0;
      m.publish.retain = (flags & 0x01) != 0;
      m.publish.packet_id = packet_id;
      if (m.stage > 3 || static_cast<unsigned>(m.publish.qos) > 2) r.bad("stage or QoS");
      stored_messages_[m.ticket] = StoredMessage{m.stage, packet_id};
      messages.push_back(std::move(m));
    } else if (key.starts_with("i/")) {
      const auto id = static_cast<std::uint16_t>(std::stoul(key.substr(2), nullptr, 16));
      session_.restore_incoming_qos2(id);
      stored_incoming_.insert(id);
      ++recovered_.incoming_qos2;
    } else if (key.starts_with("s/")) {
      const bool confirmed = r.next(1) != 0;
      const Subscribe s = decode_as<Subscribe>(r.rest(), r);
      if (s.subscriptions.size() != 1) r.bad("one filter per record");
      subscriptions_[s.subscriptions[0].filter] =
          Desired{s.subscriptions[0].options, s.properties, confirmed, 0};
      stored_subscriptions_[key] = record;
      ++recovered_.subscriptions;
    } else {
      throw std::invalid_argument("client store: unknown record '" + key + "'");
    }
  }
  // In ticket order, which is the order they were first sent or queued in.
  std::sort(messages.begin(), messages.end(),
            [](const Loaded& a, const Loaded& b) { return a.ticket < b.ticket; });
  for (Loaded& m : messages) {
    next_ticket_ = std::max(next_ticket_, m.ticket + 1);
    if (m.stage == 0) {
      enqueue(Queued{m.ticket, std::move(m.publish), m.queued_at});
      ++recovered_.queued;
      continue;
    }
    InFlight f;
    f.ticket = m.ticket;
    f.stage = static_cast<InFlight::Stage>(m.stage - 1);
    f.publish = std::move(m.publish);
    if (!session_.restore_inflight(std::move(f))) {
      throw std::invalid_argument("client store: two messages in flight share a Packet Identifier");
    }
    ++recovered_.inflight;
  }
  if (!session_.inflight().empty() || !session_.incoming_qos2().empty()) session_started_ = true;
  session_.set_client_id(config_.connect.client_id);
  // Subscriptions whose SUBACK never came are asked for again, whatever the
  // server kept.
  Subscribe unanswered;
  for (const auto& [filter, d] : subscriptions_) {
    if (d.confirmed) continue;
    if (!unanswered.subscriptions.empty() && unanswered.properties != d.properties) {
      requests_.push_back(Request{0, std::move(unanswered), 0});
      unanswered = {};
    }
    unanswered.properties = d.properties;
    unanswered.subscriptions.push_back(Subscription{filter, d.options});
  }
  if (!unanswered.subscriptions.empty()) requests_.push_back(Request{0, std::move(unanswered), 0});
  (void)now;
}

void Engine::persist() {
  if (!config_.store) return;
  write_changes();
  // An input ends durable: what publish() took, a stage a PUBREL depends
  // on, a QoS 2 id a PUBREC depends on.
  sync_store();
}

void Engine::write_changes() {
  Store& store = *config_.store;
  // The counters.
  Bytes meta(meta_magic.begin(), meta_magic.end());
  put_int(meta, next_ticket_, 8);
  meta.push_back(session_started_ ? 1 : 0);
  const std::string& id = config_.connect.client_id;
  put_int(meta, id.size(), 2);
  meta.insert(meta.end(), id.begin(), id.end());
  if (!std::equal(meta.begin(), meta.end(), stored_meta_.begin(), stored_meta_.end())) {
    store.put(std::string(meta_key), meta);
    stored_meta_.assign(meta.begin(), meta.end());
    unsynced_ = true;
  }
  // Messages: in flight (in the session) and queued (here); a record is
  // written when it is new or its stage changed, erased when it ended.
  const Session& s = session();
  std::map<Ticket, StoredMessage> current;
  auto write = [&](Ticket t, std::uint8_t stage, const Publish& p, Time queued_at) {
    const StoredMessage state{stage, p.packet_id};
    current.emplace(t, state);
    const auto it = stored_messages_.find(t);
    if (it != stored_messages_.end() && it->second == state) return;
    store.put(hex_key('m', t, 16), message_record(stage, p, queued_at));
    unsynced_ = true;
  };
  for (const InFlight& f : s.inflight())
    write(f.ticket, static_cast<std::uint8_t>(1 + static_cast<unsigned>(f.stage)), f.publish,
          Time{0});
  for (const auto& q : s.queue())  // empty unless the Connection queued one itself
    write(q.ticket, 0, q.publish, q.queued_at);
  for (const Queued& q : queue_)
    write(q.ticket, 0, q.publish, q.queued_at);
  for (const auto& [t, state] : stored_messages_) {
    if (!current.contains(t)) {
      store.erase(hex_key('m', t, 16));
      unsynced_ = true;
    }
  }
  stored_messages_ = std::move(current);
  // Incoming QoS 2 ids.
  std::set<std::uint16_t> incoming;
  s.incoming_qos2().for_each([&](std::uint16_t i) { incoming.insert(i); });
  if (incoming != stored_incoming_) {
    for (const std::uint16_t i : incoming) {
      if (!stored_incoming_.contains(i)) store.put(hex_key('i', i, 4), {});
    }
    for (const std::uint16_t i : stored_incoming_) {
      if (!incoming.contains(i)) store.erase(hex_key('i', i, 4));
    }
    stored_incoming_ = std::move(incoming);
    unsynced_ = true;
  }
  // Subscriptions.
  if (!subscriptions_changed_) return;
  subscriptions_changed_ = false;
  std::map<std::string, Bytes> subs;
  for (const auto& [filter, d] : subscriptions_) {
    Bytes record{static_cast<std::uint8_t>(d.confirmed ? 1 : 0)};
    Subscribe one;
    one.packet_id = 1;
    one.properties = d.properties;
    one.subscriptions.push_back(Subscription{filter, d.options});
    encode(Packet{std::move(one)}, Version::v5, record);
    subs.emplace("s/" + filter, std::move(record));
  }
  if (subs != stored_subscriptions_) {
    for (const auto& [key, record] : subs) {
      const auto it = stored_subscriptions_.find(key);
      if (it == stored_subscriptions_.end() || it->second != record) store.put(key, record);
    }
    for (const auto& [key, record] : stored_subscriptions_) {
      if (!subs.contains(key)) store.erase(key);
    }
    stored_subscriptions_ = std::move(subs);
    unsynced_ = true;
  }
}

void Engine::sync_store() {
  if (!unsynced_ || !config_.store) return;
  config_.store->sync();
  unsynced_ = false;
}

}  // namespace assay::client
