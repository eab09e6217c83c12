#include "assay/client/store.hpp"

namespace assay::client {

void MemoryStore::put(const std::string& key, mqtt::ByteView record) {
  pending_.push_back(Write{key, mqtt::Bytes(record.begin(), record.end())});
}

void MemoryStore::erase(const std::string& key) {
  pending_.push_back(Write{key, std::nullopt});
}

void MemoryStore::sync() {
  for (Write& w : pending_) {
    if (w.record) {
      durable_[w.key] = std::move(*w.record);
    } else {
      durable_.erase(w.key);
    }
  }
  pending_.clear();
  ++syncs_;
}

}  // namespace assay::client
