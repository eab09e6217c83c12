#include "assay/broker/store.hpp"

namespace assay::broker {

void MemoryStore::put_session(const std::string& client_id, mqtt::Bytes record) {
  pending_.push_back(Write{true, client_id, std::move(record)});
}
void MemoryStore::erase_session(const std::string& client_id) {
  pending_.push_back(Write{true, client_id, std::nullopt});
}
void MemoryStore::put_retained(const std::string& topic, mqtt::Bytes record) {
  pending_.push_back(Write{false, topic, std::move(record)});
}
void MemoryStore::erase_retained(const std::string& topic) {
  pending_.push_back(Write{false, topic, std::nullopt});
}

void MemoryStore::apply(Contents& c, const Write& w) {
  auto& table = w.session ? c.sessions : c.retained;
  if (w.record) {
    table[w.key] = *w.record;
  } else {
    table.erase(w.key);
  }
}

void MemoryStore::sync() {
  for (const Write& w : pending_)
    apply(durable_, w);
  pending_.clear();
  ++syncs_;
}

Store::Contents MemoryStore::load() const {
  Contents c = durable_;
  for (const Write& w : pending_)
    apply(c, w);
  return c;
}

}  // namespace assay::broker
