// A first-in first-out queue on one vector. Unlike std::deque (libstdc++),
// it allocates nothing while empty and nothing when moved, which matters
// with a few of them in every connection and session of a broker holding
// tens of thousands; pops are amortised O(1).
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace assay::mqtt {

template <class T>
class Fifo {
 public:
  bool empty() const { return head_ == items_.size(); }
  std::size_t size() const { return items_.size() - head_; }
  T& front() { return items_[head_]; }
  const T& front() const { return items_[head_]; }
  void push_back(T value) { items_.push_back(std::move(value)); }
  template <class... Args>
  T& emplace_back(Args&&... args) {
    return items_.emplace_back(std::forward<Args>(args)...);
  }
  void pop_front() {
    items_[head_] = T{};  // release what it holds now
    if (++head_ == items_.size()) {
      items_.clear();
      head_ = 0;
    } else if (head_ >= 64 && head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }
  void clear() {
    items_.clear();
    head_ = 0;
  }
  // Frees the storage of an empty queue (one that is drained after every
  // use keeps its capacity otherwise, however long it stays empty).
  void release() {
    if (empty()) {
      std::vector<T>().swap(items_);
      head_ = 0;
    }
  }
  auto begin() { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  auto end() { return items_.end(); }
  auto begin() const { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  auto end() const { return items_.end(); }

  friend bool operator==(const Fifo& a, const Fifo& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }

 private:
  std::vector<T> items_;
  std::size_t head_ = 0;
};

}  // namespace assay::mqtt
