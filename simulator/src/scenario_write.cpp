// Scenario files written: write_scenario() gives the JSON text that
// parse_scenario() reads back into the same scenario, every key written
// (so a file says everything the run used, defaults included). A swarm
// seed's world, or a case the property tests shrank, becomes a file that
// `assay sim` replays and a person can edit.
#include <nlohmann/json.hpp>

#include "assay/sim/scenario.hpp"
#include "scenario_fields.hpp"
#include "scenario_names.hpp"

namespace assay::sim {

namespace {

using namespace scenario_detail;
using ordered = nlohmann::ordered_json;

std::string version_name(mqtt::Version v) {
  return v == mqtt::Version::v5 ? "5" : "3.1.1";
}

ordered link_json(const LinkProfile& l) {
  return {{"latency", show(l.latency)},
          {"jitter", show(l.jitter)},
          {"bandwidth", l.bandwidth_bytes_per_s},
          {"max_chunk", l.max_chunk}};
}

ordered process_json(const Process& p) {
  using K = Process::Kind;
  ordered o{{"kind", name_of(process_kinds, p.kind)}};
  switch (p.kind) {
    case K::fixed:
      o["interval"] = show(p.interval);
      break;
    case K::uniform:
      o["min"] = show(p.min);
      o["max"] = show(p.max);
      break;
    case K::normal:
      o["mean"] = show(p.mean);
      o["sd"] = show(p.sd);
      break;
    case K::exponential:
      o["mean"] = show(p.mean);
      break;
    case K::poisson:
      o["rate"] = p.rate;
      break;
    case K::bursts:
      o["burst"] = p.burst;
      o["interval"] = show(p.interval);
      o["gap"] = show(p.gap);
      break;
  }
  return o;
}

ordered values_json(const Values& v) {
  using K = Values::Kind;
  ordered o{{"kind", name_of(value_kinds, v.kind)}};
  switch (v.kind) {
    case K::constant:
      o["start"] = v.start;
      break;
    case K::random_walk:
      o["start"] = v.start;
      o["step"] = v.step;
      o["min"] = v.min;
      o["max"] = v.max;
      break;
    case K::sine:
      o["offset"] = v.offset;
      o["amplitude"] = v.amplitude;
      o["period"] = show(v.period);
      o["noise"] = v.noise;
      break;
    case K::csv:
      // By its absolute path: the file written may live elsewhere.
      o["file"] = std::filesystem::absolute(v.csv_file).string();
      break;
  }
  o["decimals"] = v.decimals;
  return o;
}

// The keys devices and subscribers share; the 5.0-only ones only in 5.0.
template <class Class>
ordered client_json(const Class& c) {
  ordered o{{"name", c.name},
            {"count", c.count},
            {"client_id", c.client_id},
            {"version", version_name(c.version)},
            {"qos", static_cast<int>(c.qos)},
            {"clean_start", c.clean_start}};
  if (c.version == mqtt::Version::v5) o["session_expiry"] = c.session_expiry_s;
  o["keep_alive"] = c.keep_alive_s;
  o["start"] = show(c.start);
  o["broker"] = c.broker;
  o["store"] = name_of(store_kinds, c.durable_store ? Store::durable : Store::none);
  return o;
}

ordered device_json(const DeviceClass& d) {
  ordered o = client_json(d);
  o["topic"] = d.topic;
  o["sites"] = d.sites;
  o["retain"] = d.retain;
  if (d.will) {
    ordered w{{"topic", d.will->topic},
              {"payload", d.will->payload},
              {"qos", static_cast<int>(d.will->qos)},
              {"retain", d.will->retain}};
    if (d.version == mqtt::Version::v5) w["delay"] = d.will->delay_s;
    o["will"] = w;
  }
  o["publish"] = process_json(d.publish);
  o["values"] = values_json(d.values);
  o["payload"] = d.payload;
  if (d.message_expiry_s && d.version == mqtt::Version::v5)
    o["message_expiry"] = *d.message_expiry_s;
  if (d.planted_bug != client::PlantedBug::none)
    o["planted_bug"] = name_of(client_bugs, d.planted_bug);
  return o;
}

ordered subscriber_json(const SubscriberClass& c) {
  ordered o = client_json(c);
  o["filters"] = c.filters;
  if (c.shared_group && c.version == mqtt::Version::v5) o["shared_group"] = *c.shared_group;
  o["read_bytes_per_s"] = c.read_bytes_per_s;
  return o;
}

ordered broker_json(const BrokerSpec& b) {
  ordered o{{"name", b.name},
            {"shards", b.shards},
            {"durable", b.durable},
            {"receive_maximum", b.receive_maximum},
            {"max_queued_messages", b.max_queued_messages},
            {"topic_alias_maximum", b.topic_alias_maximum}};
  if (b.server_keep_alive) o["server_keep_alive"] = *b.server_keep_alive;
  o["minimum_client_id_length"] = b.minimum_client_id_length;
  if (b.planted_bug != broker::PlantedBug::none)
    o["planted_bug"] = name_of(broker_bugs, b.planted_bug);
  return o;
}

// Every stage starts `at` its time: the file says when, whatever the order.
ordered stage_json(const Stage& st, const LinkProfile& network) {
  using K = Stage::Kind;
  ordered o{{"kind", name_of(stage_kinds, st.kind)}};
  if (!st.name.empty()) o["name"] = st.name;
  o["at"] = show(st.at);
  if (st.kind != K::steady) o["target"] = st.target;
  if (st.kind == K::reconnect_storm || st.kind == K::client_crash || st.kind == K::leave)
    o["fraction"] = st.fraction;
  if (st.kind != K::reconnect_storm && st.kind != K::leave) o["duration"] = show(st.duration);
  if (st.kind == K::client_crash) o["half_open"] = st.half_open;
  if (st.kind == K::degrade) o["profile"] = link_json(st.profile.value_or(network));
  if (st.kind == K::slow_consumer) o["read_bytes_per_s"] = st.read_bytes_per_s;
  return o;
}

}  // namespace

std::string write_scenario(const Scenario& s) {
  ordered o{{"name", s.name}, {"description", s.description}};
  o["duration"] = show(s.duration);
  o["heal"] = show(s.heal);
  o["network"] = link_json(s.network);
  o["brokers"] = ordered::array();
  for (const BrokerSpec& b : s.brokers)
    o["brokers"].push_back(broker_json(b));
  o["devices"] = ordered::array();
  for (const DeviceClass& d : s.devices)
    o["devices"].push_back(device_json(d));
  o["subscribers"] = ordered::array();
  for (const SubscriberClass& c : s.subscribers)
    o["subscribers"].push_back(subscriber_json(c));
  o["stages"] = ordered::array();
  for (const Stage& st : s.stages)
    o["stages"].push_back(stage_json(st, s.network));
  if (!s.buggify.empty()) o["buggify"] = s.buggify;
  return o.dump(2) + "\n";
}

}  // namespace assay::sim
