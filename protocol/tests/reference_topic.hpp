// A deliberately naive topic matcher (split both strings on '/', compare
// level by level) that tests and fuzz targets check the real ones against.
#pragma once

#include <string>
#include <vector>

namespace assay::mqtt::test {

inline std::vector<std::string> split_levels(const std::string& s) {
  std::vector<std::string> out{""};
  for (const char c : s) {
    if (c == '/') {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

// For a valid, non-empty filter and name.
inline bool reference_match(const std::string& filter, const std::string& name) {
  if (name[0] == '$' && (filter[0] == '+' || filter[0] == '#')) return false;
  const auto f = split_levels(filter);
  const auto n = split_levels(name);
  for (std::size_t i = 0; i < f.size(); ++i) {
    if (f[i] == "#") return true;
    if (i >= n.size()) return false;
    if (f[i] != "+" && f[i] != n[i]) return false;
  }
  return f.size() == n.size();
}

}  // namespace assay::mqtt::test
