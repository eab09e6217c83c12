#include "assay/sim/random.hpp"

#include <cctype>
#include <charconv>

namespace assay::sim {

std::uint64_t derive(std::uint64_t seed, std::string_view component, std::uint64_t index) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : component) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  std::uint64_t state = seed ^ h ^ (index * 0x9E3779B97F4A7C15ULL);
  splitmix64(state);
  return splitmix64(state);
}

Rng::Rng(std::uint64_t seed) {
  std::uint64_t state = seed;
  for (auto& s : s_)
    s = splitmix64(state);
}

std::uint64_t Rng::next() {
  auto rotl = [](std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); };
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

std::uint64_t Rng::below(std::uint64_t n) {
  // Rejection below 2^64 mod n: no modulo bias.
  const std::uint64_t threshold = (0 - n) % n;
  for (;;) {
    const std::uint64_t r = next();
    if (r >= threshold) return r % n;
  }
}

std::int64_t Rng::between(std::int64_t lo, std::int64_t hi) {
  if (hi <= lo) return lo;
  return lo + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(hi - lo) + 1));
}

double Rng::unit() {
  return static_cast<double>(next() >> 11) * 0x1.0p-53;
}

double Rng::normal(double mean, double sd) {
  if (spare_) {
    const double z = *spare_;
    spare_.reset();
    return mean + sd * z;
  }
  double u = 0;
  do {
    u = unit();
  } while (u <= 0);
  const double v = unit();
  const double r = std::sqrt(-2.0 * std::log(u));
  constexpr double two_pi = 6.283185307179586;
  spare_ = r * std::sin(two_pi * v);
  return mean + sd * r * std::cos(two_pi * v);
}

std::optional<std::uint64_t> parse_seed(std::string_view text) {
  if (text.empty()) return std::nullopt;
  auto hex = [](std::string_view s) -> std::optional<std::uint64_t> {
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
    if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return v;
  };
  if (text.size() == 40) {  // a commit hash
    for (const char c : text) {
      if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    }
    return hex(text.substr(0, 16));
  }
  if (text.starts_with("0x") || text.starts_with("0X")) return hex(text.substr(2));
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return v;
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> parse_seed_range(std::string_view text) {
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) {
    const auto s = parse_seed(text);
    if (!s) return std::nullopt;
    return std::pair{*s, *s};
  }
  const auto lo = parse_seed(text.substr(0, dash));
  const auto hi = parse_seed(text.substr(dash + 1));
  if (!lo || !hi || *hi < *lo) return std::nullopt;
  return std::pair{*lo, *hi};
}

}  // namespace assay::sim
