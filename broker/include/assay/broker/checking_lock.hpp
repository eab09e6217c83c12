// A SharedLock for engines that share a Routing on one thread (tests, the
// in-process conformance transport, fuzzing): there is nothing to exclude,
// so it checks the engine's discipline instead. Taking it while it is held
// would deadlock a real reader-writer lock; releasing it while free is a
// bug. Both throw std::logic_error.
#pragma once

#include <stdexcept>

#include "assay/broker/engine.hpp"

namespace assay::broker {

class CheckingLock final : public SharedLock {
 public:
  void lock() override { enter(); }
  void unlock() override { leave(); }
  void lock_shared() override { enter(); }
  void unlock_shared() override { leave(); }

 private:
  void enter() {
    if (held_) throw std::logic_error("routing lock taken while held");
    held_ = true;
  }
  void leave() {
    if (!held_) throw std::logic_error("routing lock released while free");
    held_ = false;
  }
  bool held_ = false;
};

}  // namespace assay::broker
