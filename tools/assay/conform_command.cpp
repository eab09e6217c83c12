#include "conform_command.hpp"

#include <charconv>
#include <chrono>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "assay/conformance/simulated_network.hpp"
#include "host_port.hpp"
#include "tcp_network.hpp"

namespace assay::tools {

using conformance::CaseResult;
using conformance::Report;
using conformance::Verdict;

namespace {

struct ConformArgs {
  std::string target;
  std::string simulated;  // a seed: our engine over simulated links, no target
  bool tls = false;
  std::string cafile;
  bool insecure = false;
  std::string websocket;  // HTTP path
  std::string username;
  std::string password;
  std::string scram;  // USER:PASSWORD
  std::string version = "both";
  std::vector<std::string> only;
  std::vector<std::string> exclude;
  double timeout = 3.0;
  int quiet_ms = 300;
  std::string report = "text";
  std::string out;
  bool list = false;
  std::size_t stress_messages = 200;
};

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& s : items)
    out += (out.empty() ? "" : sep) + s;
  return out;
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') {
          out += ' ';
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string exchange_text(const CaseResult& r) {
  std::ostringstream out;
  for (const auto& l : r.trace) {
    out << std::setw(7) << l.at.count() << " ms  " << std::left << std::setw(12) << l.peer
        << std::right << ' '
        << (l.direction == '>'   ? "->"
            : l.direction == '<' ? "<-"
                                 : "--")
        << ' ' << l.text << '\n';
  }
  return out.str();
}

std::string summary(const Report& r) {
  std::ostringstream out;
  out << r.count(Verdict::passed) << " passed, " << r.count(Verdict::failed) << " failed, "
      << r.count(Verdict::not_applicable) << " not applicable, of " << r.results.size()
      << " cases against " << r.target;
  return out.str();
}

// Splits "a,b" option values so that --only a,b and --only a --only b agree.
std::vector<std::string> split_all(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (const auto& item : in) {
    std::stringstream ss(item);
    std::string part;
    while (std::getline(ss, part, ',')) {
      if (!part.empty()) out.push_back(part);
    }
  }
  return out;
}

// The report of a run, in the format asked for; exits 1 when a case failed,
// 2 when the broker accepted no CONNECT at all.
void finish(const ConformArgs& args, const Report& report) {
  if (!report.capabilities.v3_1_1 && !report.capabilities.v5) {
    std::cerr << "assay conform: the broker accepted no CONNECT: "
              << report.capabilities.refused_why << '\n';
    throw CLI::RuntimeError(2);
  }
  std::ofstream file;
  std::ostream* out = &std::cout;
  if (!args.out.empty()) {
    file.open(args.out);
    if (!file) {
      std::cerr << "assay conform: cannot write " << args.out << '\n';
      throw CLI::RuntimeError(2);
    }
    out = &file;
  }
  if (args.report == "json") {
    write_json_report(report, *out);
  } else if (args.report == "junit") {
    write_junit_report(report, *out);
  } else if (args.out.empty()) {
    write_text_report(report, std::cout, false);  // progress listed the verdicts
  } else {
    write_text_report(report, *out);
  }
  if (!args.out.empty()) std::cout << summary(report) << '\n';
  if (!report.ok()) throw CLI::RuntimeError(1);
}

}  // namespace

void write_text_report(const Report& report, std::ostream& out, bool with_verdicts) {
  if (with_verdicts) {
    for (const CaseResult& r : report.results) {
      out << std::left << std::setw(5) << conformance::to_string(r.verdict) << ' ' << std::setw(46)
          << r.test->id() << ' ' << join(r.test->statements, " ") << std::right;
      if (!r.message.empty() && r.verdict != Verdict::failed) out << "  (" << r.message << ')';
      out << '\n';
    }
  }
  for (const CaseResult& r : report.results) {
    if (r.verdict != Verdict::failed) continue;
    out << "\n== FAIL " << r.test->id() << " [" << join(r.test->statements, ", ") << "]\n"
        << "   " << r.test->title << "\n   " << r.message << "\n"
        << exchange_text(r);
  }
  out << '\n' << summary(report) << '\n';
}

