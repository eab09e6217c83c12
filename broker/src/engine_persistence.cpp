// Persistence: the records the engine writes through its Store, and its
// start from what a store holds (docs/broker.md, "Persistence").
#include "engine_internals.hpp"

namespace assay::broker {

using namespace assay::mqtt;
using namespace assay::broker::detail;

namespace {

// The persistence records' fields, big-endian.
void put_u8(Bytes& out, std::uint8_t v) {
  out.push_back(v);
}
void put_u32(Bytes& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<std::uint8_t>(v >> shift));
}
void put_blob(Bytes& out, ByteView b) {
  put_u32(out, static_cast<std::uint32_t>(b.size()));
  out.insert(out.end(), b.begin(), b.end());
}
void put_text(Bytes& out, std::string_view t) {
  put_blob(out, ByteView(reinterpret_cast<const std::uint8_t*>(t.data()), t.size()));
}

class RecordReader {
 public:
  explicit RecordReader(ByteView b) : b_(b) {}
  bool ok() const { return ok_; }
  bool done() const { return ok_ && at_ == b_.size(); }
  std::uint8_t u8() {
    if (!need(1)) return 0;
    return b_[at_++];
  }
  std::uint32_t u32() {
    if (!need(4)) return 0;
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
      v = (v << 8) | b_[at_++];
    return v;
  }
  ByteView blob() {
    const std::uint32_t n = u32();
    if (!need(n)) return {};
    const ByteView v = b_.subspan(at_, n);
    at_ += n;
    return v;
  }
  std::string text() {
    const ByteView v = blob();
    return std::string(v.begin(), v.end());
  }

 private:
  bool need(std::size_t n) {
    if (ok_ && b_.size() - at_ >= n) return true;
    ok_ = false;
    return false;
  }
  ByteView b_;
  std::size_t at_ = 0;
  bool ok_ = true;
};

// A message in a record: its 5.0 PUBLISH encoding (the codec's own form).
void put_message(Bytes& out, Publish p) {
  p.dup = false;
  p.packet_id = p.qos == QoS::at_most_once ? 0 : 1;
  put_blob(out, encode(Packet{std::move(p)}, Version::v5));
}
std::optional<Publish> get_message(RecordReader& r) {
  const ByteView b = r.blob();
  if (!r.ok()) return std::nullopt;
  DecodeResult d = decode(b, Version::v5);
  auto* decoded = std::get_if<Decoded>(&d);
  if (decoded == nullptr) return std::nullopt;
  auto* p = std::get_if<Publish>(&decoded->packet);
  if (p == nullptr) return std::nullopt;
  p->packet_id = 0;
  return std::move(*p);
}

// 1: the first; 2: a session record holds its user name (after the
// version), so that a restored session is checked as its user. Both read.
constexpr std::uint8_t record_format = 2;
constexpr std::uint8_t retained_format = 1;

}  // namespace

// ---- persistence --------------------------------------------------------------

void Engine::mark_session(const std::string& client_id) {
  if (config_.store) unsaved_sessions_.insert(client_id);
}

void Engine::mark_retained(const std::string& topic) {
  if (config_.store) unsaved_retained_.insert(topic);
}

void Engine::save() {
  if (!config_.store || (unsaved_sessions_.empty() && unsaved_retained_.empty())) return;
  Store& store = *config_.store;
  for (const std::string& id : unsaved_sessions_) {
    const auto it = sessions_.find(id);
    if (it == sessions_.end()) {
      store.erase_session(id);
    } else {
      store.put_session(id, session_record(*it->second));
    }
  }
  for (const std::string& topic : unsaved_retained_) {
    const auto it = routing_.retained.find(topic);
    if (it == routing_.retained.end()) {
      store.erase_retained(topic);
    } else {
      Bytes record;
      put_u8(record, retained_format);
      put_message(record, it->second.message);
      store.put_retained(topic, std::move(record));
    }
  }
  unsaved_sessions_.clear();
  unsaved_retained_.clear();
  store.sync();
}

// A session record: format, protocol version, user name, expiry,
// subscriptions, the Will (with its delay), then the Session (in flight,
// queued, QoS 2 ids) in its own versioned form. The session of a connected client is the one its
// Connection holds.
Bytes Engine::session_record(const StoredSession& s) const {
  Bytes out;
  put_u8(out, record_format);
  put_u8(out, static_cast<std::uint8_t>(s.version));
  put_u8(out, s.username ? 1 : 0);
  put_text(out, s.username.value_or(std::string()));
  put_u32(out, s.expiry_interval);
  put_u32(out, static_cast<std::uint32_t>(s.subscriptions.size()));
  for (const auto& [filter, sub] : s.subscriptions) {
    put_text(out, filter);
    put_u8(out, static_cast<std::uint8_t>(sub.options.qos));
    put_u8(out, static_cast<std::uint8_t>(
                    (sub.options.no_local ? 1 : 0) | (sub.options.retain_as_published ? 2 : 0) |
                    (sub.options.retain_handling << 2) | (sub.shared ? 0x10 : 0)));
    put_u8(out, sub.identifier ? 1 : 0);
    put_u32(out, sub.identifier.value_or(0));
  }
  put_u8(out, s.will ? 1 : 0);
  if (s.will) {
    put_u32(out, static_cast<std::uint32_t>(
                     s.will->properties.integer(PropertyId::will_delay_interval).value_or(0)));
    Publish w;
    w.topic = s.will->topic;
    w.qos = s.will->qos;
    w.retain = s.will->retain;
    w.payload = s.will->payload;
    w.properties = s.will->properties;
    w.properties.erase(PropertyId::will_delay_interval);
    put_message(out, std::move(w));
  }
  put_blob(out, current_session(s).serialize());
  return out;
}

