// `assay conform HOST[:PORT]`: the conformance suite against any broker.
#pragma once

#include <CLI/CLI.hpp>
#include <iosfwd>

#include "assay/conformance/suite.hpp"

namespace assay::tools {

void add_conform_command(CLI::App& app);

// The report formats (also used by tests).
// The verdict table (unless progress already showed it), each failure with
// its exchange, and the summary line.
void write_text_report(const conformance::Report& report, std::ostream& out,
                       bool with_verdicts = true);
void write_json_report(const conformance::Report& report, std::ostream& out);
void write_junit_report(const conformance::Report& report, std::ostream& out);

}  // namespace assay::tools