void write_json_report(const Report& report, std::ostream& out) {
  using nlohmann::ordered_json;
  const auto& c = report.capabilities;
  ordered_json caps{{"mqtt_3_1_1", c.v3_1_1},
                    {"mqtt_5", c.v5},
                    {"maximum_qos", static_cast<int>(c.maximum_qos)},
                    {"retain_available", c.retain_available},
                    {"wildcard_subscription_available", c.wildcard_available},
                    {"shared_subscription_available", c.shared_available},
                    {"subscription_identifier_available", c.subscription_ids_available},
                    {"topic_alias_maximum", c.topic_alias_maximum},
                    {"maximum_packet_size", c.maximum_packet_size},
                    {"receive_maximum", c.receive_maximum}};
  ordered_json cases = ordered_json::array();
  for (const CaseResult& r : report.results) {
    ordered_json exchange = ordered_json::array();
    for (const auto& l : r.trace) {
      exchange.push_back({{"at_ms", l.at.count()},
                          {"peer", l.peer},
                          {"direction", l.direction == '>'   ? "sent"
                                        : l.direction == '<' ? "received"
                                                             : "event"},
                          {"text", l.text}});
    }
    cases.push_back({{"id", r.test->id()},
                     {"version", std::string(mqtt::to_string(r.test->version))},
                     {"section", r.test->section},
                     {"title", r.test->title},
                     {"statements", r.test->statements},
                     {"verdict", r.verdict == Verdict::passed   ? "passed"
                                 : r.verdict == Verdict::failed ? "failed"
                                                                : "not_applicable"},
                     {"message", r.message},
                     {"seconds", r.seconds},
                     {"exchange", exchange}});
  }
  ordered_json doc{{"target", report.target},
                   {"capabilities", caps},
                   {"summary",
                    {{"passed", report.count(Verdict::passed)},
                     {"failed", report.count(Verdict::failed)},
                     {"not_applicable", report.count(Verdict::not_applicable)}}},
                   {"cases", cases}};
  out << doc.dump(2) << '\n';
}

void write_junit_report(const Report& report, std::ostream& out) {
  double total = 0;
  for (const CaseResult& r : report.results)
    total += r.seconds;
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<testsuites name=\"assay conform\" tests=\"" << report.results.size() << "\" failures=\""
      << report.count(Verdict::failed) << "\" skipped=\"" << report.count(Verdict::not_applicable)
      << "\" time=\"" << total << "\">\n"
      << "  <testsuite name=\"" << xml_escape(report.target) << "\" tests=\""
      << report.results.size() << "\" failures=\"" << report.count(Verdict::failed)
      << "\" skipped=\"" << report.count(Verdict::not_applicable) << "\" time=\"" << total
      << "\">\n";
  for (const CaseResult& r : report.results) {
    const std::string classname = std::string("mqtt-") +
                                  std::string(mqtt::to_string(r.test->version)) + "." +
                                  r.test->section;
    out << "    <testcase classname=\"" << xml_escape(classname) << "\" name=\""
        << xml_escape(r.test->name + " [" + join(r.test->statements, " ") + "]") << "\" time=\""
        << r.seconds << "\"";
    if (r.verdict == Verdict::passed) {
      out << "/>\n";
      continue;
    }
    out << ">\n";
    if (r.verdict == Verdict::failed) {
      out << "      <failure message=\"" << xml_escape(r.message) << "\">"
          << xml_escape(r.test->title + "\n" + exchange_text(r)) << "</failure>\n";
    } else {
      out << "      <skipped message=\"" << xml_escape(r.message) << "\"/>\n";
    }
    out << "    </testcase>\n";
  }
  out << "  </testsuite>\n</testsuites>\n";
}

