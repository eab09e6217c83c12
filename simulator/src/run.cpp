// A run: the World, its checkers, and a recorder that writes the trace as
// text (when asked), hashes it, keeps the last lines for the findings'
// windows, and gathers the report page's figures.
#include "assay/sim/run.hpp"

#include <charconv>
#include <cstdio>
#include <exception>

namespace assay::sim {

std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::ok:
      return "ok";
    case Verdict::correctness:
      return "correctness";
    case Verdict::usage:
      return "usage";
    case Verdict::liveness:
      return "liveness";
    case Verdict::crash:
      return "crash";
  }
  return "?";
}

namespace {

// The time in seconds as "%10.6f" prints it, in integers: every event of a
// run is formatted, so this is on the hot path.
std::string seconds(Nanos t) {
  const auto us = static_cast<std::uint64_t>(t < 0 ? 0 : (t + 500) / 1000);  // rounded as %f
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, us / 1'000'000).ptr;
  std::string out(digits, end);
  out += '.';
  const std::string frac = std::to_string(us % 1'000'000);
  out.append(6 - frac.size(), '0').append(frac);
  if (out.size() < 10) out.insert(0, 10 - out.size(), ' ');
  return out;
}

std::string qos(mqtt::QoS q) {
  return "qos" + std::to_string(static_cast<int>(q));
}

std::string packet_detail(const mqtt::Packet& p) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, mqtt::Publish>) {
          return " " + x.topic + " q" + std::to_string(static_cast<int>(x.qos)) + " id " +
                 std::to_string(x.packet_id) + (x.dup ? " dup" : "") + (x.retain ? " retain" : "");
        } else if constexpr (requires { x.packet_id; }) {
          return " id " + std::to_string(x.packet_id);
        } else if constexpr (std::is_same_v<T, mqtt::Connack>) {
          return std::string(x.session_present ? " session present" : "") + " rc " +
                 std::to_string(static_cast<unsigned>(x.reason_code));
        } else {
          return "";
        }
      },
      p);
}

class Recorder final : public Observer {
 public:
  Recorder(const World& w, Report& r, const RunOptions& o) : world_(w), report_(r), options_(o) {}

  void on(Nanos t, std::uint64_t seq, const trace::Event& e) override {
    account(t, e);
    hash(t, seq, e);
    if (options_.trace != nullptr) *options_.trace << line(t, e) << '\n';
    // The window: a ring of the last events, formatted only when a finding
    // asks for them (most runs never do).
    if (options_.window > 0) {
      if (window_.size() < options_.window) {
        window_.emplace_back(t, e);
      } else {
        window_[next_] = {t, e};
      }
      next_ = (next_ + 1) % options_.window;
    }
    last_seq_ = seq;
  }
  std::uint64_t hash() const { return hash_; }
  std::vector<std::string> window() const {
    std::vector<std::string> out;
    const std::size_t n = window_.size();
    const std::size_t first = n < options_.window ? 0 : next_;
    for (std::size_t i = 0; i < n; ++i) {
      const auto& [t, e] = window_[(first + i) % n];
      out.push_back(line(t, e));
    }
    return out;
  }

  void close_spans(Nanos end) {
    for (auto& [c, i] : open_) {
      (void)c;
      report_.connections[i].to = end;
    }
  }

