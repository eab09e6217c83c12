// Case registry, selection, the capability probe and the runner.
#include <fnmatch.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "assay/conformance/suite.hpp"

namespace assay::conformance {

using namespace mqtt;

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::passed:
      return "pass";
    case Verdict::failed:
      return "FAIL";
    case Verdict::not_applicable:
      return "n/a";
  }
  return "?";
}

std::string Case::id() const {
  return std::string(version == Version::v5 ? "5.0/" : "3.1.1/") + name;
}

void add_case(std::vector<Case>& out, std::string section, std::string name, std::string title,
              std::vector<std::string> v3_1_1_statements, std::vector<std::string> v5_statements,
              std::function<void(Context&)> body) {
  if (!v3_1_1_statements.empty() || v5_statements.empty()) {
    out.push_back({name, section, title, Version::v3_1_1, std::move(v3_1_1_statements), body});
  }
  if (!v5_statements.empty()) {
    out.push_back({name, section, title, Version::v5, std::move(v5_statements), body});
  }
}

std::vector<Case> all_cases() {
  std::vector<Case> out;
  cases::connect(out);
  cases::session(out);
  cases::publish(out);
  cases::subscribe(out);
  cases::v5_features(out);
  cases::auth(out);
  cases::stream(out);
  cases::malformed(out);
  cases::stress(out);
  return out;
}

namespace {

bool glob(const std::string& pattern, const std::string& text) {
  return fnmatch(pattern.c_str(), text.c_str(), 0) == 0;
}

bool matches(const std::string& pattern, const Case& c) {
  if (glob(pattern, c.id()) || glob(pattern, c.name) || glob(pattern, c.section)) return true;
  for (const std::string& s : c.statements) {
    if (glob(pattern, s)) return true;
    if (s.rfind("MQTT-", 0) == 0 && glob(pattern, s.substr(5))) return true;
  }
  return false;
}

std::string random_token() {
  static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device rd;
  std::string t;
  for (int i = 0; i < 6; ++i)
    t += alphabet[rd() % (sizeof alphabet - 1)];
  return t;
}

// Connects in one version and reads the CONNACK. Without one: `why`, and
// whether the broker said it does not offer the version (`unsupported`).
std::optional<Connack> try_connect(Network& net, const Options& options, Version v,
                                   const std::string& id, std::string& why, bool& unsupported) {
  Capabilities none;
  std::vector<TraceLine> trace;
  Context ctx(net, options, none, v, id, trace);
  try {
    Peer& p = ctx.peer("probe");
    Connack ack = p.connect(ctx.connect_packet(id + "p", true));
    if (ack.reason_code == ReasonCode::success) {
      p.disconnect();
      return ack;
    }
    unsupported = ack.reason_code == ReasonCode::unsupported_protocol_version;
    why = std::string(to_string(v)) + ": CONNACK " +
          std::string(name(ack.reason_code, PacketType::connack)) + " (" +
          std::to_string(static_cast<unsigned>(ack.reason_code)) + ")";
  } catch (const Failure& f) {
    why = std::string(to_string(v)) + ": " + f.what();
  } catch (const NetworkError& e) {
    why = std::string(to_string(v)) + ": network: " + e.what();
  }
  ctx.cleanup();
  return std::nullopt;
}

}  // namespace

bool selected(const Case& c, const Options& options) {
  if (c.version == Version::v5 ? !options.v5 : !options.v3_1_1) return false;
  if (!options.only.empty() && std::none_of(options.only.begin(), options.only.end(),
                                            [&](const std::string& p) { return matches(p, c); })) {
    return false;
  }
  return std::none_of(options.exclude.begin(), options.exclude.end(),
                      [&](const std::string& p) { return matches(p, c); });
}

