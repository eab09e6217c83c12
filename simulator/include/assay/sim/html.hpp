// The report page of a run (`assay sim --html`): one self-contained HTML
// file that makes no network fetch (a Content-Security-Policy forbids them)
// and needs no JavaScript (SVG titles are the tooltips), so that it can be
// attached to an issue and opened anywhere, years later. It shows the
// verdict and the replay command, the checkers' invariants and findings
// with their trace windows, a timeline of connections and faults,
// throughput over virtual time, and delivery latency by QoS.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace assay::sim {

// From to_json(report, true) (run.hpp), optionally with a "scenario_file"
// key for the replay command. Missing figures render as empty sections;
// every text from the report is escaped.
std::string html_report(const nlohmann::ordered_json& report_json);

}  // namespace assay::sim
