// A set of packet identifiers whose storage is made on first insert. A
// std::set costs 48 bytes even when empty; every connection and session of
// a broker holds a few, and an idle one uses none of them, so this costs 8
// until used. Once made, the storage stays until clear() (a set that fills
// and empties with every message would otherwise allocate each time).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>

namespace assay::mqtt {

class IdSet {
 public:
  IdSet() = default;
  IdSet(const IdSet& other) : ids_(other.ids_ ? std::make_unique<Ids>(*other.ids_) : nullptr) {}
  IdSet& operator=(const IdSet& other) {
    if (this != &other) ids_ = other.ids_ ? std::make_unique<Ids>(*other.ids_) : nullptr;
    return *this;
  }
  IdSet(IdSet&&) noexcept = default;
  IdSet& operator=(IdSet&&) noexcept = default;

  // False if `id` was there already.
  bool insert(std::uint16_t id) {
    if (!ids_) ids_ = std::make_unique<Ids>();
    return ids_->insert(id).second;
  }
  // How many were removed (0 or 1).
  std::size_t erase(std::uint16_t id) { return ids_ ? ids_->erase(id) : 0; }
  bool contains(std::uint16_t id) const { return ids_ && ids_->contains(id); }
  std::size_t size() const { return ids_ ? ids_->size() : 0; }
  bool empty() const { return size() == 0; }
  void clear() { ids_.reset(); }

  // Calls f(id) for each, ascending.
  template <class F>
  void for_each(F f) const {
    if (!ids_) return;
    for (const std::uint16_t id : *ids_)
      f(id);
  }

  friend bool operator==(const IdSet& a, const IdSet& b) {
    return a.size() == b.size() && (a.empty() || *a.ids_ == *b.ids_);
  }

 private:
  using Ids = std::set<std::uint16_t>;
  std::unique_ptr<Ids> ids_;
};

}  // namespace assay::mqtt
