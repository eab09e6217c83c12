// The broker engine: pure (no sockets, clocks or threads), so the simulator
// and the in-process conformance transport drive exactly the code that
// ships. It owns one server-role Connection per network connection, the
// session store, the subscription index, retained messages and pending wills.
//
// Driver contract (like Connection's, one level up):
//   open() for each accepted network connection, then receive(),
//   transport_closed() and handle_timeout() with `now`; after every input,
//   poll_output() until nullopt and write each Output's bytes to its
//   connection, closing it afterwards when close_after is set (then call
//   transport_closed()); arm a timer for next_deadline().
//
// Several engines, one per thread, make one broker (docs/broker.md,
// "Threads"). Every session lives in the engine its client id hashes to
// (home_shard()): a connection whose CONNECT names a client id of another
// shard comes out of poll_handoff() and goes into that shard's adopt(), so
// session takeover, resumption and wills stay inside one engine. The engines
// share one Routing (subscriptions, shared subscriptions, retained messages)
// under the driver's SharedLock; a message for a session of another shard
// comes out of poll_forward() and goes into that shard's deliver_forwarded().
// Outputs of one engine to another keep their order, so messages from one
// publisher reach each subscriber in the order sent. One engine alone (the
// default) needs none of this.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "assay/broker/auth.hpp"
#include "assay/broker/store.hpp"
#include "assay/mqtt/connection.hpp"
#include "assay/mqtt/subscription_index.hpp"

