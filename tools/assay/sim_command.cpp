// `assay sim`: the deterministic simulator (docs/simulator.md). One
// scenario (or swarm mode: the seed makes the scenario) and one seed, or a
// range of seeds over several processes; text, JSON and HTML reports;
// `--check-determinism`; `assay sim merge` for reports of seed ranges run
// elsewhere.
#include "sim_command.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "assay/sim/html.hpp"
#include "assay/sim/run.hpp"

namespace assay::tools {

namespace {

using json = nlohmann::ordered_json;
using sim::Verdict;

struct SimArgs {
  std::string scenario;  // empty: swarm mode
  std::string seed = "1";
  std::string seeds;  // A-B
  unsigned jobs = 1;
  std::string trace;   // file, or "-" for stdout
  std::string report;  // JSON file
  std::string html;
  bool check_determinism = false;
  bool print_scenario = false;
  bool durable = false;
  bool volatile_ = false;
  bool no_wire = false;
  bool quiet = false;
  std::vector<std::string> merge_inputs;
  std::string merge_output;
};

// Severity, to pick a range's exit code: crash, correctness, liveness, ok.
int severity(Verdict v) {
  switch (v) {
    case Verdict::crash:
      return 3;
    case Verdict::correctness:
      return 2;
    case Verdict::liveness:
      return 1;
    default:
      return 0;
  }
}

Verdict verdict_named(const std::string& s) {
  if (s == "crash") return Verdict::crash;
  if (s == "correctness") return Verdict::correctness;
  if (s == "liveness") return Verdict::liveness;
  return Verdict::ok;
}

sim::Scenario scenario_for(const SimArgs& a, std::uint64_t seed) {
  if (a.scenario.empty()) return sim::swarm(seed);
  return sim::load_scenario(a.scenario);
}

sim::RunOptions options_for(const SimArgs& a) {
  sim::RunOptions o;
  if (a.durable) o.mode = sim::Durability::durable;
  if (a.volatile_) o.mode = sim::Durability::volatile_;
  o.wire = !a.no_wire;
  return o;
}

std::string counts_line(const json& counts) {
  std::string out;
  for (auto it = counts.begin(); it != counts.end(); ++it) {
    if (!out.empty()) out += ", ";
    out += it.key() + " " + std::to_string(it.value().get<std::uint64_t>());
  }
  return out.empty() ? "nothing delivered" : out;
}

void print_run(const json& r, const std::string& replay, bool details) {
  std::cout << "seed " << r["seed"].get<std::uint64_t>() << ": " << r["verdict"].get<std::string>()
            << " (" << r["mode"].get<std::string>() << "; " << counts_line(r["counts"]) << ")\n";
  if (r.contains("crash")) std::cout << "  crash: " << r["crash"].get<std::string>() << '\n';
  if (!details) return;
  // The first ten findings; the rest are in --report's JSON.
  constexpr std::size_t shown = 10;
  const auto& findings = r["findings"];
  for (std::size_t i = 0; i < findings.size() && i < shown; ++i) {
    const auto& f = findings[i];
    std::cout << "  " << f["invariant"].get<std::string>() << " ["
              << f["statement"].get<std::string>() << "] at " << f["t_s"].get<double>()
              << " s: " << f["detail"].get<std::string>() << '\n';
  }
  if (findings.size() > shown)
    std::cout << "  ... and " << findings.size() - shown << " more findings (all in --report)\n";
  if (!r["findings"].empty()) {
    std::cout << "  the trace before the first finding:\n";
    for (const auto& line : r["findings"][0]["window"])
      std::cout << "    " << line.get<std::string>() << '\n';
  }
  if (r["verdict"] != "ok") std::cout << "  replay: " << replay << '\n';
}

// Runs one seed in this process.
json run_one(const SimArgs& a, std::uint64_t seed, std::ostream* trace, bool figures) {
  const sim::Scenario s = scenario_for(a, seed);
  sim::RunOptions o = options_for(a);
  o.trace = trace;
  const sim::Report r = sim::run(s, seed, o);
  json j = sim::to_json(r, figures);
  j["scenario_file"] = a.scenario;
  j["replay"] = sim::replay_command(r, a.scenario);
  return j;
}

json summary_of(const std::vector<json>& runs, const std::string& scenario) {
  json out;
  out["scenario"] = scenario.empty() ? "swarm" : scenario;
  out["seeds"] = runs.size();
  json counts = json::object();
  json failures = json::array();
  Verdict worst = Verdict::ok;
  for (const json& r : runs) {
    for (auto it = r["counts"].begin(); it != r["counts"].end(); ++it) {
      counts[it.key()] = counts.value(it.key(), std::uint64_t{0}) + it.value().get<std::uint64_t>();
    }
    const Verdict v = verdict_named(r["verdict"].get<std::string>());
    if (severity(v) > severity(worst)) worst = v;
    if (v != Verdict::ok) {
      failures.push_back({{"seed", r["seed"]}, {"verdict", r["verdict"]}, {"replay", r["replay"]}});
    }
  }
  out["verdict"] = std::string(sim::to_string(worst));
  out["counts"] = counts;
  out["failures"] = failures;
  out["runs"] = runs;
  return out;
}

// Seeds over `jobs` processes: each writes one JSON line per seed it
// finished, and "start N" before it begins one, so that a worker that
// dies (an abort, a signal: a crash of the code under test) names its seed.
std::vector<json> run_range(const SimArgs& a, std::uint64_t from, std::uint64_t to) {
  const std::uint64_t total = to - from + 1;
  const unsigned jobs = std::max(1u, std::min<unsigned>(a.jobs, static_cast<unsigned>(total)));
  std::vector<json> results;
  std::vector<std::uint64_t> todo;
  for (std::uint64_t s = from; s <= to; ++s)
    todo.push_back(s);
  const auto started = std::chrono::steady_clock::now();
  double simulated = 0;
  std::size_t failures = 0;
  auto progress = [&] {
    if (a.quiet) return;
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::fprintf(stderr, "\r%zu/%llu seeds, %zu failed, %.0f simulated s per wall s   ",
                 results.size(), static_cast<unsigned long long>(total), failures,
                 wall > 0 ? simulated / wall : 0.0);
    std::fflush(stderr);
  };
  auto account = [&](json r) {
    simulated += r["simulated_s"].get<double>();
    if (r["verdict"] != "ok") ++failures;
    results.push_back(std::move(r));
    progress();
  };
  if (jobs == 1) {
    for (const std::uint64_t seed : todo)
      account(run_one(a, seed, nullptr, false));
  } else {
    while (!todo.empty()) {
      // Deal the seeds left to `jobs` workers.
      struct Worker {
        pid_t pid;
        std::string file;
        std::vector<std::uint64_t> seeds;
      };
      std::vector<Worker> workers(jobs);
      for (std::size_t i = 0; i < todo.size(); ++i)
        workers[i % jobs].seeds.push_back(todo[i]);
      todo.clear();
      for (unsigned w = 0; w < jobs; ++w) {
        Worker& wk = workers[w];
        if (wk.seeds.empty()) continue;
        char name[] = "/tmp/assay-sim-XXXXXX";
        const int fd = ::mkstemp(name);
        if (fd < 0) throw std::runtime_error("cannot make a file for a worker in /tmp");
        ::close(fd);
        wk.file = name;
        std::cout.flush();
        wk.pid = ::fork();
        if (wk.pid == 0) {
          std::ofstream out(wk.file);
          for (const std::uint64_t seed : wk.seeds) {
            out << "start " << seed << std::endl;
            out << run_one(a, seed, nullptr, false).dump() << std::endl;
          }
          std::_Exit(0);
        }
      }
      // Read what each worker has finished while they run, so that the
      // progress line moves; a worker that exits is read to its end.
      struct Reader {
        std::ifstream in;
        std::string partial;
        std::uint64_t started_seed = 0;
        bool open = false;  // a "start" line without its result yet
        std::size_t done = 0;
        bool exited = false;
        int status = 0;
      };
      std::vector<Reader> readers(workers.size());
      auto drain = [&](Worker& wk, Reader& rd) {
        if (!rd.in.is_open()) rd.in.open(wk.file);
        char buf[4096];
        rd.in.clear();
        while (rd.in.read(buf, sizeof buf) || rd.in.gcount() > 0) {
          rd.partial.append(buf, static_cast<std::size_t>(rd.in.gcount()));
        }
        std::size_t nl;
        while ((nl = rd.partial.find('\n')) != std::string::npos) {
          const std::string line = rd.partial.substr(0, nl);
          rd.partial.erase(0, nl + 1);
          if (line.starts_with("start ")) {
            rd.started_seed = std::stoull(line.substr(6));
            rd.open = true;
            continue;
          }
          account(json::parse(line));
          rd.open = false;
          ++rd.done;
        }
      };
      std::size_t running = 0;
      for (const Worker& wk : workers)
        running += wk.seeds.empty() ? 0u : 1u;
      while (running > 0) {
        for (std::size_t w = 0; w < workers.size(); ++w) {
          Worker& wk = workers[w];
          Reader& rd = readers[w];
          if (wk.seeds.empty() || rd.exited) continue;
          const bool exited = ::waitpid(wk.pid, &rd.status, WNOHANG) == wk.pid;
          drain(wk, rd);
          if (!exited) continue;
          rd.exited = true;
          --running;
          ::unlink(wk.file.c_str());
          if (rd.open) {  // it died running this seed
            const int status = rd.status;
            json r;
            r["seed"] = rd.started_seed;
            r["scenario"] = a.scenario.empty() ? "swarm" : a.scenario;
            r["verdict"] = "crash";
            r["crash"] = WIFSIGNALED(status)
                             ? "killed by signal " + std::to_string(WTERMSIG(status))
                             : "exited with " + std::to_string(WEXITSTATUS(status));
            r["mode"] = "";
            r["counts"] = json::object();
            r["findings"] = json::array();
            r["simulated_s"] = 0.0;
            r["replay"] = "assay sim " + (a.scenario.empty() ? "" : a.scenario + " ") + "--seed " +
                          std::to_string(rd.started_seed);
            account(std::move(r));
            ++rd.done;
          }
          // The seeds it did not reach go to the next round.
          for (std::size_t i = rd.done; i < wk.seeds.size(); ++i)
            todo.push_back(wk.seeds[i]);
        }
        if (running > 0) ::usleep(50'000);
      }
    }
  }
  if (!a.quiet) std::fputc('\n', stderr);
  std::sort(results.begin(), results.end(),
            [](const json& x, const json& y) { return x["seed"] < y["seed"]; });
  return results;
}

int write_file(const std::string& path, const std::string& text, const char* what) {
  std::ofstream out(path);
  out << text;
  if (!out) {
    std::cerr << "assay sim: cannot write the " << what << " to '" << path << "'\n";
    return 2;
  }
  return 0;
}

int run_sim(const SimArgs& a) {
  std::uint64_t from = 0;
  std::uint64_t to = 0;
  if (!a.seeds.empty()) {
    const auto range = sim::parse_seed_range(a.seeds);
    if (!range) {
      std::cerr << "assay sim: --seeds " << a.seeds << ": not a seed or a range A-B\n";
      return 2;
    }
    std::tie(from, to) = *range;
  } else {
    const auto seed = sim::parse_seed(a.seed);
    if (!seed) {
      std::cerr << "assay sim: --seed " << a.seed
                << ": not a number, 0x-hex, or a 40-digit commit hash\n";
      return 2;
    }
    from = to = *seed;
  }
  if (a.durable && a.volatile_) {
    std::cerr << "assay sim: --durable and --volatile: give one\n";
    return 2;
  }
  try {
    const sim::Scenario s = scenario_for(a, from);  // one that does not load: a usage error, once
    if (a.print_scenario) {
      // A swarm seed's world (or the file, every default written) as a file to edit and run.
      if (from != to) {
        std::cerr << "assay sim: --print-scenario prints one seed's scenario: give --seed\n";
        return 2;
      }
      std::cout << sim::write_scenario(s);
      return 0;
    }
  } catch (const sim::ScenarioError& e) {
    std::cerr << "assay sim: " << e.what() << '\n';
    return 2;
  }
  if (a.scenario.empty() && !a.quiet) {
    // Swarm: the options the seed chose come first.
    const sim::Scenario s = sim::swarm(from);
    std::cerr << "swarm mode: each seed makes its own scenario (seed " << from << ": "
              << s.devices.size() << " device classes, " << s.subscribers.size()
              << " subscriber classes, " << s.stages.size() << " faults, broker "
              << (s.brokers[0].durable ? "durable" : "volatile") << ", Receive Maximum "
              << s.brokers[0].receive_maximum << ")\n";
  }
  if (a.check_determinism) {
    int status = 0;
    for (std::uint64_t seed = from; seed <= to; ++seed) {
      const json r1 = run_one(a, seed, nullptr, false);
      const json r2 = run_one(a, seed, nullptr, false);
      const bool same = r1["trace_hash"] == r2["trace_hash"];
      std::cout << "seed " << seed << ": " << (same ? "deterministic" : "NOT deterministic")
                << " (trace hash " << r1["trace_hash"].get<std::uint64_t>() << ")\n";
      if (!same) status = static_cast<int>(Verdict::crash);
    }
    return status;
  }
  if (from == to) {
    std::ofstream trace_file;
    std::ostream* trace = nullptr;
    if (a.trace == "-") {
      trace = &std::cout;
    } else if (!a.trace.empty()) {
      trace_file.open(a.trace);
      if (!trace_file) {
        std::cerr << "assay sim: cannot write the trace to '" << a.trace << "'\n";
        return 2;
      }
      trace = &trace_file;
    }
    const json r = run_one(a, from, trace, !a.html.empty() || !a.report.empty());
    print_run(r, r["replay"].get<std::string>(), true);
    if (!a.report.empty()) {
      if (const int e = write_file(a.report, r.dump(2) + "\n", "report")) return e;
    }
    if (!a.html.empty()) {
      if (const int e = write_file(a.html, sim::html_report(r), "page")) return e;
    }
    return static_cast<int>(verdict_named(r["verdict"].get<std::string>()));
  }
  if (!a.trace.empty() || !a.html.empty()) {
    std::cerr << "assay sim: --trace and --html are for one seed (--seed); replay a failing one\n";
    return 2;
  }
  const std::vector<json> runs = run_range(a, from, to);
  const json summary = summary_of(runs, a.scenario);
  for (const json& r : runs) {
    if (r["verdict"] != "ok") print_run(r, r["replay"].get<std::string>(), true);
  }
  std::cout << runs.size() << " seeds: " << summary["failures"].size() << " failed ("
            << counts_line(summary["counts"]) << ")\n";
  if (!a.report.empty()) {
    if (const int e = write_file(a.report, summary.dump(2) + "\n", "report")) return e;
  }
  return static_cast<int>(verdict_named(summary["verdict"].get<std::string>()));
}

int merge(const SimArgs& a) {
  std::vector<json> runs;
  std::string scenario;
  for (const std::string& path : a.merge_inputs) {
    std::ifstream in(path);
    if (!in) {
      std::cerr << "assay sim merge: cannot read '" << path << "'\n";
      return 2;
    }
    json j;
    try {
      j = json::parse(in);
    } catch (const json::exception& e) {
      std::cerr << "assay sim merge: '" << path << "' is not a report: " << e.what() << '\n';
      return 2;
    }
    if (!j.contains("runs") || !j["runs"].is_array()) {
      std::cerr << "assay sim merge: '" << path
                << "' has no \"runs\" (write it with --seeds and --report)\n";
      return 2;
    }
    for (const json& r : j["runs"])
      runs.push_back(r);
    scenario = j.value("scenario", scenario);
  }
  std::sort(runs.begin(), runs.end(),
            [](const json& x, const json& y) { return x["seed"] < y["seed"]; });
  const json summary = summary_of(runs, scenario == "swarm" ? "" : scenario);
  std::cout << runs.size() << " seeds: " << summary["failures"].size() << " failed ("
            << counts_line(summary["counts"]) << ")\n";
  if (!a.merge_output.empty()) {
    if (const int e = write_file(a.merge_output, summary.dump(2) + "\n", "merged report")) return e;
  }
  return static_cast<int>(verdict_named(summary["verdict"].get<std::string>()));
}

}  // namespace

void add_sim_command(CLI::App& app) {
  auto a = std::make_shared<SimArgs>();
  CLI::App* cmd = app.add_subcommand(
      "sim",
      "Simulate a fleet deterministically (virtual time, the real broker and client engines, "
      "faults) and check MQTT's guarantees held; see docs/simulator.md");
  cmd->add_option("scenario", a->scenario,
                  "Scenario file (JSON; examples/scenarios/); none: swarm mode, the seed makes "
                  "the scenario");
  cmd->add_option("--seed", a->seed,
                  "The seed: a number, 0x-hex, or a 40-digit commit hash (default 1)");
  cmd->add_option("--seeds", a->seeds,
                  "A range of seeds A-B, run one after another or over --jobs");
  cmd->add_option("-j,--jobs", a->jobs, "Processes for a --seeds range")->check(CLI::Range(1, 256));
  cmd->add_option("--trace", a->trace,
                  "Write every event of the run as text to FILE (- for stdout)");
  cmd->add_option("--report", a->report, "Write the report as JSON to FILE");
  cmd->add_option("--html", a->html, "Write a self-contained report page to FILE");
  cmd->add_flag("--check-determinism", a->check_determinism,
                "Run each seed twice and compare the traces' hashes");
  cmd->add_flag("--durable", a->durable, "Hold brokers to durable state across crashes");
  cmd->add_flag("--volatile", a->volatile_,
                "A broker crash may lose sessions (the default unless every broker is durable)");
  cmd->add_flag("--no-wire", a->no_wire, "Skip decoding the wire (faster; no S5/S6/S7/S17 checks)");
  cmd->add_flag("--quiet", a->quiet, "No progress line");
  cmd->add_flag("--print-scenario", a->print_scenario,
                "Print the scenario as JSON and exit (swarm mode: the world the seed draws, as a "
                "file assay sim runs)");
  cmd->callback([cmd, a] {
    if (cmd->got_subcommand("merge")) return;
    const int status = run_sim(*a);
    if (status != 0) throw CLI::RuntimeError(status);
  });
  CLI::App* m = cmd->add_subcommand("merge", "Merge the --report files of seed ranges run apart");
  m->add_option("reports", a->merge_inputs, "Report files (JSON)")->required();
  m->add_option("-o,--output", a->merge_output, "Write the merged report to FILE");
  m->callback([a] {
    const int status = merge(*a);
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace assay::tools
