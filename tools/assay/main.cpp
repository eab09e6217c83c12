// assay: MQTT conformance, simulation and the reference broker, one executable.
#include <CLI/CLI.hpp>

#include "bench_command.hpp"
#include "broker_command.hpp"
#include "conform_command.hpp"
#include "decode_command.hpp"

#ifndef ASSAY_VERSION
#define ASSAY_VERSION "unknown"
#endif

int main(int argc, char** argv) {
  CLI::App app{"Assay: MQTT protocol conformance and simulation toolkit"};
  app.set_version_flag("--version", std::string("assay ") + ASSAY_VERSION);
  app.require_subcommand(1);
  assay::tools::add_bench_command(app);
  assay::tools::add_broker_command(app);
  assay::tools::add_conform_command(app);
  assay::tools::add_decode_command(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