namespace assay::broker {

using ConnectionId = std::uint64_t;

// Test only: a bug planted on purpose, so that the simulator can show that
// its checkers find each kind (docs/simulator.md, "Planted bugs"). Never
// set in a broker people use: `assay broker` has no way to set it.
enum class PlantedBug : std::uint8_t {
  none,
  lose_qos2_after_pubrec,        // a QoS 2 PUBLISH is acknowledged and not routed
  will_on_normal_disconnect,     // the Will goes out after DISCONNECT with Success too
  drop_session_on_takeover,      // a takeover starts the session afresh
  retained_without_retain_flag,  // retained messages go out at subscribe with RETAIN 0
  forget_inflight_on_resume,     // a resumed session loses what was in flight to it
  reorder_queue,                 // an offline session's queue gets pairs swapped
  ack_before_store,              // messages queued for offline sessions are never stored
};

// Why a copy of a message never reached a session it was routed to. A QoS
// 1/2 publish that some session's full queue cannot take is refused to its
// publisher as a whole (route()), so these are the copies nobody was told
// were taken: Wills, QoS 0 messages for offline clients, and forwarded
// copies whose session ended or filled on the way.
enum class DropReason : std::uint8_t {
  queue_full,      // the session's queue was at its bound (SessionLimits)
  offline_qos0,    // a QoS 0 message for an offline client (queue_qos0_offline off)
  session_ended,   // forwarded from another shard after the session ended
  not_authorized,  // the Authorizer's may_read() refused the session this message
};

// Told of each such copy, with the session's client id: the simulator
// excuses exactly these, so anything else missing is a loss.
using DropObserver =
    std::function<void(std::string_view client_id, const mqtt::Publish&, DropReason)>;

struct EngineConfig {
  std::size_t max_connections = 100'000;
  // The largest packet accepted from a client (announced in CONNACK).
  std::uint32_t maximum_packet_size = 1024 * 1024;
  // How many unacknowledged QoS 1/2 messages a client may send us.
  std::uint16_t receive_maximum = 100;
  std::uint16_t topic_alias_maximum = 10;
  mqtt::QoS maximum_qos = mqtt::QoS::exactly_once;
  bool retain_available = true;
  // A CONNECT whose client id is held by a live connection waits until the
  // driver has read what that connection still has to say (poll_drain()):
  // over sockets, a client's DISCONNECT on its old connection may not have
  // been read yet when its new CONNECT is, and must not be overtaken by a
  // takeover. In-process drivers deliver in order and leave this off.
  bool drain_before_takeover = false;
  // Replaces the client's Keep Alive when set (5.0 Server Keep Alive).
  std::optional<std::uint16_t> server_keep_alive;
  // Session Expiry Intervals above this are lowered to it (seconds).
  std::uint32_t maximum_session_expiry = mqtt::session_never_expires;
  // The connection validator rule: client ids shorter than this are refused
  // with Client Identifier not valid (0x85; 3.1.1: 0x02).
  std::size_t minimum_client_id_length = 0;
  // Assign a client id to a client that sends an empty one [MQTT-3.1.3-6].
  bool assign_client_ids = true;
  std::size_t max_subscriptions_per_client = 1000;
  // Topic names and filters with more levels are refused (SUBACK 0x8F/0x80;
  // a PUBLISH is acknowledged with 0x90 in 5.0 and not routed).
  std::size_t max_topic_levels = 64;
  // Security hooks; both default to one shared AllowAll.
  std::shared_ptr<Authenticator> authenticator;
  std::shared_ptr<Authorizer> authorizer;
  // Offline queue bounds per session; QoS 0 messages are queued for
  // offline clients only when queue_qos0_offline is set.
  mqtt::SessionLimits session_limits;
  bool queue_qos0_offline = false;
  std::size_t max_retained_messages = 100'000;
  mqtt::Duration connect_timeout = std::chrono::seconds(10);
  // How often the $SYS/broker/... statistics are published (retained, with
  // Mosquitto's topic names); zero turns them off.
  mqtt::Duration sys_interval = std::chrono::seconds(10);
  std::string version = "assay";  // $SYS/broker/version
  // Persistence (one engine only, for now): sessions with their
  // subscriptions, in-flight and queued messages, and retained messages are
  // written through it and synced before an input's output can leave; the
  // engine starts from what it holds. None: nothing survives a restart.
  std::shared_ptr<Store> store;
  DropObserver on_drop;  // none: drops are only counted ($SYS .../dropped)
  PlantedBug planted_bug = PlantedBug::none;
};

// The shard that owns the sessions of `client_id` among `shards` engines: a
// fixed hash (FNV-1a), the same on every run and platform.
std::size_t home_shard(std::string_view client_id, std::size_t shards);

// The lock the driver gives engines that share a Routing (a reader-writer
// lock; the engine holds it only while it reads or changes the routing
// state, never while calling out).
class SharedLock {
 public:
  virtual ~SharedLock() = default;
  virtual void lock() = 0;
  virtual void unlock() = 0;
  virtual void lock_shared() = 0;
  virtual void unlock_shared() = 0;
};

// The routing state engines of one broker share; opaque outside the engine.
class Routing;
namespace detail {
struct Subscription;
}
std::shared_ptr<Routing> make_routing();

struct EngineStats;

struct Sharding {
  std::size_t index = 0;  // this engine's shard
  std::size_t count = 1;
  std::shared_ptr<Routing> routing;  // shared by the engines; made when null
  SharedLock* lock = nullptr;        // required when count > 1
  // Broker-wide statistics for $SYS from this engine's own (the driver adds
  // the other shards' connection, session, message and byte counts).
  std::function<EngineStats(const EngineStats&)> aggregate;
};

struct EngineStats {
  std::size_t connections = 0;
  std::size_t sessions = 0;
  std::size_t subscriptions = 0;
  std::size_t retained = 0;
  std::uint64_t messages_received = 0;
  std::uint64_t messages_sent = 0;
  std::uint64_t messages_dropped = 0;  // QoS 0 to offline clients, full queues, expired
  std::uint64_t bytes_received = 0;
  std::uint64_t bytes_sent = 0;
  std::size_t clients_connected = 0;  // connections that completed CONNECT
};

class Engine {
 public:
  Engine(EngineConfig config, mqtt::Time now, Sharding sharding = {});
  ~Engine();

  // A new network connection; nullopt when max_connections is reached (the
  // driver closes it at once). `peer` ("address:port") is what the
  // Authenticator sees (failures are counted per address) and is kept for it.
  std::optional<ConnectionId> open(mqtt::Time now, std::string_view peer = {});
  // The user name a verified client certificate gives connection `id`
  // (TLS, a listener with use_identity_as_username): its CONNECT's user
  // name is replaced by it and needs no password (ConnectContext). Before
  // the CONNECT is received.
  void set_identity(ConnectionId id, std::string identity);
  void receive(ConnectionId id, mqtt::ByteView bytes, mqtt::Time now);
  void transport_closed(ConnectionId id, mqtt::Time now);
  void handle_timeout(mqtt::Time now);
  // Server shutting down: DISCONNECT 0x8B to every 5.0 client, then close.
  void shutdown(mqtt::Time now);

