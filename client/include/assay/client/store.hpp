// Where a client engine keeps its session so that a restarted device
// neither loses nor duplicates a message: outgoing QoS 1/2 messages and
// their stage (PUBLISH sent, PUBREL sent), the queue, incoming QoS 2
// Packet Identifiers awaiting PUBREL, subscriptions, and the counters that
// must not repeat.
//
// The engine writes records of its own format (opaque here) under keys of
// its own and calls sync() at the end of every input that changed them, so
// each input returns durable: a message publish() took, the stage a PUBREL
// depends on, the QoS 2 id a PUBREC depends on; nothing leaves, and no
// message reaches the application, before that. Writes between two syncs
// may be lost by a crash, as on a real disk; nothing synced may be.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "assay/mqtt/types.hpp"

namespace assay::client {

class Store {
 public:
  virtual ~Store() = default;
  virtual void put(const std::string& key, mqtt::ByteView record) = 0;
  virtual void erase(const std::string& key) = 0;
  // Everything written before it is durable once it returns.
  virtual void sync() = 0;
  // What a process starting now finds: every key with its last record.
  virtual std::map<std::string, mqtt::Bytes> load() = 0;
};

// In memory, with a crash's semantics: crash() loses every write since the
// last sync(), as a power cut loses what was not flushed. For tests and the
// simulator.
class MemoryStore final : public Store {
 public:
  void put(const std::string& key, mqtt::ByteView record) override;
  void erase(const std::string& key) override;
  void sync() override;
  std::map<std::string, mqtt::Bytes> load() override { return durable_; }

  void crash() { pending_.clear(); }
  std::size_t unsynced() const { return pending_.size(); }
  std::size_t syncs() const { return syncs_; }
  std::size_t size() const { return durable_.size(); }

 private:
  struct Write {
    std::string key;
    std::optional<mqtt::Bytes> record;  // nullopt: erase
  };
  std::map<std::string, mqtt::Bytes> durable_;
  std::vector<Write> pending_;
  std::size_t syncs_ = 0;
};

}  // namespace assay::client
