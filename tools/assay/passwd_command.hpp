// `assay passwd`: makes and edits the broker's password files (the format
// mosquitto_passwd writes; docs/broker.md, "Authentication").
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>

namespace assay::tools {

struct PasswdOptions {
  std::string file;
  std::string user;
  bool create = false;                  // -c: start a new file, replacing one that is there
  bool remove = false;                  // -D: delete the user
  std::optional<std::string> password;  // -b PASSWORD, or read by run_passwd's caller
  std::uint32_t iterations = 0;         // 0: PasswordHash::default_iterations
  bool scram = false;                   // a $scram-sha-256$ credential instead of $7$
};

// Applies `options` to the file and writes it back atomically (a temporary
// file beside it, renamed over it; an existing file keeps its permissions,
// a new one is 0600). Returns 0, or 1 with an error naming the file (and its
// line) or the user written to `err`.
int run_passwd(const PasswdOptions& options, std::ostream& err);

void add_passwd_command(CLI::App& app);

}  // namespace assay::tools