 private:
  std::string describe(const trace::Event& e) const {
    return std::visit(
        [&](const auto& x) -> std::string {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, trace::Publish>) {
            return name(x.client) + " publish " + message_tag(x.msg) + " " + x.topic + " " +
                   qos(x.qos) + (x.retain ? " retain" : "");
          } else if constexpr (std::is_same_v<T, trace::PublishDone>) {
            return name(x.client) + " done " + message_tag(x.msg) + " " +
                   (x.outcome == client::Outcome::acknowledged ? "ok" : "failed") + " rc " +
                   std::to_string(static_cast<unsigned>(x.reason_code));
          } else if constexpr (std::is_same_v<T, trace::Deliver>) {
            return name(x.client) + " deliver " + message_tag(x.msg) + " " + x.topic + " " +
                   qos(x.qos) + (x.retain ? " retain" : "") + (x.dup ? " dup" : "");
          } else if constexpr (std::is_same_v<T, trace::Subscribed>) {
            return name(x.client) + " subscribed " + x.filter + " " +
                   (x.refused ? "refused" : qos(x.granted));
          } else if constexpr (std::is_same_v<T, trace::Connecting>) {
            return name(x.client) + " opens link " + std::to_string(x.link) +
                   (x.will != 0 ? " (Will " + message_tag(x.will) + ")" : "");
          } else if constexpr (std::is_same_v<T, trace::Connected>) {
            return name(x.client) + " connected link " + std::to_string(x.link) +
                   (x.resumed ? " resumed" : " new session") + (x.clean_start ? " clean" : "");
          } else if constexpr (std::is_same_v<T, trace::Lost>) {
            return name(x.client) + " lost link " + std::to_string(x.link) + " " +
                   std::string(client::to_string(x.cause)) +
                   (x.reason_code ? " rc " + std::to_string(static_cast<unsigned>(*x.reason_code))
                                  : "");
          } else if constexpr (std::is_same_v<T, trace::Violation>) {
            return name(x.client) + " VIOLATION " + x.detail;
          } else if constexpr (std::is_same_v<T, trace::BrokerCrash>) {
            return "broker " + world_.broker_spec(x.broker).name + " crashes";
          } else if constexpr (std::is_same_v<T, trace::BrokerRestart>) {
            return "broker " + world_.broker_spec(x.broker).name + " restarts" +
                   (x.durable ? " from its store" : " empty");
          } else if constexpr (std::is_same_v<T, trace::ClientCrash>) {
            return name(x.client) + " crashes" +
                   (x.durable_store ? " (its store survives)" : " (no store)");
          } else if constexpr (std::is_same_v<T, trace::ClientRestart>) {
            return name(x.client) + " restarts";
          } else if constexpr (std::is_same_v<T, trace::Packet>) {
            return name(x.client) + (x.to_broker ? " > " : " < ") +
                   std::string(mqtt::to_string(mqtt::type_of(x.packet))) + packet_detail(x.packet);
          } else if constexpr (std::is_same_v<T, trace::Dropped>) {
            static constexpr const char* why[] = {"its queue is full", "QoS 0 while offline",
                                                  "its session ended"};
            return "broker " + world_.broker_spec(x.broker).name + " drops " + message_tag(x.msg) +
                   " for " + name(x.client) + ": " + why[static_cast<int>(x.why)];
          } else if constexpr (std::is_same_v<T, trace::Unheard>) {
            return name(x.client) + " link " + std::to_string(x.link) +
                   ": the broker closed it before reading all it was sent";
          } else if constexpr (std::is_same_v<T, trace::Fault>) {
            return "fault: " + x.what;
          } else {
            return "heal: every fault ends; the liveness phase begins";
          }
        },
        e);
  }
  std::string line(Nanos t, const trace::Event& e) const { return seconds(t) + "  " + describe(e); }

  // What the report keeps of each event: latencies, deliveries per second,
  // connection spans, faults for the timeline.
  void account(Nanos t, const trace::Event& e) {
    if (const auto* p = std::get_if<trace::Publish>(&e)) {
      if (invoked_.size() < p->msg) invoked_.resize(p->msg, -1);
      invoked_[p->msg - 1] = t;
    } else if (const auto* x = std::get_if<trace::Deliver>(&e)) {
      const auto second = static_cast<std::size_t>(t / ns_per_s);
      if (report_.deliveries_per_s.size() <= second) report_.deliveries_per_s.resize(second + 1);
      ++report_.deliveries_per_s[second];
      if (x->msg > 0 && x->msg <= invoked_.size() && invoked_[x->msg - 1] >= 0 && !x->retain) {
        auto& l = report_.latency_us[static_cast<int>(x->qos)];
        if (l.size() < 200000)
          l.push_back(static_cast<std::uint32_t>((t - invoked_[x->msg - 1]) / 1000));
      }
    } else if (const auto* c = std::get_if<trace::Connected>(&e)) {
      open_[c->client] = report_.connections.size();
      report_.connections.push_back(Report::Span{world_.client_name(c->client), t, -1});
    } else if (const auto* l = std::get_if<trace::Lost>(&e)) {
      close(l->client, t);
    } else if (const auto* bc = std::get_if<trace::BrokerCrash>(&e)) {
      mark(t, "broker " + world_.broker_spec(bc->broker).name + " crashes");
    } else if (const auto* br = std::get_if<trace::BrokerRestart>(&e)) {
      mark(t, "broker " + world_.broker_spec(br->broker).name + " restarts");
    } else if (const auto* cc = std::get_if<trace::ClientCrash>(&e)) {
      close(cc->client, t);
      mark(t, world_.client_name(cc->client) + " crashes");
    } else if (const auto* f = std::get_if<trace::Fault>(&e)) {
      mark(t, f->what);
    } else if (std::holds_alternative<trace::Heal>(e)) {
      mark(t, "heal");
    }
  }

  // The run's fingerprint (FNV-1a): the events that come by the hundred
  // thousand by their fields, the others by their text, which says all
  // of them.
  void hash(Nanos t, std::uint64_t seq, const trace::Event& e) {
    const auto add = [this](std::uint64_t v) {
      for (int i = 0; i < 8; ++i, v >>= 8) {
        hash_ ^= v & 0xFF;
        hash_ *= 0x100000001b3ULL;
      }
    };
    const auto add_text = [this](std::string_view text) {
      for (const char c : text) {
        hash_ ^= static_cast<unsigned char>(c);
        hash_ *= 0x100000001b3ULL;
      }
    };
    add(static_cast<std::uint64_t>(t));
    add(seq);
    add(e.index());
    if (const auto* p = std::get_if<trace::Packet>(&e)) {
      add(p->client);
      add(p->link);
      add(p->to_broker ? 1 : 0);
      add(static_cast<std::uint64_t>(mqtt::type_of(p->packet)));
      std::visit(
          [&](const auto& x) {
            if constexpr (requires { x.packet_id; }) add(x.packet_id);
            if constexpr (std::is_same_v<std::decay_t<decltype(x)>, mqtt::Publish>) {
              add(static_cast<std::uint64_t>(x.qos) | (x.dup ? 4u : 0u) | (x.retain ? 8u : 0u));
              add_text(x.topic);
              add(x.payload.size());
            }
          },
          p->packet);
    } else if (const auto* d = std::get_if<trace::Deliver>(&e)) {
      add(d->client);
      add(d->msg);
      add(static_cast<std::uint64_t>(d->qos) | (d->dup ? 4u : 0u) | (d->retain ? 8u : 0u));
      add_text(d->topic);
    } else if (const auto* pu = std::get_if<trace::Publish>(&e)) {
      add(pu->client);
      add(pu->msg);
      add(static_cast<std::uint64_t>(pu->qos) | (pu->retain ? 8u : 0u));
    } else if (const auto* pd = std::get_if<trace::PublishDone>(&e)) {
      add(pd->client);
      add(pd->msg);
      add(static_cast<std::uint64_t>(pd->outcome));
      add(static_cast<std::uint64_t>(pd->reason_code));
    } else {
      add_text(describe(e));
    }
  }
  std::string name(ClientIndex c) const { return world_.client_name(c); }
  void close(ClientIndex c, Nanos t) {
    const auto it = open_.find(c);
    if (it == open_.end()) return;
    report_.connections[it->second].to = t;
    open_.erase(it);
  }
  void mark(Nanos t, std::string what) {
    if (report_.faults.size() < 10000) report_.faults.push_back(Report::Mark{t, std::move(what)});
  }

  const World& world_;
  Report& report_;
  const RunOptions& options_;
  std::uint64_t hash_ = 0xcbf29ce484222325ULL;
  std::uint64_t last_seq_ = 0;
  std::vector<std::pair<Nanos, trace::Event>> window_;
  std::size_t next_ = 0;  // where the next event goes once the ring is full
  std::vector<Nanos> invoked_;
  std::map<ClientIndex, std::size_t> open_;
};