  struct Output {
    ConnectionId id = 0;
    mqtt::Bytes bytes;
    bool close_after = false;
  };
  std::optional<Output> poll_output();
  // Write-through for large fan-outs: when one message goes to at least
  // `min_copies` connections of this engine, each copy is offered to
  // `write` as soon as it is encoded (with whatever that connection had
  // pending before it), instead of all waiting for poll_output(): the first
  // subscriber need not wait while the copies for all the others are made.
  // `write` returns how many bytes it took (it may take none, or part); the
  // rest stays for poll_output(). It must not call the engine. Not used
  // with a store (output waits for the store's sync).
  using WriteThrough = std::function<std::size_t(ConnectionId, mqtt::ByteView)>;
  void set_write_through(WriteThrough write, std::size_t min_copies) {
    write_through_ = std::move(write);
    write_through_min_ = min_copies;
  }
  // Whether poll_output() may have something (a driver that polls later,
  // once per turn, asks this after each input).
  bool has_output() const { return !dirty_.empty(); }
  std::optional<mqtt::Time> next_deadline() const;

  EngineStats stats() const;
  const EngineConfig& config() const { return config_; }

  // A connection whose CONNECT belongs to another shard: it is gone from
  // this engine; give `connection` to shard `shard`'s adopt() and move the
  // network connection along.
  struct Handoff {
    ConnectionId id = 0;  // its id here
    std::size_t shard = 0;
    std::unique_ptr<mqtt::Connection> connection;  // the CONNECT polled, later packets not
    mqtt::Connect connect;
    std::string peer;      // as given to open()
    std::string identity;  // as given to set_identity()
  };
  std::optional<Handoff> poll_handoff();

  // With drain_before_takeover: `holder` holds the session a CONNECT on
  // `waiting` would take over. Read what `holder`'s network connection has
  // buffered (receive(), or transport_closed() at its end), then call
  // resume(waiting).
  struct Drain {
    ConnectionId holder = 0;
    ConnectionId waiting = 0;
  };
  std::optional<Drain> poll_drain();
  void resume(ConnectionId waiting, mqtt::Time now);
  // Takes a handed-off connection and answers its CONNECT; returns its id
  // here (its output comes out of poll_output()).
  ConnectionId adopt(Handoff handoff, mqtt::Time now);

  // A message for sessions of another shard: routed once, forwarded once
  // per shard with the copy each of its sessions gets.
  struct Forward {
    struct Target {
      std::string client_id;
      std::uint64_t incarnation = 0;  // of the session the subscription belongs to
      mqtt::QoS qos = mqtt::QoS::at_most_once;
      bool retain = false;
      std::vector<std::uint32_t> identifiers;  // Subscription Identifiers
    };
    std::size_t shard = 0;
    mqtt::Publish message;  // as published
    std::vector<Target> targets;
  };
  std::optional<Forward> poll_forward();
  void deliver_forwarded(Forward forward, mqtt::Time now);

 private:
  struct StoredSession;
  struct Link;

  void process(mqtt::Time now);
  void on_event(Link& link, mqtt::Event& e, mqtt::Time now);
  void on_connect(Link& link, const mqtt::Connect& c, mqtt::Time now);
  // 5.0 enhanced authentication (engine_auth.cpp).
  void on_auth(Link& link, const mqtt::Auth& auth, mqtt::Time now);
  void auth_step(Link& link, const std::optional<mqtt::Bytes>& data, mqtt::Time now);
  void on_subscribe(Link& link, const mqtt::Subscribe& s, mqtt::Time now);
  void on_unsubscribe(Link& link, const mqtt::Unsubscribe& u, mqtt::Time now);
  void on_closed(Link& link, const mqtt::event::Closed& c, mqtt::Time now);
  // Routes an application message; returns how many sessions it was given to.
  // With `refused`: a QoS 1/2 message that some session's full queue cannot
  // take goes nowhere and *refused is set (the publisher is told); without
  // it (Wills, $SYS) such a session's copy is dropped and counted.
  std::size_t route(const mqtt::Publish& message, const std::string& publisher, mqtt::Time now,
                    bool* refused = nullptr);
  const mqtt::Session& current_session(const StoredSession& session) const;
  bool has_room(const StoredSession& session, const mqtt::Publish& message) const;
  void update_congestion(StoredSession& session);
  void dropped(const std::string& client_id, const mqtt::Publish& message, DropReason why);

