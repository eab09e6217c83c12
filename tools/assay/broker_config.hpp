// The broker's JSON configuration file (docs/broker.md lists every key).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "server.hpp"

namespace assay::tools {

// Applies `config` to `options`. Returns an empty string, or an error that
// names the offending key ("unknown key \"prot\"", "\"port\": must be ...").
std::string apply_broker_config(const nlohmann::json& config, broker::ServerOptions& options);

// Every key apply_broker_config knows, in order.
std::vector<std::string> broker_config_keys();

}  // namespace assay::tools
