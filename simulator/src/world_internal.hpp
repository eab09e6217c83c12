// The World's parts (world.hpp): clients, brokers, links and the events
// that move them, shared by world.cpp, clients.cpp, brokers.cpp and
// links.cpp.
#pragma once

#include "assay/mqtt/codec.hpp"
#include "assay/sim/world.hpp"

namespace assay::sim {

enum class World::EventKind : std::uint8_t {
  client_timer,     // target: client, generation: its timer's
  broker_timer,     // target: broker, generation: its timer's
  arrive_up,        // target: link: the head segment towards the broker is due
  arrive_down,      // target: link: towards the client
  broker_accept,    // target: link: the SYN reached the broker
  client_opened,    // target: link: the SYN-ACK reached the client
  connect_refused,  // target: client, generation: the open attempt's
  publish,          // target: client: its next message is due
  start_client,     // target: client
  stage,            // target: stage index
  restart_broker,   // target: broker
  restart_client,   // target: client
  end_stage,        // target: stage index
};

struct World::Segment {
  Nanos at = 0;
  mqtt::Bytes bytes;
  enum Kind : std::uint8_t { data, fin, rst } kind = data;
};

// One direction of a connection.
struct World::Pipe {
  mqtt::Fifo<Segment> queue;  // in arrival order
  Nanos last_arrival = 0;
  bool held = false;            // a partition: nothing arrives until released
  bool armed = false;           // an arrival event is in the queue
  std::uint64_t read_rate = 0;  // bytes per second the reader takes (0: all)
  // Reset after this many more bytes arrive (mid-packet included).
  std::optional<std::size_t> reset_after;
  bool ended = false;                            // FIN or RST queued: nothing more is written
  std::unique_ptr<mqtt::StreamDecoder> decoder;  // with the wire trace: what arrived
};

struct World::Link {
  LinkId id = 0;
  ClientIndex client = 0;
  BrokerIndex broker = 0;
  std::uint64_t client_epoch = 0;  // the incarnations this connection belongs to
  std::uint64_t broker_epoch = 0;
  std::optional<broker::Harness::Link> broker_link;
  bool client_open = true;  // the client engine has this connection
  bool broker_open = false;
  bool established = false;  // the client was told transport_opened()
  bool unheard = false;      // trace::Unheard was emitted
  Pipe up;                   // client -> broker
  Pipe down;                 // broker -> client
  LinkProfile profile;
};

struct World::Client {
  ClientIndex index = 0;
  std::string id;
  bool subscriber = false;
  std::size_t klass = 0;                    // into scenario.devices or scenario.subscribers
  std::size_t n = 0;                        // its number in the class
  std::map<std::string, std::string> vars;  // template values: id, n, class, site
  std::vector<std::string> filters;         // a subscriber's, as subscribed
  client::ClientConfig config;
  bool configured = false;   // config made from the class (at the first start)
  std::unique_ptr<Rng> rng;  // the engine's jitter source (stable address)
  std::unique_ptr<client::Engine> engine;
  std::shared_ptr<client::MemoryStore> store;  // "store": "durable": outlives crashes
  bool up = false;                             // the host runs (the engine exists)
  bool gone = false;                           // left for good
  std::uint64_t epoch = 0;
  LinkId link = 0;                 // the open connection, 0: none
  LinkId last_link = 0;            // the one before, for the trace of its end
  std::uint64_t open_attempt = 0;  // OpenTransport events seen
  std::uint64_t timer_generation = 0;
  Nanos timer_at = -1;  // the armed client_timer, -1: none
  double drift = 0;     // clock rate offset, e.g. 1e-4
  Nanos clock_offset = 0;
  bool partitioned = false;
  std::optional<LinkProfile> profile;  // degraded links
  std::uint64_t read_rate = 0;
  // Devices: the workload.
  Rng work;
  std::uint64_t seq = 0;
  double value = 0;
  std::uint32_t burst_left = 0;
  bool publishing = false;
  MessageId will = 0;                // the Will of the connection being opened
  std::vector<MessageId> published;  // in flight at the engine: ticket order
  std::map<client::Ticket, MessageId> tickets;
};

struct World::Broker {
  BrokerIndex index = 0;
  BrokerSpec spec;
  broker::EngineConfig config;
  std::shared_ptr<broker::MemoryStore> store;
  std::unique_ptr<broker::Harness> harness;
  bool up = false;
  std::uint64_t epoch = 0;
  std::uint64_t timer_generation = 0;
  Nanos timer_at = -1;
  double drift = 0;
  std::map<broker::Harness::Link, LinkId> links;  // the harness's to ours
};

}  // namespace assay::sim
