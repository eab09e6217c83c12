// Checkers read the trace as it is made (each in a file of its own under
// simulator/src/checkers/) and hold the run to the invariants of
// docs/guarantees.md: safety ones at every event (S*), liveness ones after
// the healed phase (L*). They count outcomes in Jepsen's vocabulary (ok,
// lost, duplicated, unexpected, recovered, out_of_order, ...) and keep the
// first findings, each with the invariant, the spec statement and the
// event that showed it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "assay/sim/trace.hpp"

namespace assay::sim {

class World;

struct Finding {
  std::string checker;
  std::string invariant;  // "S4"
  std::string statement;  // "MQTT-4.3.3-10"
  std::string detail;
  Nanos t = 0;
  std::uint64_t seq = 0;  // of the event that showed it
  bool liveness = false;  // found after the heal (L*) rather than at an event (S*)
};

class Checker : public Observer {
 public:
  explicit Checker(const World& world) : world_(world) {}
  virtual std::string name() const = 0;
  // After the liveness phase: the L* checks.
  virtual void finish() {}
  const std::vector<Finding>& findings() const { return findings_; }
  // Findings beyond the first few are counted, not kept.
  std::uint64_t finding_count() const { return finding_count_; }
  const std::map<std::string, std::uint64_t>& counts() const { return counts_; }

 protected:
  void find(std::string invariant, std::string statement, std::string detail, Nanos t,
            std::uint64_t seq, bool liveness = false);
  void count(const std::string& what, std::uint64_t n = 1) { counts_[what] += n; }
  const World& world_;

 private:
  std::vector<Finding> findings_;
  std::uint64_t finding_count_ = 0;
  std::map<std::string, std::uint64_t> counts_;
};

// Whether the checkers hold the broker to durable state across a crash.
enum class Durability : std::uint8_t { volatile_, durable };

// Every checker, for a world (they observe it from now on).
std::vector<std::unique_ptr<Checker>> make_checkers(World& world, Durability mode);

}  // namespace assay::sim
