#pragma once

#include <CLI/CLI.hpp>

namespace assay::tools {

void add_sim_command(CLI::App& app);

}  // namespace assay::tools
