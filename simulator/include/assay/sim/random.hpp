// The simulator's randomness: one 64-bit seed, and from it one generator
// per component (each device, link, the fault schedule...), so that adding
// a component does not change the draws of the others. xoshiro256** seeded
// through SplitMix64; nothing reads the OS random source.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace assay::sim {

// SplitMix64: the seeding function of xoshiro's authors.
inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// A component's seed: the run's seed mixed with the component's name and
// index (FNV-1a of the name, then SplitMix64).
std::uint64_t derive(std::uint64_t seed, std::string_view component, std::uint64_t index = 0);

class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0);
  std::uint64_t next();
  // Uniform in [0, n); n > 0.
  std::uint64_t below(std::uint64_t n);
  // Uniform in [lo, hi].
  std::int64_t between(std::int64_t lo, std::int64_t hi);
  double unit();  // [0, 1)
  bool chance(double p) { return unit() < p; }
  double exponential(double mean) { return -mean * std::log(1.0 - unit()); }
  double normal(double mean, double sd);

 private:
  std::uint64_t s_[4];
  std::optional<double> spare_;  // the second value of a Box-Muller pair
};

// A seed as written on the command line: decimal, 0x-hex, or a 40-digit
// commit hash (its first 16 hex digits). nullopt if it is none of those.
std::optional<std::uint64_t> parse_seed(std::string_view text);
// "1000-1999" or a single seed; nullopt when malformed or empty.
std::optional<std::pair<std::uint64_t, std::uint64_t>> parse_seed_range(std::string_view text);

}  // namespace assay::sim
