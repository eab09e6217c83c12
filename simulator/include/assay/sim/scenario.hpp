// A scenario: the fleet, its brokers and network, and a timeline of stages
// (docs/simulator.md, "Scenarios"). Read from JSON by parse_scenario(), or
// made from a seed by swarm() when no file is given. Everything here is a
// plain value; the World (world.hpp) is built from it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "assay/broker/engine.hpp"
#include "assay/client/config.hpp"
#include "assay/mqtt/types.hpp"

namespace assay::sim {

// Virtual time in nanoseconds since the run began.
using Nanos = std::int64_t;
constexpr Nanos ns_per_ms = 1'000'000;
constexpr Nanos ns_per_s = 1'000'000'000;

// When the next message of a device is published: the gap before it.
struct Process {
  enum class Kind : std::uint8_t {
    fixed,        // every `interval`
    uniform,      // uniform in [min, max]
    normal,       // normal(mean, sd), at least 0
    exponential,  // exponential with `mean`: a Poisson process
    poisson,      // a Poisson process of `rate` messages per second (exponential gaps)
    bursts,       // `burst` messages `interval` apart, then a gap of `gap`
  };
  Kind kind = Kind::fixed;
  Nanos interval = ns_per_s;  // fixed, bursts
  Nanos min = 0;              // uniform
  Nanos max = 0;
  Nanos mean = ns_per_s;  // normal, exponential
  Nanos sd = 0;           // normal
  double rate = 1.0;      // poisson
  std::uint32_t burst = 1;
  Nanos gap = ns_per_s;
};

// What a device measures: the number its payload carries.
struct Values {
  enum class Kind : std::uint8_t {
    constant,     // `start`
    random_walk,  // from `start`, steps uniform in [-step, step], kept in [min, max]
    sine,         // offset + amplitude * sin(2 pi t / period) + normal(0, noise)
    csv,          // the numbers of `csv` (a file's column, loaded), in turn, repeating
  };
  Kind kind = Kind::constant;
  double start = 20.0;
  double step = 0.1;
  double min = -1e300;
  double max = 1e300;
  double offset = 0.0;
  double amplitude = 1.0;
  Nanos period = 60 * ns_per_s;
  double noise = 0.0;
  std::vector<double> csv;
  std::string csv_file;  // where csv came from (for messages)
  int decimals = 2;      // digits after the point in {value}
};

// A Will, with templates like the device's.
struct WillSpec {
  std::string topic;    // template
  std::string payload;  // template
  mqtt::QoS qos = mqtt::QoS::at_least_once;
  bool retain = false;
  std::uint32_t delay_s = 0;  // 5.0 Will Delay Interval
};

// Devices of one kind. Templates may use {id} (the client id), {n} (the
// device's number in its class, from 0; {n:04} zero-pads), {class}, {site}
// (one of `sites`, by n), and in payloads {value}, {seq} (per device, from
// 0), {msg} (the message's unique id, which the checkers read back: every
// payload template must contain it), {t} (virtual time in ms).
struct DeviceClass {
  std::string name;
  std::size_t count = 1;
  std::string client_id = "{class}-{n:04}";
  std::string topic = "sensors/{site}/{id}/value";
  std::vector<std::string> sites{"site-0"};
  mqtt::Version version = mqtt::Version::v5;
  mqtt::QoS qos = mqtt::QoS::at_least_once;
  bool retain = false;
  bool clean_start = false;
  std::uint32_t session_expiry_s = 3600;  // 5.0; 3.1.1: CleanSession 0 when clean_start is false
  std::uint16_t keep_alive_s = 30;
  // "durable": the engine keeps its session in a store that survives its
  // crashes (synced writes only), and resumes it after a restart; "none":
  // a crash loses it (and resuming the broker's session then breaks
  // MQTT-4.1.0-1: the checkers excuse what that costs, see docs/simulator.md).
  bool durable_store = false;
  std::optional<WillSpec> will;
  Process publish;
  Values values;
  std::string payload = R"({"id":"{msg}","value":{value},"seq":{seq}})";
  std::optional<std::uint32_t> message_expiry_s;
  Nanos start = 0;  // when its devices first connect (a ramp-up stage spreads them)
  std::string broker = "broker";
  // Test only: a bug planted in these devices' engines (docs/simulator.md).
  client::PlantedBug planted_bug = client::PlantedBug::none;
};

// Subscribers of one kind: backends, dashboards, members of a shared group.
struct SubscriberClass {
  std::string name;
  std::size_t count = 1;
  std::string client_id = "{class}-{n:04}";
  std::vector<std::string> filters{"sensors/#"};
  // Subscribe as "$share/{group}/filter" (5.0): the group shares the load.
  std::optional<std::string> shared_group;
  mqtt::Version version = mqtt::Version::v5;
  mqtt::QoS qos = mqtt::QoS::at_least_once;
  bool clean_start = false;
  std::uint32_t session_expiry_s = 3600;
  std::uint16_t keep_alive_s = 30;
  // "durable": the engine keeps its session in a store that survives its
  // crashes (synced writes only), and resumes it after a restart; "none":
  // a crash loses it (and resuming the broker's session then breaks
  // MQTT-4.1.0-1: the checkers excuse what that costs, see docs/simulator.md).
  bool durable_store = false;
  // A slow consumer reads at most this many bytes per second from its
  // connection (0: as fast as they come).
  std::uint64_t read_bytes_per_s = 0;
  Nanos start = 0;
  std::string broker = "broker";
};

struct BrokerSpec {
  std::string name = "broker";
  std::size_t shards = 1;
  // With a store that survives a crash (synced writes only) and the
  // checkers in durable mode; otherwise a crash ends every session.
  bool durable = false;
  std::uint16_t receive_maximum = 100;
  std::size_t max_queued_messages = 1000;
  std::uint16_t topic_alias_maximum = 10;
  std::optional<std::uint16_t> server_keep_alive;
  std::size_t minimum_client_id_length = 0;
  // Test only: a bug planted in this broker's engine (docs/simulator.md).
  broker::PlantedBug planted_bug = broker::PlantedBug::none;
};

// The network between every client and its broker.
struct LinkProfile {
  Nanos latency = 2 * ns_per_ms;            // one way
  Nanos jitter = ns_per_ms / 2;             // added uniformly in [0, jitter]
  std::uint64_t bandwidth_bytes_per_s = 0;  // 0: unlimited
  std::size_t max_chunk = 1460;             // writes arrive in random chunks of 1..max_chunk bytes
};

// One thing that happens at a time: the timeline.
struct Stage {
  enum class Kind : std::uint8_t {
    ramp_up,          // `target` class's devices connect spread over `duration`
    steady,           // nothing new: a named stretch of the timeline
    reconnect_storm,  // `fraction` of `target`'s connections reset at once
    broker_crash,     // `target` broker crashes; restarts after `duration` (0: never)
    partition,        // `target` class's hosts cut off from the brokers for `duration`
    degrade,          // links of `target` (or all): `profile` for `duration`
    slow_consumer,    // `target` subscriber class reads `read_bytes_per_s` for `duration`
    client_crash,     // `fraction` of `target`'s clients crash; restart after `duration`
    leave,            // `fraction` of `target`'s devices disconnect normally, for good
  };
  Kind kind = Kind::steady;
  std::string name;
  Nanos at = 0;
  Nanos duration = 0;
  std::string target;  // a class or broker name; "" for all
  double fraction = 1.0;
  std::optional<LinkProfile> profile;
  std::uint64_t read_bytes_per_s = 0;
  // client_crash: the host vanishes (power, network) and its connections
  // are left half-open at the broker until keep alive or a takeover ends
  // them; otherwise the process dies and its OS resets them.
  bool half_open = false;
};

struct Scenario {
  std::string name = "scenario";
  std::string file;  // where it was read from, "" for swarm
  // What the scenario reproduces or shows (its "description"), for reports.
  std::string description;
  // The fault phase: the timeline runs until `duration`; then every fault
  // is healed and the liveness phase runs `heal` more.
  Nanos duration = 60 * ns_per_s;
  Nanos heal = 30 * ns_per_s;
  std::vector<BrokerSpec> brokers{BrokerSpec{}};
  LinkProfile network;
  std::vector<DeviceClass> devices;
  std::vector<SubscriberClass> subscribers;
  std::vector<Stage> stages;
  // Swarm mode's engine knobs (BUGGIFY): tiny queues, small windows,
  // frequent takeovers; a scenario may set them too.
  std::map<std::string, double> buggify;
};

// A scenario file that cannot be used: the message names the file, the
// position (line:column) and the key at fault.
struct ScenarioError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Reads a scenario from JSON text. `file` is used in error messages and to
// resolve relative paths (CSV value files). Unknown keys, values of the
// wrong type or out of range, unknown class or broker names in stages, and
// payload templates without {msg} are errors.
Scenario parse_scenario(std::string_view json, const std::string& file);
Scenario load_scenario(const std::string& path);

// The scenario as a file: JSON that parse_scenario() reads back into the
// same scenario, with every key written, defaults included (3.1.1 classes
// without the keys that exist only in 5.0; CSV values by their file's
// absolute path). `assay sim --print-scenario` prints it.
std::string write_scenario(const Scenario& s);

// A stage kind's name in scenario files ("broker_crash").
std::string_view to_string(Stage::Kind kind);

// The scenario a seed stands for in swarm mode: topology, workload, fault
// rates and engine knobs all drawn from it (printed first by `assay sim`).
Scenario swarm(std::uint64_t seed);

// Renders a template ({id}, {n}, {n:04}, {class}, {site}, ...). Unknown
// placeholders are left as they are; parse_scenario() refuses them first.
std::string render(std::string_view tmpl, const std::map<std::string, std::string>& values,
                   std::size_t n);

}  // namespace assay::sim
