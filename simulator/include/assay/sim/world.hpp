// The simulated world: one thread, a virtual clock in nanoseconds, the real
// broker engine (broker::Harness: one or more shards) on each broker host,
// the real client engine on each client host, and TCP-like links between
// them. Every random choice comes from generators derived from one seed
// (random.hpp); nothing reads a clock or the OS random source, and nothing
// iterates an unordered container to decide anything, so the same seed and
// scenario give the same run, event for event.
//
// Links model TCP: per connection two ordered byte pipes with latency,
// jitter, bandwidth and random chunk boundaries. A fault is a stall (hold,
// partition: bytes wait and nothing arrives; new connections get no answer)
// or a broken connection (reset, possibly mid-packet, seen by each end at
// its own time; a crashed host's peers get a reset when they next send to
// it after it restarts, and nothing while it is down), never bytes
// vanishing from the middle of a stream.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include "assay/broker/harness.hpp"
#include "assay/broker/store.hpp"
#include "assay/client/engine.hpp"
#include "assay/mqtt/fifo.hpp"
#include "assay/sim/random.hpp"
#include "assay/sim/scenario.hpp"
#include "assay/sim/trace.hpp"

namespace assay::sim {

struct WorldStats {
  std::uint64_t events = 0;
  std::uint64_t published = 0;
  std::uint64_t delivered = 0;
  std::uint64_t completed = 0;  // publishes whose engine said how they ended
  std::uint64_t connections = 0;
  std::uint64_t bytes = 0;
  std::uint64_t faults = 0;
};

class World {
 public:
  World(Scenario scenario, std::uint64_t seed);
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  void add_observer(Observer* o) { observers_.push_back(o); }
  // Decode every byte each end receives into trace::Packet events (for the
  // wire checker; about a third more work per message).
  void set_wire_trace(bool on) { wire_ = on; }

  // Runs the fault phase (until scenario.duration), heals every fault and
  // runs the liveness phase (liveness_time() more; while a client still has
  // messages in flight or queued and the last period made progress, up to
  // ten periods more, so that a backlog drains but a stall ends the run).
  // Throws what an engine throws (a crash of the code under test).
  void run();
  // Runs until `t` (or the queue is empty).
  void run_until(Nanos t);
  // How long the liveness phase runs: the scenario's heal, or longer when
  // keep alives need it (2 x the longest Keep Alive + 10 s).
  Nanos liveness_time() const;
  // Whether a running client engine still has messages in flight or queued.
  bool backlog() const;
  Nanos now() const { return now_; }
  const Scenario& scenario() const { return scenario_; }
  const WorldStats& stats() const { return stats_; }

  // Who is who, for checkers and reports.
  std::size_t clients() const { return clients_.size(); }
  const std::string& client_name(ClientIndex c) const;
  bool is_subscriber(ClientIndex c) const;
  // The subscriber's filters (as subscribed: "$share/g/..." for a group).
  const std::vector<std::string>& filters(ClientIndex c) const;
  mqtt::QoS subscription_qos(ClientIndex c) const;
  mqtt::Version version(ClientIndex c) const;
  // The client's session can outlive its connection.
  bool persistent(ClientIndex c) const;
  std::size_t brokers() const { return brokers_.size(); }
  const BrokerSpec& broker_spec(BrokerIndex b) const;
  // The engine of a client that is up (nullptr while its host is down).
  const client::Engine* engine(ClientIndex c) const;
  // Sessions the broker holds now (for L6), summed over its shards.
  std::size_t broker_sessions(BrokerIndex b) const;

  // Faults, for the timeline and for tests (each is recorded as a Fault).
  void partition(const std::vector<ClientIndex>& who, bool on);
  void reset_connection(ClientIndex c, std::size_t after_bytes_up, std::size_t after_bytes_down);
  void crash_broker(BrokerIndex b);
  void restart_broker(BrokerIndex b);
  // A process crash resets its connection (the OS does); a host crash
  // (half_open) leaves it open at the broker.
  void crash_client(ClientIndex c, bool half_open = false);
  void restart_client(ClientIndex c);
  void leave(ClientIndex c);
  void degrade(const std::vector<ClientIndex>& who, const std::optional<LinkProfile>& profile);
  void set_read_rate(ClientIndex c, std::uint64_t bytes_per_s);
  // Ends every fault: partitions repaired, links restored, crashed brokers
  // and clients restarted, slow readers sped up; publishing stops.
  void heal();

  // The clients of a class (devices or subscribers), by name; all for "".
  std::vector<ClientIndex> members(const std::string& class_name) const;

 private:
  struct Client;
  struct Broker;
  struct Link;
  struct Pipe;
  struct Segment;
  enum class EventKind : std::uint8_t;
  struct Event {
    Nanos at;
    std::uint64_t seq;
    EventKind kind;
    std::uint64_t target;
    std::uint64_t generation;
    bool operator>(const Event& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };

  // world.cpp
  void schedule(Nanos at, EventKind kind, std::uint64_t target, std::uint64_t generation = 0);
  void dispatch(const Event& e);
  void emit(trace::Event e);
  void build();
  void run_stage(std::size_t index);

  // clients.cpp
  void start_client(ClientIndex c);
  void pump_client(ClientIndex c);
  void client_timer(ClientIndex c);
  void device_publish(ClientIndex c);
  void schedule_publish(Client& c, Nanos after);
  void set_will(Client& c);
  mqtt::Time client_clock(const Client& c) const;
  Nanos client_deadline(const Client& c, mqtt::Time t) const;
  std::unique_ptr<client::Engine> make_engine(Client& c);

  // brokers.cpp
  void start_broker(BrokerIndex b);
  void pump_broker(BrokerIndex b);
  void broker_timer(BrokerIndex b);
  mqtt::Time broker_clock(const Broker& b) const;

  // links.cpp
  void open_transport(ClientIndex c, const client::Server& server);
  void broker_accept(LinkId l);
  void client_opened(LinkId l);
  void write(Link& link, bool up, mqtt::ByteView bytes);
  void finish(Link& link, bool up, bool reset);
  void arrive(LinkId l, bool up);
  void arm(Link& link, bool up);
  void close_client_side(Link& link);
  void close_broker_side(Link& link);
  Link* link(LinkId l);
  bool partitioned(const Client& c) const;

  Scenario scenario_;
  std::uint64_t seed_;
  Nanos now_ = 0;
  std::uint64_t seq_ = 0;
  std::uint64_t trace_seq_ = 0;
  bool healed_ = false;
  bool wire_ = false;
  MessageId next_message_ = 1;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> queue_;
  std::vector<Observer*> observers_;
  std::vector<std::unique_ptr<Client>> clients_;
  std::map<std::string, ClientIndex, std::less<>> client_ids_;  // the first client of each id
  std::vector<std::unique_ptr<Broker>> brokers_;
  std::vector<std::unique_ptr<Link>> links_;  // by LinkId - 1
  Rng links_rng_;
  Rng faults_rng_;
  WorldStats stats_;
};

}  // namespace assay::sim