void add_conform_command(CLI::App& app) {
  auto a = std::make_shared<ConformArgs>();
  CLI::App* cmd = app.add_subcommand(
      "conform",
      "Run the conformance suite against a broker: a verdict per normative statement of MQTT "
      "3.1.1 and 5.0 (see docs/conformance.md).");
  cmd->add_option("target", a->target, "Broker address, HOST[:PORT] (port 1883, 8883 with --tls)");
  cmd->add_flag("--tls", a->tls, "Connect with TLS");
  cmd->add_option("--cafile", a->cafile, "CA certificates to verify the broker with (PEM)")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--insecure", a->insecure, "TLS without verifying the broker's certificate");
  cmd->add_option("--ws", a->websocket,
                  "MQTT over WebSocket on this HTTP path (e.g. /mqtt), subprotocol mqtt; secure "
                  "WebSocket with --tls. Give the port: HOST:PORT")
      ->check([](const std::string& path) {
        return !path.empty() && path.front() == '/' ? std::string()
                                                    : std::string("a path starts with '/'");
      });
  cmd->add_option("-u,--username", a->username, "User Name for every CONNECT");
  cmd->add_option("-P,--password", a->password, "Password for every CONNECT");
  cmd->add_option("--scram", a->scram,
                  "USER:PASSWORD of an account the broker knows for SCRAM-SHA-256: runs the "
                  "enhanced authentication cases (5.0 \u00a74.12), not applicable without it");
  cmd->add_option("-V,--version", a->version, "Protocol versions to test")
      ->check(CLI::IsMember({"3.1.1", "5", "both"}));
  cmd->add_option("--only", a->only,
                  "Run only cases matching these globs (case id, section or statement: "
                  "'3.3.*', 'MQTT-3.1.2-4', '5.0/retain.*'); repeat or separate with commas");
  cmd->add_option("--exclude", a->exclude, "Skip cases matching these globs");
  cmd->add_option("--timeout", a->timeout, "Seconds to wait for a packet the broker owes")
      ->check(CLI::Range(0.05, 600.0));
  cmd->add_option("--quiet", a->quiet_ms,
                  "Milliseconds of silence that prove the broker sends nothing more")
      ->check(CLI::Range(10, 60000));
  cmd->add_option("--stress-messages", a->stress_messages,
                  "Messages per publisher in the stress cases")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--report", a->report, "Report format")
      ->check(CLI::IsMember({"text", "json", "junit"}));
  cmd->add_option("-o,--out", a->out, "Write the report to this file (progress stays on stdout)");
  cmd->add_flag("--list", a->list, "List the selected cases and their statements; run nothing");
  cmd->add_option("--simulated", a->simulated,
                  "Instead of a broker address: run against Assay's own broker engine in this "
                  "process, over simulated links that split and delay every write, from SEED");
  cmd->callback([a] {
    conformance::Options o;
    o.timeout = std::chrono::milliseconds(static_cast<long>(a->timeout * 1000));
    o.quiet = std::chrono::milliseconds(a->quiet_ms);
    o.v3_1_1 = a->version != "5";
    o.v5 = a->version != "3.1.1";
    o.only = split_all(a->only);
    o.exclude = split_all(a->exclude);
    o.stress_messages = a->stress_messages;
    if (!a->username.empty()) o.username = a->username;
    if (!a->password.empty()) o.password = mqtt::Bytes(a->password.begin(), a->password.end());
    if (!a->scram.empty()) {
      const std::size_t colon = a->scram.find(':');
      if (colon == std::string::npos || colon == 0) {
        std::cerr << "assay conform: --scram " << a->scram << ": expected USER:PASSWORD\n";
        throw CLI::RuntimeError(2);
      }
      o.scram =
          conformance::Options::Account{a->scram.substr(0, colon), a->scram.substr(colon + 1)};
    }

    if (a->list && a->report == "json") {
      nlohmann::ordered_json cases = nlohmann::ordered_json::array();
      for (const auto& c : conformance::all_cases()) {
        if (!conformance::selected(c, o)) continue;
        cases.push_back({{"id", c.id()},
                         {"version", std::string(mqtt::to_string(c.version))},
                         {"section", c.section},
                         {"title", c.title},
                         {"statements", c.statements}});
      }
      std::cout << cases.dump(2) << '\n';
      return;
    }
    if (a->list) {
      for (const auto& c : conformance::all_cases()) {
        if (!conformance::selected(c, o)) continue;
        std::cout << std::left << std::setw(46) << c.id() << ' ' << join(c.statements, " ")
                  << "\n    " << c.title << '\n';
      }
      return;
    }
    if (a->target.empty() && a->simulated.empty()) {
      std::cerr << "assay conform: a broker address is needed (HOST[:PORT]), or --simulated SEED\n";
      throw CLI::RuntimeError(2);
    }
    if (!a->target.empty() && !a->simulated.empty()) {
      std::cerr << "assay conform: --simulated runs against our own engine: give it or a broker "
                   "address, not both\n";
      throw CLI::RuntimeError(2);
    }
    const bool to_stdout = a->out.empty();
    const auto progress = [&](const CaseResult& r) {
      if (to_stdout && a->report != "text") return;
      std::cout << std::left << std::setw(5) << conformance::to_string(r.verdict) << ' '
                << r.test->id() << std::right;
      if (r.verdict == Verdict::failed) std::cout << "  -- " << r.message;
      std::cout << std::endl;
    };
    Report report;
    if (!a->simulated.empty()) {
      std::uint64_t seed = 0;
      const auto [end, ec] =
          std::from_chars(a->simulated.data(), a->simulated.data() + a->simulated.size(), seed);
      if (ec != std::errc{} || end != a->simulated.data() + a->simulated.size()) {
        std::cerr << "assay conform: --simulated " << a->simulated << ": not a seed (a number)\n";
        throw CLI::RuntimeError(2);
      }
      conformance::SimulatedNetwork net(seed);
      report = conformance::run_suite(net, o, progress);
      return finish(*a, report);
    }
    conformance::TcpOptions t;
    t.tls = a->tls || !a->cafile.empty();
    t.insecure = a->insecure;
    if (!a->cafile.empty()) t.cafile = a->cafile;
    if (!a->websocket.empty()) t.websocket_path = a->websocket;
    const auto target = parse_host_port(a->target, t.tls ? 8883 : 1883);
    if (!target) {
      std::cerr << "assay conform: '" << a->target << "' is not HOST[:PORT]\n";
      throw CLI::RuntimeError(2);
    }
    t.host = target->host;
    t.port = target->port;

    try {
      conformance::TcpNetwork net(t);
      // Fail fast when nothing listens there.
      net.connect()->close();
      report = conformance::run_suite(net, o, progress);
    } catch (const conformance::NetworkError& e) {
      std::cerr << "assay conform: " << e.what() << '\n';
      throw CLI::RuntimeError(2);
    }
    finish(*a, report);
  });
}

}  // namespace assay::tools
