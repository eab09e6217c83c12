// One broker made of `shards` engines in one process and on one thread, as
// `assay broker --threads N` runs them, driven by a clock the caller moves:
// the in-process harness that the engine tests (broker/tests/world.hpp), the
// conformance suite's in-process transport (EngineNetwork) and the engine
// fuzz target share, and that the simulator will build on. Pure like the
// engine: no sockets, clocks or threads (broker.engine_purity checks it).
//
// It plays the front end's part between the engines: connections handed to
// another shard are adopted there, forwarded messages delivered, drains
// resumed, and a lock that checks the engines' discipline (CheckingLock)
// stands in for the reader-writer lock. A network connection is named by a
// Link that stays the same when the connection moves to another shard.
//
// Driver contract (the engine's, one level up):
//   open() for each new network connection; receive() the bytes its client
//   sends and close() when its client's side closes; after every input,
//   poll() until nullopt and give each Delivery's bytes to its client
//   (after a Delivery with close_after the broker has closed that
//   connection: the Link is gone); handle_timeout() at next_deadline().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "assay/broker/checking_lock.hpp"
#include "assay/broker/engine.hpp"

namespace assay::broker {

class Harness {
 public:
  // Numbered from 1 in the order opened, never reused.
  using Link = std::uint64_t;

  // Bytes from the broker to a connection's client.
  struct Delivery {
    Link link = 0;
    mqtt::Bytes bytes;
    bool close_after = false;  // the broker closed the connection after these
  };

  // With EngineConfig::drain_before_takeover: a CONNECT on `waiting` would
  // take over the session `holder` serves. In process nothing is ever left
  // unread, so the harness resumes the CONNECT at once; a test that wants to
  // play bytes the old connection's socket still held does so in on_drain.
  struct Drain {
    Link holder = 0;
    Link waiting = 0;
  };

  // Engine `i` gets `config` (only engine 0 publishes $SYS, as in the
  // front end), the shared routing and, with several, the checking lock.
  explicit Harness(EngineConfig config = {}, std::size_t shards = 1,
                   mqtt::Time start = mqtt::Time{0});
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  std::size_t shards() const { return engines_.size(); }
  Engine& engine(std::size_t shard = 0) { return *engines_.at(shard); }

  // A new network connection, accepted by engine `shard`; nullopt when that
  // engine refuses it (max_connections): the caller's connection is closed.
  std::optional<Link> open(mqtt::Time now, std::size_t shard = 0);
  // Bytes the client sent. Ignored for a Link that is gone.
  void receive(Link link, mqtt::ByteView bytes, mqtt::Time now);
  // The client's side of the connection closed. Ignored for a Link that is gone.
  void close(Link link, mqtt::Time now);

  // Whether the broker still has the connection (neither side closed it).
  bool is_open(Link link) const { return where_.contains(link); }
  // The engine serving an open connection, and its id there (they change
  // when the connection is handed to its client id's shard).
  std::size_t shard_of(Link link) const { return where_.at(link).first; }
  ConnectionId id_of(Link link) const { return where_.at(link).second; }

  // Moves the engines' work between them (handoffs, forwarded messages,
  // drains) and returns the next bytes for a client; nullopt when every
  // engine is quiet. Throws std::logic_error when an engine hands work to a
  // shard that does not exist or to itself.
  std::optional<Delivery> poll(mqtt::Time now);

  // The earliest of the engines' deadlines.
  std::optional<mqtt::Time> next_deadline() const;
  // Every engine's timers due at `now` (poll() afterwards).
  void handle_timeout(mqtt::Time now);

  // How many connections moved to another shard after their CONNECT, and
  // how many messages were forwarded between shards.
  std::size_t handoffs() const { return handoffs_; }
  std::size_t forwards() const { return forwards_; }

  std::function<void(const Drain&)> on_drain;

 private:
  using Place = std::pair<std::size_t, ConnectionId>;  // shard, id there
  struct PlaceHash {
    std::size_t operator()(const Place& p) const {
      return std::hash<ConnectionId>{}(p.second) * 31 + p.first;
    }
  };
  // Handoffs, forwards and drains of engine `shard`; whether there were any.
  bool move_work(std::size_t shard, mqtt::Time now);
  Link link_at(std::size_t shard, ConnectionId id) const;
  void forget(Link link);

  CheckingLock lock_;
  std::vector<std::unique_ptr<Engine>> engines_;
  std::unordered_map<Link, Place> where_;
  std::unordered_map<Place, Link, PlaceHash> links_;
  Link next_link_ = 1;
  std::size_t handoffs_ = 0;
  std::size_t forwards_ = 0;
};

}  // namespace assay::broker