Capabilities probe(Network& net, const Options& options) {
  Capabilities caps;
  const std::string token = options.token.empty() ? random_token() : options.token;
  if (auto ack =
          try_connect(net, options, Version::v5, token + "x5", caps.v5_why, caps.v5_unsupported)) {
    caps.v5 = true;
    const Properties& p = ack->properties;
    if (auto q = p.integer(PropertyId::maximum_qos)) caps.maximum_qos = static_cast<QoS>(*q);
    if (auto r = p.integer(PropertyId::retain_available)) caps.retain_available = *r != 0;
    if (auto w = p.integer(PropertyId::wildcard_subscription_available)) {
      caps.wildcard_available = *w != 0;
    }
    if (auto s = p.integer(PropertyId::shared_subscription_available)) {
      caps.shared_available = *s != 0;
    }
    if (auto s = p.integer(PropertyId::subscription_identifier_available)) {
      caps.subscription_ids_available = *s != 0;
    }
    if (auto t = p.integer(PropertyId::topic_alias_maximum)) {
      caps.topic_alias_maximum = static_cast<std::uint16_t>(*t);
    }
    if (auto m = p.integer(PropertyId::maximum_packet_size)) caps.maximum_packet_size = *m;
    if (auto r = p.integer(PropertyId::receive_maximum)) {
      caps.receive_maximum = static_cast<std::uint16_t>(*r);
    }
    if (auto k = p.integer(PropertyId::server_keep_alive)) {
      caps.server_keep_alive = static_cast<std::uint16_t>(*k);
    }
  }
  if (try_connect(net, options, Version::v3_1_1, token + "x3", caps.v3_1_1_why,
                  caps.v3_1_1_unsupported)) {
    caps.v3_1_1 = true;
  }
  if (!caps.v5 && !caps.v3_1_1) caps.refused_why = caps.v5_why + "; " + caps.v3_1_1_why;
  return caps;
}

std::size_t Report::count(Verdict v) const {
  return static_cast<std::size_t>(std::count_if(
      results.begin(), results.end(), [v](const CaseResult& r) { return r.verdict == v; }));
}

Report run_suite(Network& net, const Options& options,
                 const std::function<void(const CaseResult&)>& progress) {
  static const std::vector<Case> registry = all_cases();
  Options opts = options;
  if (opts.token.empty()) opts.token = random_token();

  Report report;
  report.target = net.describe();
  report.capabilities = probe(net, opts);
  const Capabilities& caps = report.capabilities;

  unsigned number = 0;
  for (const Case& c : registry) {
    if (!selected(c, opts)) continue;
    ++number;
    CaseResult r;
    r.test = &c;
    const auto wall_start = std::chrono::steady_clock::now();
    const bool v5 = c.version == Version::v5;
    if (!(v5 ? caps.v5 : caps.v3_1_1)) {
      // Not applicable only when the broker said it does not offer the
      // version; a broker that answered no CONNECT of it fails its cases.
      const bool announced = v5 ? caps.v5_unsupported : caps.v3_1_1_unsupported;
      const std::string& why = v5 ? caps.v5_why : caps.v3_1_1_why;
      const std::string version(mqtt::to_string(c.version));
      r.verdict = announced ? Verdict::not_applicable : Verdict::failed;
      r.message = (announced ? "the broker does not accept MQTT " + version
                             : "the broker accepted no MQTT " + version + " CONNECT") +
                  (why.empty() ? "" : " (" + why + ")");
    } else {
      Context ctx(net, opts, caps, c.version, opts.token + std::to_string(number), r.trace);
      try {
        c.body(ctx);
        r.verdict = Verdict::passed;
        r.message = ctx.note();
      } catch (const NotApplicable& e) {
        r.verdict = Verdict::not_applicable;
        r.message = e.what();
      } catch (const Failure& e) {
        r.verdict = Verdict::failed;
        r.message = e.what();
      } catch (const NetworkError& e) {
        r.verdict = Verdict::failed;
        r.message = std::string("network: ") + e.what();
      } catch (const mqtt::EncodeError& e) {
        r.verdict = Verdict::failed;
        r.message = std::string("the case built a packet it cannot encode: ") + e.what();
      }
      ctx.cleanup();
    }
    r.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    if (r.verdict != Verdict::failed) r.trace.clear();
    report.results.push_back(std::move(r));
    if (progress) progress(report.results.back());
  }
  return report;
}

}  // namespace assay::conformance
