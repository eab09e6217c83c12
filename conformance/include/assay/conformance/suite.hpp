// The conformance suite: cases named by the normative statements they check,
// written as scripted exchanges between Peers (raw MQTT clients that send
// exactly what a case says and decode what the broker answers) and the
// broker behind a Network. See docs/conformance.md.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "assay/conformance/network.hpp"
#include "assay/mqtt/codec.hpp"
#include "assay/mqtt/packets.hpp"

namespace assay::conformance {

using mqtt::Version;

struct Options {
  // How long to wait for a packet the broker owes us.
  Duration timeout = std::chrono::seconds(3);
  // How long silence must last before a case concludes that the broker will
  // not send something (a message it must not deliver).
  Duration quiet = std::chrono::milliseconds(300);
  bool v3_1_1 = true;
  bool v5 = true;
  // Glob patterns over case ids, sections and statement ids ("3.3.*",
  // "MQTT-3.1.2-4", "5.0/retain.*"); empty means every case.
  std::vector<std::string> only;
  std::vector<std::string> exclude;
  std::optional<std::string> username;
  std::optional<mqtt::Bytes> password;
  // An account the broker knows for SCRAM-SHA-256 (5.0 enhanced
  // authentication): the §4.12 cases need one and are not applicable
  // without it.
  struct Account {
    std::string user;
    std::string password;
  };
  std::optional<Account> scram;
  // A per-run token in client ids and topics, so that runs against a shared
  // broker do not meet; random when empty.
  std::string token;
  // Stress group size (messages per publisher).
  std::size_t stress_messages = 200;
};

// What the broker offers, read from its CONNACKs before the cases run.
struct Capabilities {
  bool v3_1_1 = false;
  bool v5 = false;
  // For a version the probe could not connect in: whether the broker said
  // it does not offer it (a CONNACK with Unsupported Protocol Version, 0x84
  // or 3.1.1 return code 1: its cases are not applicable), and what
  // happened. Any other answer, or none, fails that version's cases.
  bool v3_1_1_unsupported = false;
  bool v5_unsupported = false;
  std::string v3_1_1_why;
  std::string v5_why;
  std::string refused_why;  // why no version could connect, if so
  mqtt::QoS maximum_qos = mqtt::QoS::exactly_once;
  bool retain_available = true;
  bool wildcard_available = true;
  bool shared_available = true;
  bool subscription_ids_available = true;
  std::uint16_t topic_alias_maximum = 0;
  std::uint32_t maximum_packet_size = 0;  // 0: no limit announced
  std::uint16_t receive_maximum = mqtt::default_receive_maximum;
  std::optional<std::uint16_t> server_keep_alive;
};

struct TraceLine {
  Duration at{0};    // since the case started
  std::string peer;  // "sub", "pub", ...
  char direction;    // '>' we sent, '<' the broker sent, '!' an event
  std::string text;  // the packet as JSON, raw bytes in hex, or the event
};

// A case's body throws these to end it.
struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct NotApplicable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Context;

// One network connection, driven by a case.
class Peer {
 public:
  Peer(Context& ctx, std::string name, Version version);
  ~Peer();
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  const std::string& name() const { return name_; }
  Version version() const { return version_; }

  void send(const mqtt::Packet& packet);
  // Bytes the encoder would refuse to make; `what` names them in the trace.
  void send_raw(mqtt::ByteView bytes, const std::string& what);
  // Bytes in one WebSocket text message; the case is not applicable unless
  // the suite runs over WebSocket (--ws).
  void send_text_message(mqtt::ByteView bytes, const std::string& what);

  struct Arrival {
    enum class Kind { packet, closed, timeout } kind = Kind::timeout;
    mqtt::Packet packet;
  };
  // The next packet from the broker, the close, or nothing within `within`.
  // Packets kept aside by expect_skipping_publish come first, unless
  // `kept_first` is false.
  Arrival next(Duration within, bool kept_first = true);

  // The next packet must be a T; anything else fails the case with `why`.
  template <class T>
  T expect(const std::string& why);
  // Like expect, but PUBLISH packets that arrive first are kept for later
  // (an ack awaited while messages flow).
  template <class T>
  T expect_skipping_publish(const std::string& why);

