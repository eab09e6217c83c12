#pragma once

#include <CLI/CLI.hpp>

namespace assay::tools {

void add_pub_command(CLI::App& app);

}  // namespace assay::tools
