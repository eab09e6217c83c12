// Peer and Context: the scripted side of every case.
#include <cstdio>

#include "assay/conformance/suite.hpp"
#include "assay/json/packet_json.hpp"

namespace assay::conformance {

using namespace mqtt;

namespace {
std::string bracketed_hex(ByteView bytes) {
  std::string s = packet_json::to_hex(bytes);
  s.insert(s.begin(), '[');
  s.push_back(']');
  return s;
}
}  // namespace

std::string describe(const Packet& packet, Version version) {
  return packet_json::to_json(packet, version).dump();
}

Peer::Peer(Context& ctx, std::string name, Version version)
    : ctx_(ctx), name_(std::move(name)), version_(version), decoder_(version) {
  link_ = ctx_.net.connect();
}

Peer::~Peer() {
  if (link_) link_->close();
}

void Peer::trace(char direction, std::string text) {
  ctx_.log(name_, direction, std::move(text));
}

std::uint16_t Peer::next_packet_id() {
  packet_id_ = static_cast<std::uint16_t>(packet_id_ == 0xFFFF ? 1 : packet_id_ + 1);
  return packet_id_;
}

void Peer::send(const Packet& packet) {
  if (const auto* c = std::get_if<Connect>(&packet); c && version_ == Version::v5) {
    maximum_packet_size_ = c->properties.integer(PropertyId::maximum_packet_size).value_or(0);
  }
  Bytes bytes = encode(packet, version_);
  trace('>', describe(packet, version_));
  if (!closed_) link_->write(bytes);
}

void Peer::send_raw(ByteView bytes, const std::string& what) {
  trace('>', what + " [" + packet_json::to_hex(bytes) + "]");
  if (!closed_) link_->write(bytes);
}

void Peer::send_text_message(ByteView bytes, const std::string& what) {
  if (closed_) return;
  if (!link_->write_text_message(bytes)) {
    throw NotApplicable("needs MQTT over WebSocket (assay conform --ws PATH)");
  }
  trace('>', what + " [" + packet_json::to_hex(bytes) + "]");
}

namespace {

// A server that does not speak the CONNECT's version answers in its own:
// a 3.1.1 server with return code 1 (3.1.1 [MQTT-3.1.2-2]), a 5.0 server
// perhaps with 0x84 [MQTT-3.1.2-2]. Only that answer is taken in the other
// version, and only before any CONNACK.
std::optional<Connack> unsupported_version_answer(ByteView bytes, Version ours) {
  const Version theirs = ours == Version::v5 ? Version::v3_1_1 : Version::v5;
  DecodeResult r = decode(bytes, theirs);
  const auto* d = std::get_if<Decoded>(&r);
  if (d == nullptr || d->size != bytes.size()) return std::nullopt;
  const auto* c = std::get_if<Connack>(&d->packet);
  if (c == nullptr || c->reason_code != ReasonCode::unsupported_protocol_version) {
    return std::nullopt;
  }
  return *c;
}

}  // namespace

void Peer::pump() {
  Bytes in;
  if (link_->read(in)) {
    decoder_.feed(in);
    if (!connack_seen_) before_connack_.insert(before_connack_.end(), in.begin(), in.end());
  }
  for (;;) {
    DecodeResult r = decoder_.next();
    if (std::holds_alternative<NeedMore>(r)) break;
    if (const auto* v = std::get_if<Violation>(&r)) {
      if (!connack_seen_) {
        if (auto c = unsupported_version_answer(before_connack_, version_)) {
          connack_seen_ = true;
          trace('<', "in MQTT " +
                         std::string(
                             to_string(version_ == Version::v5 ? Version::v3_1_1 : Version::v5)) +
                         ": CONNACK Unsupported Protocol Version [" +
                         packet_json::to_hex(before_connack_) + "]");
          arrived_.push_back(std::move(*c));
          break;
        }
      }
      trace('!', "malformed packet from the broker: " + to_string(*v));
      ctx_.fail("the broker sent a malformed packet: " + to_string(*v));
    }
    const std::size_t size = std::get<Decoded>(r).size;
    Packet p = std::move(std::get<Decoded>(r).packet);
    trace('<', describe(p, version_));
    // Checked on every connection of every case.
    if (maximum_packet_size_ != 0 && size > maximum_packet_size_) {
      ctx_.fail("the broker sent a " + std::to_string(size) + "-byte " +
                std::string(to_string(type_of(p))) + ", above the Maximum Packet Size of " +
                std::to_string(maximum_packet_size_) + " the client gave [MQTT-3.1.2-24]");
    }
    if (std::holds_alternative<Connack>(p)) {
      connack_seen_ = true;
      before_connack_.clear();
    }
    if (const auto* c = std::get_if<Connack>(&p); c && !is_error(c->reason_code)) {
      connected_ = true;
    } else if (std::holds_alternative<Disconnect>(p) && !connected_) {
      ctx_.fail("the broker sent DISCONNECT before a successful CONNACK [MQTT-3.14.0-1]");
    }
    arrived_.push_back(std::move(p));
  }
}

Peer::Arrival Peer::next(Duration within, bool kept_first) {
  if (kept_first && !stash_.empty()) {
    Arrival a{Arrival::Kind::packet, std::move(stash_.front())};
    stash_.pop_front();
    return a;
  }
  const Time until = ctx_.net.now() + within;
  for (;;) {
    pump();
    if (!arrived_.empty()) {
      Arrival a{Arrival::Kind::packet, std::move(arrived_.front())};
      arrived_.pop_front();
      return a;
    }
    if (link_->peer_closed()) {
      closed_ = true;
      if (!close_traced_) trace('!', "the broker closed the connection");
      close_traced_ = true;
      return {Arrival::Kind::closed, {}};
    }
    if (ctx_.net.now() >= until) return {};
    ctx_.net.wait(until);
  }
}

Connack Peer::connect(Connect c) {
  ctx_.add_credentials(c);
  send(c);
  return expect<Connack>("CONNECT");
}

Connack Peer::connect_ok(Connect c) {
  const std::string id = c.client_id;
  Connack ack = connect(std::move(c));
  if (ack.reason_code != ReasonCode::success) {
    ctx_.fail("the broker refused CONNECT from '" + id + "' with " +
              packet_json::hex_byte(static_cast<std::uint8_t>(ack.reason_code)));
  }
  return ack;
}

Suback Peer::subscribe(const std::string& filter, SubscribeOptions options, Properties properties) {
  Subscribe s;
  s.packet_id = next_packet_id();
  s.properties = std::move(properties);
  s.subscriptions.push_back({filter, options});
  send(s);
  Suback ack = expect_skipping_publish<Suback>("SUBSCRIBE " + filter);
  if (ack.packet_id != s.packet_id) {
    ctx_.fail(std::string("SUBACK carries packet id ") + std::to_string(ack.packet_id) +
              ", the SUBSCRIBE had " + std::to_string(s.packet_id) +
              (version_ == Version::v5 ? " [MQTT-2.2.1-6]" : " [MQTT-2.3.1-7]"));
  }
  return ack;
}

Unsuback Peer::unsubscribe(const std::string& filter) {
  Unsubscribe u;
  u.packet_id = next_packet_id();
  u.filters.push_back(filter);
  send(u);
  Unsuback ack = expect_skipping_publish<Unsuback>("UNSUBSCRIBE " + filter);
  if (ack.packet_id != u.packet_id) {
    ctx_.fail("UNSUBACK carries packet id " + std::to_string(ack.packet_id) +
              ", the UNSUBSCRIBE had " + std::to_string(u.packet_id));
  }
  return ack;
}

ReasonCode Peer::publish(Publish m) {
  if (m.qos != QoS::at_most_once && m.packet_id == 0) m.packet_id = next_packet_id();
  const std::uint16_t id = m.packet_id;
  const QoS qos = m.qos;
  send(m);
  if (qos == QoS::at_most_once) return ReasonCode::success;
  const std::string suffix = version_ == Version::v5 ? " [MQTT-2.2.1-5]" : " [MQTT-2.3.1-6]";
  if (qos == QoS::at_least_once) {
    Puback ack = expect_skipping_publish<Puback>("PUBLISH QoS 1");
    ctx_.check(ack.packet_id == id, "PUBACK for packet id " + std::to_string(ack.packet_id) +
                                        ", expected " + std::to_string(id) + suffix);
    return ack.reason_code;
  }
  Pubrec rec = expect_skipping_publish<Pubrec>("PUBLISH QoS 2");
  ctx_.check(rec.packet_id == id, "PUBREC for packet id " + std::to_string(rec.packet_id) +
                                      ", expected " + std::to_string(id) + suffix);
  if (is_error(rec.reason_code)) return rec.reason_code;
  send(Pubrel{id, ReasonCode::success, {}, AckLayout::shortest});
  Pubcomp comp = expect_skipping_publish<Pubcomp>("PUBREL");
  ctx_.check(comp.packet_id == id, "PUBCOMP for packet id " + std::to_string(comp.packet_id) +
                                       ", expected " + std::to_string(id) + suffix);
  return rec.reason_code;
}

ReasonCode Peer::publish(const std::string& topic, const std::string& payload, QoS qos,
                         bool retain) {
  Publish p;
  p.topic = topic;
  p.qos = qos;
  p.retain = retain;
  p.payload = SharedBytes(Bytes(payload.begin(), payload.end()));
  return publish(std::move(p));
}

void Peer::ack(const Publish& m) {
  if (m.qos == QoS::at_least_once) {
    send(Puback{m.packet_id, ReasonCode::success, {}, AckLayout::shortest});
  } else if (m.qos == QoS::exactly_once) {
    send(Pubrec{m.packet_id, ReasonCode::success, {}, AckLayout::shortest});
    Pubrel rel = expect_skipping_publish<Pubrel>("PUBREC");
    ctx_.check(rel.packet_id == m.packet_id, "PUBREL for packet id " +
                                                 std::to_string(rel.packet_id) + ", expected " +
                                                 std::to_string(m.packet_id));
    send(Pubcomp{m.packet_id, ReasonCode::success, {}, AckLayout::shortest});
  }
}

Publish Peer::expect_publish(const std::string& why, bool ack_it) {
  Publish m = expect<Publish>(why);
  if (ack_it) ack(m);
  return m;
}

void Peer::expect_nothing(const std::string& why) {
  Arrival a = next(ctx_.options.quiet);
  if (a.kind == Arrival::Kind::packet) {
    ctx_.fail(why + ": expected nothing, got " + describe(a.packet, version_));
  }
  if (a.kind == Arrival::Kind::closed) {
    ctx_.fail(why + ": expected nothing, but the broker closed the connection");
  }
}

std::optional<ReasonCode> Peer::expect_close(const std::string& why) {
  std::optional<ReasonCode> code;
  for (;;) {
    Arrival a = next(ctx_.options.timeout);
    if (a.kind == Arrival::Kind::closed) return code;
    if (a.kind == Arrival::Kind::timeout) {
      ctx_.fail(why + ": the broker did not close the connection within " +
                std::to_string(ctx_.options.timeout.count()) + " ms");
    }
    if (const auto* d = std::get_if<Disconnect>(&a.packet); d && version_ == Version::v5) {
      code = d->reason_code;
      continue;
    }
    if (const auto* c = std::get_if<Connack>(&a.packet); c && is_error(c->reason_code)) {
      code = c->reason_code;
      continue;
    }
    ctx_.fail(why + ": expected the broker to close the connection, got " +
              describe(a.packet, version_));
  }
}

void Peer::expect_close_with(const std::string& why, std::initializer_list<ReasonCode> codes) {
  const auto code = expect_close(why);
  if (!code) return;
  for (ReasonCode c : codes) {
    if (c == *code) return;
  }
  std::string allowed;
  for (ReasonCode c : codes) {
    allowed += (allowed.empty() ? "" : ", ") + packet_json::hex_byte(static_cast<std::uint8_t>(c));
  }
  ctx_.fail(why + ": the broker closed with reason code " +
            packet_json::hex_byte(static_cast<std::uint8_t>(*code)) + ", expected one of " +
            allowed);
}

Bytes Peer::raw_until_close(const std::string& why) {
  Bytes all;
  const Time until = ctx_.net.now() + ctx_.options.timeout;
  for (;;) {
    link_->read(all);
    if (link_->peer_closed()) break;
    if (ctx_.net.now() >= until) {
      trace('<', bracketed_hex(all));
      ctx_.fail(why + ": the broker did not close the connection within " +
                std::to_string(ctx_.options.timeout.count()) + " ms");
    }
    ctx_.net.wait(until);
  }
  trace('<', bracketed_hex(all));
  trace('!', "the broker closed the connection");
  closed_ = true;
  close_traced_ = true;
  return all;
}

void Peer::disconnect(ReasonCode rc) {
  send(Disconnect{rc, {}, AckLayout::shortest});
  drop();
}

void Peer::drop() {
  if (!closed_) trace('!', "we closed the connection");
  closed_ = true;
  close_traced_ = true;
  link_->close();
}

// ---------------------------------------------------------------------------

Context::Context(Network& n, const Options& o, const Capabilities& c, Version v, std::string prefix,
                 std::vector<TraceLine>& trace)
    : net(n),
      options(o),
      caps(c),
      version(v),
      prefix_(std::move(prefix)),
      trace_(trace),
      started_(n.now()) {}

Context::~Context() = default;

Peer& Context::peer(const std::string& name) {
  return peer(name, version);
}

Peer& Context::peer(const std::string& name, Version v) {
  peers_.push_back(std::make_unique<Peer>(*this, name, v));
  return *peers_.back();
}

std::string Context::client_id() {
  // prefix_ is the run token plus the case number, all alphanumeric.
  return prefix_ + "c" + std::to_string(++ids_);
}

std::string Context::topic(const std::string& leaf) const {
  return "assay/" + prefix_ + "/" + leaf;
}

Connect Context::connect_packet(const std::string& id, bool clean_start,
                                std::uint32_t session_expiry) const {
  Connect c;
  c.version = version;
  c.client_id = id;
  c.clean_start = clean_start;
  if (version == Version::v5 && session_expiry > 0) {
    c.properties.add(PropertyId::session_expiry_interval, session_expiry);
  }
  return c;
}

void Context::add_credentials(Connect& c) const {
  if (options.username && !c.username) c.username = options.username;
  if (options.password && !c.password) c.password = options.password;
}

void Context::sleep(Duration d) {
  const Time until = net.now() + d;
  while (net.now() < until)
    net.wait(until);
}

void Context::log(const std::string& peer_name, char direction, std::string text) {
  // Stress cases exchange thousands of packets: keep the first ones.
  constexpr std::size_t limit = 4000;
  if (trace_.size() > limit) return;
  if (trace_.size() == limit) text = "(the exchange goes on; the rest is left out)";
  trace_.push_back({net.now() - started_, peer_name, direction, std::move(text)});
}

void Context::cleanup() {
  peers_.clear();
  if (retained_.empty() && sessions_.empty()) return;
  // Best effort: a broker that fails here already failed the case.
  try {
    for (const std::string& id : sessions_) {
      Peer& p = peer("cleanup");
      Connect c = connect_packet(id, true);
      p.connect(c);
      p.disconnect();
    }
    if (!retained_.empty()) {
      Peer& p = peer("cleanup");
      p.connect_ok(connect_packet(client_id(), true));
      for (const std::string& t : retained_)
        p.publish(t, "", QoS::at_least_once, true);
      p.disconnect();
    }
  } catch (const std::exception&) {
  }
  peers_.clear();
}

}  // namespace assay::conformance