  // The connection it went to, if the session has one.
  Link* deliver(StoredSession& session, mqtt::Publish message, mqtt::Time now);
  void write_now(Link& link);
  void send_retained(StoredSession& session, const std::string& filter,
                     const detail::Subscription& sub, mqtt::Time now);
  void remove_subscription(StoredSession& session, const std::string& filter);
  void end_session(const std::string& client_id, mqtt::Time now);
  void went_offline(StoredSession& session, mqtt::Time now);
  void fire_will(StoredSession& session, mqtt::Time now);
  void touch(Link& link);
  void publish_sys(mqtt::Time now);
  void arm(StoredSession& session);
  void set_shared_online(StoredSession& session, bool online);
  void mark_session(const std::string& client_id);
  void mark_retained(const std::string& topic);
  void save();
  void restore(mqtt::Time now);
  mqtt::Bytes session_record(const StoredSession& session) const;
  std::unique_ptr<StoredSession> parse_session_record(const std::string& client_id,
                                                      mqtt::ByteView record) const;
  void handoff(Link& link, const mqtt::Connect& connect);
  mqtt::Fifo<Drain> drains_;

  EngineConfig config_;
  ConnectionId next_id_ = 1;
  std::uint64_t next_assigned_ = 1;
  std::uint64_t next_incarnation_ = 1;
  // Each Link in its node: one allocation per connection.
  std::unordered_map<ConnectionId, Link> links_;
  // A session a message goes to, while route() works out the copies.
  struct RouteTarget {
    const std::string* client;
    std::uint32_t shard = 0;
    std::uint64_t incarnation = 0;
    const std::atomic<bool>* congested = nullptr;
    mqtt::QoS qos = mqtt::QoS::at_most_once;
    bool retain = false;
    std::vector<std::uint32_t> identifiers;
    StoredSession* session = nullptr;  // this shard's, looked up once
  };
  std::vector<RouteTarget> route_targets_;  // route()'s, kept for the next message
  WriteThrough write_through_;
  std::size_t write_through_min_ = 0;
  bool reads_checked_ = false;  // the Authorizer wants may_read() for every copy
  // By client id; each key views its session's own copy. Looked up for
  // every copy of every message routed: hashed, not a tree of string
  // comparisons (nothing iterates it in order).
  std::unordered_map<std::string_view, std::unique_ptr<StoredSession>> sessions_;
  Sharding shard_;
  Routing& routing_;
  std::map<std::string, std::uint64_t> shared_turn_;  // group -> round-robin counter
  mqtt::Fifo<Handoff> handoffs_;
  mqtt::Fifo<Forward> forwards_;
  std::set<std::string> unsaved_sessions_;  // changed in this input (with a store)
  std::set<std::string> unsaved_retained_;
  // Connections that may have events (work_) or output to poll (dirty_):
  // each id at most once (flags in its Link), in the order it came, so that
  // a message fanned out to many sessions costs no allocation per session.
  struct IdQueue {
    std::vector<ConnectionId> ids;
    std::size_t head = 0;
    bool empty() const { return head == ids.size(); }
    ConnectionId pop() {
      const ConnectionId id = ids[head++];
      if (head == ids.size()) {
        ids.clear();
        head = 0;
      }
      return id;
    }
  };
  void schedule(Link& link);
  void mark_dirty(Link& link);
  IdQueue work_;
  IdQueue dirty_;
  // Connection deadlines: a min-heap with lazy removal. An entry is pushed
  // when a connection's next deadline comes earlier than the one it has
  // armed (Link::armed); a later one (the keep-alive deadline, moved by every
  // packet) pushes nothing, and the earlier entry, when it comes, arms the
  // next. Entries of closed connections are skipped when they come, and the
  // heap is rebuilt when they would outnumber the live ones. No allocation
  // per packet, 16 bytes per connection.
  std::vector<std::pair<mqtt::Time, ConnectionId>> deadlines_;
  void rebuild_deadlines();
  std::set<std::pair<mqtt::Time, std::string>> session_timers_;  // wills and expiries
  EngineStats counters_;
  mqtt::Time started_{0};
  std::optional<mqtt::Time> next_sys_;
};

}  // namespace assay::broker
