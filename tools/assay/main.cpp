// assay: MQTT conformance, simulation and the reference broker, one executable.
#include <CLI/CLI.hpp>
#include <iostream>

#include "bench_command.hpp"
#include "broker_command.hpp"
#include "conform_command.hpp"
#include "decode_command.hpp"
#include "passwd_command.hpp"
#include "pub_command.hpp"
#include "sim_command.hpp"
#include "sub_command.hpp"

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
  assay::tools::add_passwd_command(app);
  assay::tools::add_pub_command(app);
  assay::tools::add_sub_command(app);
  assay::tools::add_sim_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // pub and sub answer a bad flag as mosquitto_pub/mosquitto_sub do: the
    // error, a pointer to --help, exit code 1.
    for (const char* tool : {"pub", "sub"}) {
      const CLI::App* cmd = app.get_subcommand(tool);
      const bool is_help = e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success);
      if (cmd->parsed() && !is_help && e.get_name() != "RuntimeError") {
        std::cerr << "Error: " << e.what() << "\n\nUse 'assay " << tool
                  << " --help' to see usage.\n";
        return 1;
      }
    }
    // A subcommand's own exit code (CLI::RuntimeError) as it is; any other
    // command line it cannot use: the reason (CLI11 prints it) and exit
    // code 2, as the subcommands' own usage errors.
    const int code = app.exit(e);
    return code == 0 || e.get_name() == "RuntimeError" ? code : 2;
  }
  return 0;
}
