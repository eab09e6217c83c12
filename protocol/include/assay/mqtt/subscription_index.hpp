// A subscription index: which subscriptions match a topic name?
//
// A trie over topic levels with dedicated children for '+' and '#', so that
// matching costs a few hash look-ups per level of the topic, however many
// subscriptions there are. Each filter holds any number of (Key, Value)
// entries, one per subscriber (Key: a client or session identifier).
// Filters are stored as given: the broker strips "$share/{group}/" itself.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace assay::mqtt {

template <class Key, class Value>
class SubscriptionIndex {
 public:
  // Adds `key`'s subscription to `filter`, or replaces its value.
  // Returns true when the subscription is new.
  bool insert(std::string_view filter, const Key& key, Value value) {
    Node* node = &root_;
    for_each_level(filter, [&](std::string_view level) { node = &node->child(level); });
    for (auto& entry : node->entries) {
      if (entry.first == key) {
        entry.second = std::move(value);
        return false;
      }
    }
    node->entries.emplace_back(key, std::move(value));
    ++size_;
    return true;
  }

  // Removes `key`'s subscription to `filter`; prunes nodes left empty.
  bool erase(std::string_view filter, const Key& key) {
    std::vector<Node*> path{&root_};
    bool found_path = true;
    for_each_level(filter, [&](std::string_view level) {
      if (!found_path) return;
      Node* next = path.back()->find_child(level);
      if (next == nullptr) {
        found_path = false;
      } else {
        path.push_back(next);
      }
    });
    if (!found_path) return false;
    auto& entries = path.back()->entries;
    for (auto it = entries.begin(); it != entries.end(); ++it) {
      if (it->first == key) {
        entries.erase(it);
        --size_;
        prune(path, filter);
        return true;
      }
    }
    return false;
  }

  const Value* find(std::string_view filter, const Key& key) const {
    const Node* node = &root_;
    bool ok = true;
    for_each_level(filter, [&](std::string_view level) {
      if (ok) {
        node = node->find_child(level);
        ok = node != nullptr;
      }
    });
    if (!ok) return nullptr;
    for (const auto& entry : node->entries) {
      if (entry.first == key) return &entry.second;
    }
    return nullptr;
  }

  // Calls fn(filter_key, value) for every subscription whose filter matches
  // `topic`, applying the '$' rule [MQTT-4.7.2-1]. A subscriber with several
  // matching filters is reported once per filter. Returns how many filters
  // matched: with one, no key is reported twice.
  template <class Fn>
  std::size_t match(std::string_view topic, Fn&& fn) const {
    const bool dollar = !topic.empty() && topic.front() == '$';
    return walk(root_, topic, false, dollar, fn);
  }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void clear() {
    root_ = Node{};
    size_ = 0;
  }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  struct Node {
    std::unordered_map<std::string, std::unique_ptr<Node>, Hash, std::equal_to<>> children;
    std::unique_ptr<Node> plus;
    std::unique_ptr<Node> hash;
    std::vector<std::pair<Key, Value>> entries;

    Node& child(std::string_view level) {
      if (level == "+") return make(plus);
      if (level == "#") return make(hash);
      auto it = children.find(level);
      if (it == children.end()) {
        it = children.emplace(std::string(level), std::make_unique<Node>()).first;
      }
      return *it->second;
    }
    Node* find_child(std::string_view level) const {
      if (level == "+") return plus.get();
      if (level == "#") return hash.get();
      auto it = children.find(level);
      return it == children.end() ? nullptr : it->second.get();
    }
    bool unused() const { return entries.empty() && children.empty() && !plus && !hash; }
    static Node& make(std::unique_ptr<Node>& slot) {
      if (!slot) slot = std::make_unique<Node>();
      return *slot;
    }
  };

  template <class Fn>
  static void for_each_level(std::string_view s, Fn&& fn) {
    for (;;) {
      const auto slash = s.find('/');
      fn(s.substr(0, slash));
      if (slash == std::string_view::npos) return;
      s.remove_prefix(slash + 1);
    }
  }

  // Removes the nodes of `path` (root first) that hold nothing any more.
  static void prune(std::vector<Node*>& path, std::string_view filter) {
    std::vector<std::string_view> levels;
    for_each_level(filter, [&](std::string_view level) { levels.push_back(level); });
    for (std::size_t i = path.size() - 1; i > 0; --i) {
      if (!path[i]->unused()) return;
      Node* parent = path[i - 1];
      const std::string_view level = levels[i - 1];
      if (level == "+") {
        parent->plus.reset();
      } else if (level == "#") {
        parent->hash.reset();
      } else {
        parent->children.erase(parent->children.find(level));
      }
    }
  }

  template <class Fn>
  static std::size_t emit(const Node& node, Fn& fn) {
    for (const auto& entry : node.entries)
      fn(entry.first, entry.second);
    return node.entries.empty() ? 0 : 1;
  }

  // `rest` is what is left of the topic; `done` is true once every level has
  // been consumed (distinct from an empty last level, as in "a/").
  template <class Fn>
  static std::size_t walk(const Node& node, std::string_view rest, bool done, bool skip_wildcards,
                          Fn& fn) {
    std::size_t matched = 0;
    // '#' also matches the parent level: "a/#" matches "a" [MQTT-4.7.1-2].
    if (node.hash && !skip_wildcards) matched += emit(*node.hash, fn);
    if (done) return matched + emit(node, fn);
    const auto slash = rest.find('/');
    const std::string_view level = rest.substr(0, slash);
    const bool last = slash == std::string_view::npos;
    const std::string_view next = last ? std::string_view{} : rest.substr(slash + 1);
    if (!node.children.empty()) {  // (only wildcards below: nothing to hash)
      if (auto it = node.children.find(level); it != node.children.end()) {
        matched += walk(*it->second, next, last, false, fn);
      }
    }
    if (node.plus && !skip_wildcards) matched += walk(*node.plus, next, last, false, fn);
    return matched;
  }

  Node root_;
  std::size_t size_ = 0;
};

}  // namespace assay::mqtt
