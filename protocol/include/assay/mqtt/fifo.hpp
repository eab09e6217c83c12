// A first-in first-out queue on one vector, behind one pointer. Unlike
// std::deque (libstdc++), it allocates nothing while empty and nothing when
// moved, and it costs 8 bytes until first used: a broker holds a few in
// every connection and session, tens of thousands of them idle. Pops are
// amortised O(1).
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <vector>

namespace assay::mqtt {

template <class T>
class Fifo {
 public:
  using iterator = typename std::vector<T>::iterator;
  using const_iterator = typename std::vector<T>::const_iterator;

  Fifo() = default;
  Fifo(const Fifo& other)
      : store_(other.store_ ? std::make_unique<Store>(*other.store_) : nullptr) {}
  Fifo& operator=(const Fifo& other) {
    if (this != &other) store_ = other.store_ ? std::make_unique<Store>(*other.store_) : nullptr;
    return *this;
  }
  Fifo(Fifo&&) noexcept = default;
  Fifo& operator=(Fifo&&) noexcept = default;

  bool empty() const { return size() == 0; }
  std::size_t size() const { return store_ ? store_->items.size() - store_->head : 0; }
  T& front() { return store_->items[store_->head]; }
  const T& front() const { return store_->items[store_->head]; }
  void push_back(T value) { made().items.push_back(std::move(value)); }
  template <class... Args>
  T& emplace_back(Args&&... args) {
    return made().items.emplace_back(std::forward<Args>(args)...);
  }
  void pop_front() {
    Store& s = *store_;
    if (s.head + 1 == s.items.size()) {  // the last one: no placeholder to build
      s.items.clear();
      s.head = 0;
      return;
    }
    s.items[s.head++] = T{};  // release what it holds now
    if (s.head >= 64 && s.head * 2 >= s.items.size()) {
      s.items.erase(s.items.begin(), s.items.begin() + static_cast<std::ptrdiff_t>(s.head));
      s.head = 0;
    }
  }
  void clear() {
    if (store_) {
      store_->items.clear();
      store_->head = 0;
    }
  }
  // Frees the storage of an empty queue (one that is drained after every
  // use keeps its capacity otherwise, however long it stays empty).
  void release() {
    if (empty()) store_.reset();
  }
  iterator begin() { return store_ ? store_->items.begin() + offset() : iterator{}; }
  iterator end() { return store_ ? store_->items.end() : iterator{}; }
  const_iterator begin() const {
    return store_ ? store_->items.cbegin() + offset() : const_iterator{};
  }
  const_iterator end() const { return store_ ? store_->items.cend() : const_iterator{}; }

  friend bool operator==(const Fifo& a, const Fifo& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }

 private:
  struct Store {
    std::vector<T> items;
    std::size_t head = 0;
  };
  Store& made() {
    if (!store_) store_ = std::make_unique<Store>();
    return *store_;
  }
  std::ptrdiff_t offset() const { return static_cast<std::ptrdiff_t>(store_->head); }

  std::unique_ptr<Store> store_;
};

}  // namespace assay::mqtt
