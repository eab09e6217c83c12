// The engine's own types, shared by the files that implement it (engine.cpp,
// engine_sessions.cpp, engine_subscriptions.cpp, engine_routing.cpp,
// engine_persistence.cpp): the routing tables the shards share, a session
// as the broker stores it, and a connection as the engine sees it. Not part
// of the engine's interface (broker/include/assay/broker/engine.hpp).
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "assay/broker/engine.hpp"
#include "assay/mqtt/constants.hpp"
#include "assay/mqtt/topic.hpp"

namespace assay::broker {

using namespace assay::mqtt;

namespace detail {

inline constexpr Time never = Time::max();  // a deadline not set

inline std::size_t topic_levels(std::string_view topic) {
  return static_cast<std::size_t>(std::count(topic.begin(), topic.end(), '/')) + 1;
}

// The copy of `message` one subscription path delivers: its QoS and RETAIN,
// and the Subscription Identifiers of the matching subscriptions only. DUP
// and the packet id are the subscriber's Connection's.
inline Publish copy_for(const Publish& message, QoS qos, bool retain,
                        const std::vector<std::uint32_t>& identifiers) {
  Publish out = message;
  out.qos = qos;
  out.retain = retain;
  out.properties.erase(PropertyId::subscription_identifier);
  for (const auto id : identifiers)
    out.properties.add(PropertyId::subscription_identifier, id);
  return out;
}

// Who a client is for the Authorizer: the one place a Principal is made.
inline Principal principal_of(std::string_view client_id, const std::string* username) {
  return Principal{client_id, username ? std::optional<std::string_view>(*username) : std::nullopt};
}

inline std::vector<std::uint32_t> identifiers_of(const std::optional<std::uint32_t>& id) {
  return id ? std::vector<std::uint32_t>{*id} : std::vector<std::uint32_t>{};
}

// Holds the shared routing lock for a scope, shared or exclusive (no lock:
// one engine alone).
template <bool exclusive>
class Holding {
 public:
  explicit Holding(SharedLock* lock) : lock_(lock) {
    if (!lock_) return;
    if constexpr (exclusive) {
      lock_->lock();
    } else {
      lock_->lock_shared();
    }
  }
  ~Holding() {
    if (!lock_) return;
    if constexpr (exclusive) {
      lock_->unlock();
    } else {
      lock_->unlock_shared();
    }
  }
  Holding(const Holding&) = delete;
  Holding& operator=(const Holding&) = delete;

 private:
  SharedLock* lock_;
};
using Reading = Holding<false>;
using Writing = Holding<true>;

struct Subscription {
  SubscribeOptions options;
  std::optional<std::uint32_t> identifier;
  // Decided when subscribing ("$share/" is shared only in 5.0); the session
  // may later be resumed by a connection of the other version.
  bool shared = false;
};

// A session's subscriptions by filter as subscribed, in filter order: a
// sorted vector. Empty it costs 24 bytes where a std::map costs 48, and it
// makes one allocation, not one per filter, for the few filters most
// clients have (max_subscriptions_per_client bounds the count).
class FilterTable {
 public:
  using Entry = std::pair<std::string, Subscription>;
  using const_iterator = std::vector<Entry>::const_iterator;

  const_iterator begin() const { return entries_.begin(); }
  const_iterator end() const { return entries_.end(); }
  std::size_t size() const { return entries_.size(); }
  const_iterator find(std::string_view filter) const {
    const auto it = lower_bound(filter);
    return it != entries_.end() && it->first == filter ? it : entries_.end();
  }
  bool contains(std::string_view filter) const { return find(filter) != entries_.end(); }
  // The subscription for `filter`, made (default) if there was none.
  Subscription& operator[](std::string_view filter) {
    auto it = entries_.begin() + (lower_bound(filter) - entries_.cbegin());
    if (it == entries_.end() || it->first != filter) {
      it = entries_.emplace(it, std::string(filter), Subscription{});
    }
    return it->second;
  }
  void erase(const_iterator it) { entries_.erase(it); }

