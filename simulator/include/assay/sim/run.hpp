// One simulated run: a scenario and a seed in, a report out. The report
// says whether the guarantees held (docs/guarantees.md), counts outcomes in
// Jepsen's vocabulary, keeps the first findings with a window of the trace
// before each, a hash of the whole trace (the same seed must give the same
// hash: --check-determinism), and the figures a report page draws.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "assay/sim/checker.hpp"
#include "assay/sim/scenario.hpp"
#include "assay/sim/world.hpp"

namespace assay::sim {

// What ended a run; also `assay sim`'s exit code.
enum class Verdict : int {
  ok = 0,
  correctness = 1,  // a safety invariant (S*) broke
  usage = 2,        // bad flags or scenario (not a run's verdict)
  liveness = 3,     // after the heal, something owed never happened (L*)
  crash = 4,        // the code under test threw or aborted
};
std::string_view to_string(Verdict v);

struct RunOptions {
  // Volatile, or durable (the default when every broker is durable).
  std::optional<Durability> mode;
  // Every event as a line of text, as it happens (nullptr: none).
  std::ostream* trace = nullptr;
  // Lines of trace kept before each finding.
  std::size_t window = 40;
  // Decode the wire for the wire checker (S5, S6, S7, S17).
  bool wire = true;
};

struct Report {
  std::uint64_t seed = 0;
  std::string scenario;
  Verdict verdict = Verdict::ok;
  std::string crash;  // what was thrown
  Durability mode = Durability::volatile_;
  std::map<std::string, std::uint64_t> counts;  // ok, lost, duplicated, ...
  struct Found {
    Finding finding;
    std::vector<std::string> window;  // the trace lines before it
  };
  std::vector<Found> findings;
  std::uint64_t trace_hash = 0;
  WorldStats stats;
  Nanos simulated = 0;
  // For the report page: deliveries per second of virtual time, latency of
  // each delivery by QoS (publish to delivery, µs), connections and faults.
  std::vector<std::uint64_t> deliveries_per_s;
  std::map<int, std::vector<std::uint32_t>> latency_us;  // by QoS
  struct Span {
    std::string client;
    Nanos from = 0;
    Nanos to = 0;  // -1: still open at the end
  };
  std::vector<Span> connections;
  struct Mark {
    Nanos t = 0;
    std::string what;
  };
  std::vector<Mark> faults;
};

Report run(const Scenario& scenario, std::uint64_t seed, const RunOptions& options = {});

nlohmann::ordered_json to_json(const Report& r, bool with_figures);
// The replay command of a report: "assay sim FILE --seed N" (or swarm).
std::string replay_command(const Report& r, const std::string& scenario_file);

}  // namespace assay::sim
