// The broker's JSON configuration file (docs/broker.md lists every key).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "assay/broker/file_store.hpp"
#include "assay/broker/security/file_security.hpp"
#include "server.hpp"

namespace assay::tools {

// Everything the file configures: the server and its security files.
struct BrokerConfig {
  broker::ServerOptions server;
  std::string password_file;  // empty: no accounts
  std::string acl_file;       // empty: no ACL
  // Unset: anonymous clients are let in only when there is no password file
  // and every listener is on a loopback address (anonymous_default()).
  std::optional<bool> allow_anonymous;
  std::string persistence_file;  // empty: nothing survives a restart
  broker::FileStoreOptions persistence;

  bool anonymous_default() const;
  broker::security::SecurityOptions security() const;
};

// Applies `config` to `out`. Returns an empty string, or an error that
// names the offending key ("unknown key \"prot\"", "\"port\": must be ...").
std::string apply_broker_config(const nlohmann::json& config, BrokerConfig& out);

// Whether `address` (a listener's) is a loopback address: 127.0.0.0/8, ::1
// or "localhost".
bool is_loopback(const std::string& address);

// Every key apply_broker_config knows, in order.
std::vector<std::string> broker_config_keys();

}  // namespace assay::tools