// Keeps, for each finding, the trace lines up to the event that showed it.
class Windows final : public Observer {
 public:
  Windows(const std::vector<std::unique_ptr<Checker>>& checkers, const Recorder& recorder,
          Report& report)
      : checkers_(checkers), recorder_(recorder), report_(report) {}
  void on(Nanos, std::uint64_t, const trace::Event&) override {
    seen_.resize(checkers_.size());
    for (std::size_t i = 0; i < checkers_.size(); ++i) {
      const auto& f = checkers_[i]->findings();
      std::size_t& seen = seen_[i];
      while (seen < f.size()) {
        if (report_.findings.size() < 10) {
          report_.findings.push_back(Report::Found{f[seen], recorder_.window()});
        }
        ++seen;
      }
    }
  }

 private:
  const std::vector<std::unique_ptr<Checker>>& checkers_;
  const Recorder& recorder_;
  Report& report_;
  std::vector<std::size_t> seen_;  // findings taken, by checker
};

}  // namespace

Report run(const Scenario& scenario, std::uint64_t seed, const RunOptions& options) {
  Report r;
  r.seed = seed;
  r.scenario = scenario.name;
  bool all_durable = !scenario.brokers.empty();
  for (const BrokerSpec& b : scenario.brokers)
    all_durable = all_durable && b.durable;
  r.mode = options.mode.value_or(all_durable ? Durability::durable : Durability::volatile_);
  std::unique_ptr<World> made;
  try {
    made = std::make_unique<World>(scenario, seed);
  } catch (const std::exception& e) {  // an engine refused its configuration
    r.verdict = Verdict::crash;
    r.crash = std::string("building the world: ") + e.what();
    return r;
  }
  World& world = *made;
  world.set_wire_trace(options.wire);
  Recorder recorder(world, r, options);
  world.add_observer(&recorder);
  auto checkers = make_checkers(world, r.mode);
  Windows windows(checkers, recorder, r);
  world.add_observer(&windows);
  try {
    world.run();
    for (auto& c : checkers)
      c->finish();
    windows.on(world.now(), 0, trace::Heal{});  // the liveness findings, with the last window
  } catch (const std::exception& e) {
    r.verdict = Verdict::crash;
    r.crash = e.what();
  }
  recorder.close_spans(world.now());
  r.trace_hash = recorder.hash();
  r.stats = world.stats();
  r.simulated = world.now();
  bool safety = false;
  bool liveness = false;
  for (const auto& c : checkers) {
    for (const auto& [k, v] : c->counts())
      r.counts[k] += v;
    for (const Finding& f : c->findings())
      (f.liveness ? liveness : safety) = true;
  }
  if (r.verdict != Verdict::crash) {
    r.verdict = safety ? Verdict::correctness : liveness ? Verdict::liveness : Verdict::ok;
  }
  return r;
}

