#pragma once

#include <CLI/CLI.hpp>

namespace assay::tools {

void add_sub_command(CLI::App& app);

}  // namespace assay::tools
