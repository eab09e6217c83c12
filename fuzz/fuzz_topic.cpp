// Fuzz target: topic names and filters. The input is split at its first
// 0x00 into a filter and a name (the rest after further 0x00 bytes are
// extra filters for the index).
//
// Oracles: validation never crashes on any bytes; for valid filters and
// names, topic_matches() agrees with a naive split-and-compare matcher, and
// the SubscriptionIndex reports exactly the filters topic_matches() accepts.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "assay/mqtt/subscription_index.hpp"
#include "assay/mqtt/topic.hpp"
#include "reference_topic.hpp"

namespace {

using namespace assay::mqtt;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_topic oracle failed: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> parts{""};
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      parts.emplace_back();
    } else {
      parts.back() += static_cast<char>(data[i]);
    }
  }
  const std::string name = parts.size() > 1 ? parts[1] : parts[0];
  for (const Version v : {Version::v3_1_1, Version::v5}) {
    (void)validate_topic_name(name, v);
    for (const auto& p : parts) {
      (void)validate_topic_filter(p, v);
      (void)parse_shared_filter(p);
    }
  }
  if (validate_topic_name(name, Version::v5)) return 0;
  SubscriptionIndex<std::size_t, int> index;
  std::set<std::size_t> expected;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i == 1 || validate_topic_filter(parts[i], Version::v3_1_1)) continue;
    const bool m = topic_matches(parts[i], name);
    if (m != test::reference_match(parts[i], name))
      fail("topic_matches disagrees with the naive matcher");
    index.insert(parts[i], i, 0);
    if (m) expected.insert(i);
  }
  std::set<std::size_t> got;
  index.match(name, [&](std::size_t key, int) { got.insert(key); });
  if (got != expected) fail("the index disagrees with topic_matches");
  return 0;
}