nlohmann::ordered_json to_json(const Report& r, bool with_figures) {
  nlohmann::ordered_json j;
  j["seed"] = r.seed;
  j["scenario"] = r.scenario;
  j["verdict"] = to_string(r.verdict);
  if (!r.crash.empty()) j["crash"] = r.crash;
  j["mode"] = r.mode == Durability::durable ? "durable" : "volatile";
  j["trace_hash"] = r.trace_hash;
  j["simulated_s"] = static_cast<double>(r.simulated) / 1e9;
  j["counts"] = r.counts;
  j["stats"] = {{"events", r.stats.events},       {"published", r.stats.published},
                {"delivered", r.stats.delivered}, {"connections", r.stats.connections},
                {"bytes", r.stats.bytes},         {"faults", r.stats.faults}};
  auto& f = j["findings"] = nlohmann::ordered_json::array();
  for (const auto& x : r.findings) {
    f.push_back({{"checker", x.finding.checker},
                 {"invariant", x.finding.invariant},
                 {"statement", x.finding.statement},
                 {"detail", x.finding.detail},
                 {"t_s", static_cast<double>(x.finding.t) / 1e9},
                 {"liveness", x.finding.liveness},
                 {"window", x.window}});
  }
  if (with_figures) {
    j["deliveries_per_s"] = r.deliveries_per_s;
    auto& lat = j["latency_us"] = nlohmann::ordered_json::object();
    for (const auto& [q, v] : r.latency_us)
      lat[std::to_string(q)] = v;
    auto& conns = j["connections"] = nlohmann::ordered_json::array();
    for (const auto& s : r.connections) {
      conns.push_back({{"client", s.client},
                       {"from_s", static_cast<double>(s.from) / 1e9},
                       {"to_s", static_cast<double>(s.to) / 1e9}});
    }
    auto& faults = j["faults"] = nlohmann::ordered_json::array();
    for (const auto& m : r.faults)
      faults.push_back({{"t_s", static_cast<double>(m.t) / 1e9}, {"what", m.what}});
  }
  return j;
}

std::string replay_command(const Report& r, const std::string& scenario_file) {
  return "assay sim " + (scenario_file.empty() ? std::string() : scenario_file + " ") + "--seed " +
         std::to_string(r.seed);
}

}  // namespace assay::sim