  // CONNECT (credentials from the options added) and its CONNACK.
  mqtt::Connack connect(mqtt::Connect connect);
  // ... which must be accepted.
  mqtt::Connack connect_ok(mqtt::Connect connect);
  // SUBSCRIBE one filter; returns the SUBACK (its id checked [2.2.1-6]).
  mqtt::Suback subscribe(const std::string& filter, mqtt::SubscribeOptions options,
                         mqtt::Properties properties = {});
  mqtt::Suback subscribe(const std::string& filter, mqtt::QoS qos) {
    return subscribe(filter, mqtt::SubscribeOptions{qos, false, false, 0});
  }
  mqtt::Unsuback unsubscribe(const std::string& filter);
  // PUBLISH and, for QoS 1/2, the whole acknowledgement flow. Returns the
  // reason code of the PUBACK/PUBREC (success for QoS 0).
  mqtt::ReasonCode publish(mqtt::Publish message);
  mqtt::ReasonCode publish(const std::string& topic, const std::string& payload, mqtt::QoS qos,
                           bool retain = false);
  // The next packet must be a PUBLISH; with `ack`, acknowledge it (QoS 2:
  // PUBREC, await PUBREL, PUBCOMP).
  mqtt::Publish expect_publish(const std::string& why, bool ack = true);
  void ack(const mqtt::Publish& message);
  // No packet at all for the context's quiet period.
  void expect_nothing(const std::string& why);
  // No PUBLISH for the quiet period (other packets are failures too).
  void expect_no_publish(const std::string& why) { expect_nothing(why); }
  // The broker must close the connection, after at most a DISCONNECT (5.0)
  // or a refusing CONNACK. Returns the DISCONNECT's reason code if one came.
  std::optional<mqtt::ReasonCode> expect_close(const std::string& why);
  // As expect_close; a DISCONNECT or CONNACK that came must carry one of
  // `codes`.
  void expect_close_with(const std::string& why, std::initializer_list<mqtt::ReasonCode> codes);

  // Everything the broker sends until it closes the connection, undecoded
  // (for answers whose format the case cannot know in advance). Fails the
  // case if the connection stays open.
  mqtt::Bytes raw_until_close(const std::string& why);

  // Normal DISCONNECT (reason code, 5.0) then close.
  void disconnect(mqtt::ReasonCode rc = mqtt::ReasonCode::success);
  // Close the network connection without DISCONNECT.
  void drop();
  bool closed() const { return closed_; }
  std::uint16_t next_packet_id();

 private:
  void pump();
  void trace(char direction, std::string text);

  Context& ctx_;
  std::string name_;
  Version version_;
  std::unique_ptr<Link> link_;
  mqtt::StreamDecoder decoder_;
  std::deque<mqtt::Packet> arrived_;
  std::deque<mqtt::Packet> stash_;
  bool closed_ = false;
  bool connected_ = false;  // a CONNACK with a code below 0x80 arrived
  bool connack_seen_ = false;
  mqtt::Bytes before_connack_;  // what the broker sent before its CONNACK
  bool close_traced_ = false;
  std::uint16_t packet_id_ = 0;
  // The Maximum Packet Size our CONNECT gave (5.0): nothing larger may come.
  std::uint32_t maximum_packet_size_ = 0;
};

class Context {
 public:
  Context(Network& net, const Options& options, const Capabilities& caps, Version version,
          std::string prefix, std::vector<TraceLine>& trace);
  ~Context();

  Network& net;
  const Options& options;
  const Capabilities& caps;
  const Version version;

  bool v5() const { return version == Version::v5; }
  // A new connection in the case's version (or another).
  Peer& peer(const std::string& name);
  Peer& peer(const std::string& name, Version v);
  // A fresh client id (alphanumeric, at most 23 characters [MQTT-3.1.3-5]).
  std::string client_id();
  // A topic private to this run and case.
  std::string topic(const std::string& leaf) const;
  // A CONNECT in the case's version.
  mqtt::Connect connect_packet(const std::string& client_id, bool clean_start = true,
                               std::uint32_t session_expiry = 0) const;
  // The suite's User Name and Password (-u, -P), where `c` has none.
  void add_credentials(mqtt::Connect& c) const;
  // Remove a retained message on `topic` when the case ends.
  void clear_retained_later(const std::string& topic) { retained_.push_back(topic); }
  // End a persistent session when the case ends.
  void end_session_later(const std::string& client_id) { sessions_.push_back(client_id); }

