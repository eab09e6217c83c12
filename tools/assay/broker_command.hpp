// `assay broker`: the reference broker.
#pragma once

#include <CLI/CLI.hpp>

namespace assay::tools {

void add_broker_command(CLI::App& app);

}  // namespace assay::tools
