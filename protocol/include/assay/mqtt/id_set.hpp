// A set of packet identifiers (1..65535): an open-addressing hash table in
// one allocation, made on first insert. Every connection and session of a
// broker holds a few and an idle one uses none, so an unused set costs 8
// bytes. A std::set allocated a node for every message in flight and freed
// it at the acknowledgement; this allocates only when the table grows. The
// storage stays while the set is small, so a set that fills and empties with
// every message does not allocate each time; a large table is given back
// when the set empties.
//
// Layout of the allocation: [size, log2(capacity), slot 0, slot 1, ...];
// an empty slot holds 0, which is never a packet identifier. Linear probing
// from a Fibonacci hash of the id (consecutive ids, as a sender allocates
// them, land on distinct slots); erase shifts the entries that follow back,
// so there are no tombstones. The table is at most half full.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace assay::mqtt {

class IdSet {
 public:
  IdSet() = default;
  IdSet(const IdSet& other) { copy_from(other); }
  IdSet& operator=(const IdSet& other) {
    if (this != &other) copy_from(other);
    return *this;
  }
  IdSet(IdSet&&) noexcept = default;
  IdSet& operator=(IdSet&&) noexcept = default;

  // False if `id` was there already. `id` is not 0.
  bool insert(std::uint16_t id) {
    if (!table_) allocate(min_bits);
    if (find(id) != npos) return false;
    if ((std::size_t{size()} + 1) * 2 > capacity()) grow();
    std::size_t i = home(id);
    while (slot(i) != 0)
      i = next(i);
    slot(i) = id;
    ++table_[0];
    return true;
  }

  // How many were removed (0 or 1).
  std::size_t erase(std::uint16_t id) {
    if (!table_) return 0;
    std::size_t hole = find(id);
    if (hole == npos) return 0;
    // Backward shift: an entry after the hole moves into it unless its home
    // lies cyclically in (hole, here].
    for (std::size_t i = next(hole); slot(i) != 0; i = next(i)) {
      const std::size_t h = home(slot(i));
      const bool stays = hole < i ? (hole < h && h <= i) : (hole < h || h <= i);
      if (stays) continue;
      slot(hole) = slot(i);
      hole = i;
    }
    slot(hole) = 0;
    if (--table_[0] == 0 && table_[1] > keep_bits) table_.reset();
    return 1;
  }

  bool contains(std::uint16_t id) const { return table_ && find(id) != npos; }
  std::size_t size() const { return table_ ? table_[0] : 0; }
  bool empty() const { return size() == 0; }
  void clear() { table_.reset(); }

  // Calls f(id) for each, ascending.
  template <class F>
  void for_each(F f) const {
    if (empty()) return;
    std::vector<std::uint16_t> ids;
    ids.reserve(size());
    for (std::size_t i = 0; i < capacity(); ++i) {
      if (slot(i) != 0) ids.push_back(slot(i));
    }
    std::sort(ids.begin(), ids.end());
    for (const std::uint16_t id : ids)
      f(id);
  }

  friend bool operator==(const IdSet& a, const IdSet& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.capacity(); ++i) {
      if (a.slot(i) != 0 && !b.contains(a.slot(i))) return false;
    }
    return true;
  }

 private:
  static constexpr std::size_t npos = ~std::size_t{0};
  static constexpr unsigned min_bits = 3;   // 8 slots
  static constexpr unsigned keep_bits = 6;  // up to 64 slots stay when emptied

  std::size_t capacity() const { return table_ ? std::size_t{1} << table_[1] : 0; }
  std::size_t mask() const { return capacity() - 1; }
  std::size_t next(std::size_t i) const { return (i + 1) & mask(); }
  std::size_t home(std::uint16_t id) const {
    // Fibonacci hashing: the top bits of id * 2^32/phi.
    return static_cast<std::size_t>((std::uint32_t{id} * 2654435769u) >> (32 - table_[1]));
  }
  std::uint16_t& slot(std::size_t i) { return table_[2 + i]; }
  std::uint16_t slot(std::size_t i) const { return table_[2 + i]; }

  std::size_t find(std::uint16_t id) const {
    for (std::size_t i = home(id);; i = next(i)) {
      if (slot(i) == id) return i;
      if (slot(i) == 0) return npos;
    }
  }

  void allocate(unsigned bits) {
    const std::size_t n = 2 + (std::size_t{1} << bits);
    table_ = std::make_unique<std::uint16_t[]>(n);  // zeroed: every slot empty
    table_[1] = static_cast<std::uint16_t>(bits);
  }

  void grow() {
    std::unique_ptr<std::uint16_t[]> old = std::move(table_);
    const std::size_t old_capacity = std::size_t{1} << old[1];
    allocate(old[1] + 1u);
    for (std::size_t i = 0; i < old_capacity; ++i) {
      const std::uint16_t id = old[2 + i];
      if (id == 0) continue;
      std::size_t j = home(id);
      while (slot(j) != 0)
        j = next(j);
      slot(j) = id;
    }
    table_[0] = old[0];
  }

  void copy_from(const IdSet& other) {
    if (!other.table_) {
      table_.reset();
      return;
    }
    const std::size_t n = 2 + other.capacity();
    table_ = std::make_unique_for_overwrite<std::uint16_t[]>(n);
    std::memcpy(table_.get(), other.table_.get(), n * sizeof(std::uint16_t));
  }

  std::unique_ptr<std::uint16_t[]> table_;
};

}  // namespace assay::mqtt
