// The lock engines on several threads share their Routing under: a
// std::shared_mutex behind the engine's SharedLock interface. A header of its
// own, included by drivers that run engines on threads (the Asio front end,
// bench/shard_bench.cpp) and never by the engine, which stays free of
// threading headers (broker.engine_purity); CheckingLock is the one-thread
// counterpart.
#pragma once

#include <shared_mutex>

#include "assay/broker/engine.hpp"

namespace assay::broker {

class SharedMutexLock final : public SharedLock {
 public:
  void lock() override { m_.lock(); }
  void unlock() override { m_.unlock(); }
  void lock_shared() override { m_.lock_shared(); }
  void unlock_shared() override { m_.unlock_shared(); }

 private:
  std::shared_mutex m_;
};

}  // namespace assay::broker
