// Persistence: what the engine writes through so that a restart loses
// nothing it acknowledged (docs/broker.md, "Persistence"). The engine writes
// records of its own format (opaque here) keyed by client id or topic, and
// calls sync() at the end of every input, before any of that input's
// output (PUBACK, PUBREC, CONNACK...) can leave. A Store with a disk log is
// the durability issue's; MemoryStore is for tests and the simulator.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "assay/mqtt/types.hpp"

namespace assay::broker {

class Store {
 public:
  virtual ~Store() = default;
  virtual void put_session(const std::string& client_id, mqtt::Bytes record) = 0;
  virtual void erase_session(const std::string& client_id) = 0;
  virtual void put_retained(const std::string& topic, mqtt::Bytes record) = 0;
  virtual void erase_retained(const std::string& topic) = 0;
  // Everything written before it is durable once it returns, or (a store
  // with group commit) once its driver's commit, which comes before any
  // output of the inputs synced can leave.
  virtual void sync() = 0;

  struct Contents {
    std::map<std::string, mqtt::Bytes> sessions;  // by client id
    std::map<std::string, mqtt::Bytes> retained;  // by topic
  };
  // What a broker starting now finds.
  virtual Contents load() const = 0;
};

// In memory, with a crash's semantics: crash() loses every write since the
// last sync(), as a power cut loses what was not flushed.
class MemoryStore final : public Store {
 public:
  void put_session(const std::string& client_id, mqtt::Bytes record) override;
  void erase_session(const std::string& client_id) override;
  void put_retained(const std::string& topic, mqtt::Bytes record) override;
  void erase_retained(const std::string& topic) override;
  void sync() override;
  Contents load() const override;

  void crash() { pending_.clear(); }
  std::size_t unsynced() const { return pending_.size(); }
  std::size_t syncs() const { return syncs_; }

 private:
  struct Write {
    bool session = true;  // else retained
    std::string key;
    std::optional<mqtt::Bytes> record;  // nullopt: erase
  };
  static void apply(Contents& c, const Write& w);
  Contents durable_;
  std::vector<Write> pending_;
  std::size_t syncs_ = 0;
};

}  // namespace assay::broker