std::unique_ptr<Engine::StoredSession> Engine::parse_session_record(const std::string& client_id,
                                                                    ByteView record) const {
  RecordReader r(record);
  const std::uint8_t format = r.u8();
  if (format != 1 && format != record_format) return nullptr;
  auto s = std::make_unique<StoredSession>();
  s->client_id = client_id;
  const std::uint8_t version = r.u8();
  if (version != static_cast<std::uint8_t>(Version::v3_1_1) &&
      version != static_cast<std::uint8_t>(Version::v5)) {
    return nullptr;
  }
  if (format >= 2) {
    const bool has_username = r.u8() != 0;
    std::string username = r.text();
    if (has_username) s->username = std::move(username);
  }
  s->version = static_cast<Version>(version);
  s->expiry_interval = r.u32();
  const std::uint32_t n = r.u32();
  for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
    std::string filter = r.text();
    Subscription sub;
    sub.options.qos = static_cast<QoS>(std::min<std::uint8_t>(r.u8(), 2));
    const std::uint8_t flags = r.u8();
    sub.options.no_local = (flags & 1) != 0;
    sub.options.retain_as_published = (flags & 2) != 0;
    sub.options.retain_handling = static_cast<std::uint8_t>((flags >> 2) & 3);
    sub.shared = (flags & 0x10) != 0;
    const bool has_id = r.u8() != 0;
    const std::uint32_t id = r.u32();
    if (has_id) sub.identifier = id;
    s->subscriptions[std::move(filter)] = sub;
  }
  if (r.u8() != 0) {
    const std::uint32_t delay = r.u32();
    auto w = get_message(r);
    if (!w) return nullptr;
    Will will;
    will.topic = std::move(w->topic);
    will.qos = w->qos;
    will.retain = w->retain;
    will.payload = w->payload;
    will.properties = std::move(w->properties);
    if (delay > 0) will.properties.add(PropertyId::will_delay_interval, delay);
    s->will = std::make_unique<StoredSession::StoredWill>(std::move(will));
  }
  const ByteView session = r.blob();
  if (!r.done()) return nullptr;
  auto parsed = Session::parse(session);
  if (!parsed) return nullptr;
  s->session = std::make_unique<Session>(std::move(*parsed));
  s->session->set_limits(config_.session_limits);
  return s;
}

// A record the store kept whole (its CRC held) that this engine cannot read
// (another version's format, or a bug) is not dropped: erasing it could lose
// what was acknowledged. The engine refuses to start, naming it.
namespace {
[[noreturn]] void unreadable(const char* what, const std::string& key, const Bytes& record) {
  std::string message = "the store's ";
  message.append(what).append(" \"").append(key).append("\" (");
  message.append(std::to_string(record.size())).append(" bytes, format ");
  message.append(record.empty() ? std::string("none") : std::to_string(record[0]));
  message.append(
      ") is not one this broker can read; refusing to start rather than lose it "
      "(move the store away to start empty)");
  throw std::runtime_error(message);
}
}  // namespace

// The broker starts from its store. Every session's connection ended with
// the restart: as on a network failure, its Will is published (after its
// delay) and its expiry counts from now; a session that expired on
// disconnect ends now.
void Engine::restore(Time now) {
  const Store::Contents contents = config_.store->load();
  for (const auto& [topic, record] : contents.retained) {
    RecordReader r(record);
    if (r.u8() != retained_format) unreadable("retained message on", topic, record);
    auto message = get_message(r);
    if (!message || !r.done()) unreadable("retained message on", topic, record);
    routing_.retained[topic] = Routing::Retained{std::move(*message), now};
  }
  std::vector<std::string> restored;
  for (const auto& [client_id, record] : contents.sessions) {
    auto s = parse_session_record(client_id, record);
    if (!s) unreadable("session of client", client_id, record);
    s->incarnation = next_incarnation_++;
    for (const auto& [filter, sub] : s->subscriptions) {
      const auto shared = sub.shared ? parse_shared_filter(filter) : std::nullopt;
      if (shared) {
        routing_.shared.insert(
            shared->filter, std::string(shared->share_name) + '\0' + client_id,
            Routing::SharedEntry{std::string(shared->share_name), client_id, sub, 0, s->incarnation,
                                 false, nullptr, s->username});
      } else {
        routing_.subscriptions.insert(filter, client_id,
                                      Routing::Entry{sub, 0, s->incarnation, nullptr});
      }
    }
    restored.push_back(client_id);
    sessions_.emplace(s->client_id, std::move(s));  // the key views the session's id
  }
  for (const std::string& id : restored) {
    const auto it = sessions_.find(id);
    if (it == sessions_.end()) continue;  // ended by an earlier one's Will? (not possible)
    went_offline(*it->second, now);
    mark_session(id);
  }
  process(now);
}

}  // namespace assay::broker
