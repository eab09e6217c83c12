// The broker's log lines: one format for everything that runs in the process.
#include <cstdio>
#include <ctime>

#include "server.hpp"

namespace assay::broker {

namespace {

const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::error:
      return "error";
    case LogLevel::warning:
      return "warning";
    case LogLevel::info:
      return "info";
    case LogLevel::debug:
      return "debug";
  }
  return "?";
}

}  // namespace

void write_log(LogLevel level, std::string_view text) {
  const std::time_t t = std::time(nullptr);
  char stamp[32];
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::fprintf(stderr, "%s %-7s %.*s\n", stamp, level_name(level), static_cast<int>(text.size()),
               text.data());
}

}  // namespace assay::broker
