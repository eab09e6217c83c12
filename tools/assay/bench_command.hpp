// `assay bench`: a load generator for any MQTT broker.
#pragma once

#include <CLI/CLI.hpp>

namespace assay::tools {

void add_bench_command(CLI::App& app);

}  // namespace assay::tools
