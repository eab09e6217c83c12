// The broker's JSON configuration file (docs/broker.md lists every key).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "server.hpp"

namespace assay::tools {

// Applies `config` to `options`. Returns an empty string, or an error that
// names the offending key ("unknown key \"prot\"", "\"port\": must be ...").
std::string apply_broker_config(const nlohmann::json& config, broker::ServerOptions& options);

}  // namespace assay::tools