 private:
  const_iterator lower_bound(std::string_view filter) const {
    return std::lower_bound(entries_.begin(), entries_.end(), filter,
                            [](const Entry& e, std::string_view f) { return e.first < f; });
  }
  std::vector<Entry> entries_;
};

// Where a connection is in its life, as the engine sees it.
enum class Stage : std::uint8_t {
  fresh,       // opened here, its CONNECT not answered yet
  adopted,     // handed over by another shard with its CONNECT: its home is here
  parked,      // its CONNECT waits for a drain (drain_before_takeover)
  drained,     // the drain was done: its CONNECT takes the session over now
  answered,    // its CONNECT was accepted or refused
  handed_off,  // given to another shard: its Connection is moved from
  closing,     // its Connection asked for the close: the output says close_after
};
inline constexpr std::size_t stages = 7;

constexpr std::uint8_t bit(Stage s) {
  return static_cast<std::uint8_t>(1u << static_cast<unsigned>(s));
}
// From each stage, the stages it may go to. A CONNECT is answered, parked
// (once) or, on a connection this shard opened, handed off; any connection
// not yet handed off may be closed; handed_off and closing are final.
inline constexpr std::array<std::uint8_t, stages> next_stages = {
    /* fresh      */ bit(Stage::parked) | bit(Stage::answered) | bit(Stage::handed_off) |
        bit(Stage::closing),
    /* adopted    */ bit(Stage::parked) | bit(Stage::answered) | bit(Stage::closing),
    /* parked     */ bit(Stage::drained),
    /* drained    */ bit(Stage::answered) | bit(Stage::closing),
    /* answered   */ bit(Stage::closing),
    /* handed_off */ 0,
    /* closing    */ 0,
};

}  // namespace detail

using detail::FilterTable;
using detail::never;
using detail::Stage;
using detail::Subscription;

// What the engines of one broker share. Entries name the session by client
// id, its shard, and the incarnation of the session that subscribed (a
// forwarded message must not reach a later session with the same id).
class Routing {
 public:
  using Congestion = std::shared_ptr<std::atomic<bool>>;  // several shards only
  struct Entry {
    Subscription subscription;
    std::uint32_t shard = 0;
    std::uint64_t incarnation = 0;
    Congestion congested;  // its session's queue is nearly full
  };
  // A shared subscription's entry: the index key is "group\0client id".
  struct SharedEntry {
    std::string group;
    std::string client_id;
    Subscription subscription;
    std::uint32_t shard = 0;
    std::uint64_t incarnation = 0;
    bool online = false;  // its session has a connection
    Congestion congested;
    // Its session's, for the Authorizer's may_read() when a member is chosen.
    std::optional<std::string> username;
  };
  struct Retained {
    Publish message;
    Time stored_at{0};  // a Message Expiry Interval counts from here
  };
  SubscriptionIndex<std::string, Entry> subscriptions;
  SubscriptionIndex<std::string, SharedEntry> shared;
  std::map<std::string, Retained> retained;
};

struct Engine::StoredSession {
  std::string client_id;
  std::unique_ptr<Session> session;  // while offline; inside the Connection while online
  ConnectionId link = 0;             // the connection serving it; 0: none (ids start at 1)
  FilterTable subscriptions;         // by filter as subscribed
  // The Will of the current or last connection, and when it is due if it
  // waits for its delay.
  struct StoredWill : Will {
    explicit StoredWill(Will w) : Will(std::move(w)) {}
    std::optional<Time> at;
  };
  std::unique_ptr<StoredWill> will;
  Time expires_at = never;  // offline and expiring
  std::uint32_t expiry_interval = 0;
  Version version = Version::v5;
  std::uint64_t incarnation = 0;        // unique per engine; see Routing
  std::optional<std::string> username;  // of the CONNECT that made or last resumed it
  Principal principal() const {
    return detail::principal_of(client_id, username ? &*username : nullptr);
  }
  // Whether its queue is nearly full, for the other shards (several only).
  std::shared_ptr<std::atomic<bool>> congested;
  std::unique_ptr<Publish> held_back;  // PlantedBug::reorder_queue only
};

struct Engine::Link {
  Link(ConnectionId i, ConnectionOptions o, Time now) : id(i), conn(o, now) {}
  Link(ConnectionId i, Connection c) : id(i), conn(std::move(c)), stage(Stage::adopted) {}
  ConnectionId id;
  Connection conn;
  std::unique_ptr<std::string> username;  // of the accepted CONNECT, if it had one
  // Where its CONNECT comes from, for the Authenticator, and an enhanced
  // authentication under way: held only until the CONNECT is answered (a
  // connection with enhanced authentication keeps it, for its
  // re-authentications), so an idle connection keeps 8 bytes of it.
  struct Origin {
    std::string peer;                          // as given to open()
    std::string identity;                      // as given to set_identity(); empty if not
    std::unique_ptr<AuthExchange> exchange;    // waiting for the client's AUTH
    std::optional<std::string> authenticated;  // the CONNECT's exchange succeeded: its user
    Bytes server_final;                        // its last data, for the CONNACK
    std::string assigned_id;                   // given while the exchange ran
  };
  std::unique_ptr<Origin> origin;
  Origin& origin_for_update() {
    if (!origin) origin = std::make_unique<Origin>();
    return *origin;
  }
  Stage stage = Stage::fresh;  // changed only by to()
  // Not stages: where the link is queued and what it owes, in any stage.
  bool in_work = false;   // queued in work_
  bool in_dirty = false;  // queued in dirty_
  bool shrink = false;    // a control packet: the connection may stay idle now
  Time armed = never;     // its entry in deadlines_ that counts, if any

  // A move the table does not allow is a bug in the engine, never input.
  void to(Stage next) {
    if ((detail::next_stages[static_cast<std::size_t>(stage)] & bit(next)) == 0) {
      throw std::logic_error("engine: connection stage " +
                             std::to_string(static_cast<unsigned>(stage)) + " cannot become " +
                             std::to_string(static_cast<unsigned>(next)));
    }
    stage = next;
  }

  // The session's client id once accepted; empty before, and after the
  // session has been taken away (takeover, close).
  const std::string& client_id() const { return conn.session().client_id(); }
  Principal principal() const { return detail::principal_of(client_id(), username.get()); }
};

}  // namespace assay::broker