  void need(bool ok, const std::string& why) const {
    if (!ok) throw NotApplicable(why);
  }
  [[noreturn]] void fail(const std::string& what) const { throw Failure(what); }
  void check(bool ok, const std::string& what) const {
    if (!ok) fail(what);
  }
  void sleep(Duration d);
  // A finding reported with a passing verdict (e.g. QoS 1 duplicates).
  void note(std::string text) { note_ = std::move(text); }
  const std::string& note() const { return note_; }
  Duration elapsed() { return net.now() - started_; }
  void log(const std::string& peer, char direction, std::string text);
  // Runs the clean-ups; called by the runner after the body.
  void cleanup();

 private:
  std::string prefix_;
  std::vector<TraceLine>& trace_;
  Time started_;
  std::vector<std::unique_ptr<Peer>> peers_;
  std::vector<std::string> retained_;
  std::vector<std::string> sessions_;
  unsigned ids_ = 0;
  std::string note_;
};

enum class Verdict { passed, failed, not_applicable };
const char* to_string(Verdict v);

struct Case {
  std::string name;     // "connect.second-connect"
  std::string section;  // "3.1"
  std::string title;
  Version version;
  std::vector<std::string> statements;
  std::function<void(Context&)> body;
  std::string id() const;  // "5.0/connect.second-connect"
};

// Every case of the suite, in report order.
std::vector<Case> all_cases();

struct CaseResult {
  const Case* test = nullptr;
  Verdict verdict = Verdict::passed;
  std::string message;
  std::vector<TraceLine> trace;
  double seconds = 0;
};

struct Report {
  std::string target;
  Capabilities capabilities;
  std::vector<CaseResult> results;
  std::size_t count(Verdict v) const;
  bool ok() const { return count(Verdict::failed) == 0; }
};

bool selected(const Case& c, const Options& options);
Capabilities probe(Network& net, const Options& options);
// Runs the selected cases; `progress` sees each result as it is made.
Report run_suite(Network& net, const Options& options,
                 const std::function<void(const CaseResult&)>& progress = {});

// Case registration, one function per spec area.
namespace cases {
void connect(std::vector<Case>& out);
void publish(std::vector<Case>& out);
void subscribe(std::vector<Case>& out);
void session(std::vector<Case>& out);
void v5_features(std::vector<Case>& out);
void malformed(std::vector<Case>& out);
void stress(std::vector<Case>& out);
void stream(std::vector<Case>& out);
void auth(std::vector<Case>& out);
}  // namespace cases

// Adds a case for each version that has statement ids (an empty list means
// the case does not exist in that version).
void add_case(std::vector<Case>& out, std::string section, std::string name, std::string title,
              std::vector<std::string> v3_1_1_statements, std::vector<std::string> v5_statements,
              std::function<void(Context&)> body);

std::string describe(const mqtt::Packet& packet, Version version);

template <class T>
std::string type_name() {
  return std::string(mqtt::to_string(mqtt::type_of(mqtt::Packet(std::in_place_type<T>))));
}

template <class T>
T Peer::expect(const std::string& why) {
  Arrival a = next(ctx_.options.timeout);
  if (a.kind == Arrival::Kind::packet) {
    if (auto* p = std::get_if<T>(&a.packet)) return std::move(*p);
    ctx_.fail(why + ": expected " + type_name<T>() + ", got " + describe(a.packet, version_));
  }
  if (a.kind == Arrival::Kind::closed) {
    ctx_.fail(why + ": expected " + type_name<T>() + ", but the broker closed the connection");
  }
  ctx_.fail(why + ": expected " + type_name<T>() + ", got nothing within " +
            std::to_string(ctx_.options.timeout.count()) + " ms");
}

template <class T>
T Peer::expect_skipping_publish(const std::string& why) {
  for (;;) {
    Arrival a = next(ctx_.options.timeout, false);
    if (a.kind == Arrival::Kind::packet && std::holds_alternative<mqtt::Publish>(a.packet) &&
        !std::is_same_v<T, mqtt::Publish>) {
      stash_.push_back(std::move(a.packet));
      continue;
    }
    if (a.kind == Arrival::Kind::packet) {
      if (auto* p = std::get_if<T>(&a.packet)) return std::move(*p);
      ctx_.fail(why + ": expected " + type_name<T>() + ", got " + describe(a.packet, version_));
    }
    ctx_.fail(why + ": expected " + type_name<T>() +
              (a.kind == Arrival::Kind::closed ? ", but the broker closed the connection"
                                               : ", got nothing in time"));
  }
}

}  // namespace assay::conformance
