// Scenario files (docs/simulator.md, "Scenarios"): every error names
// file:line:column and the key's path, checked here exactly; a scenario
// with every key set parses into the expected structs; every example in
// examples/scenarios/ parses; render() fills templates.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "assay/sim/scenario.hpp"

using namespace assay;
using namespace assay::sim;

namespace {

// The message of the ScenarioError parsing `text` throws.
std::string error_of(std::string_view text, const std::string& file = "t.json") {
  try {
    parse_scenario(text, file);
  } catch (const ScenarioError& e) {
    return e.what();
  }
  return "(no error)";
}

// One device class with `keys` after its name: they start at column 28.
std::string device(const std::string& keys) {
  return R"({"devices": [{"name": "d", )" + keys + "}]}";
}

// One subscriber class with `keys` after its name: they start at column 32.
std::string subscriber(const std::string& keys) {
  return R"({"subscribers": [{"name": "b", )" + keys + "}]}";
}

// A 60 s scenario with device class d and subscriber class b, and these
// stages, the first on line 6 from column 5, the next on line 7...
std::string stages(std::initializer_list<std::string> each) {
  std::string out =
      "{\n  \"duration\": \"60s\",\n  \"devices\": [{\"name\": \"d\"}],\n"
      "  \"subscribers\": [{\"name\": \"b\"}],\n  \"stages\": [";
  const char* separator = "\n    ";
  for (const auto& stage : each) {
    out += separator + stage;
    separator = ",\n    ";
  }
  return out + "\n  ]\n}";
}

// A directory of its own for each test that writes files.
std::filesystem::path scratch() {
  const auto* info = testing::UnitTest::GetInstance()->current_test_info();
  const auto dir = std::filesystem::temp_directory_path() /
                   (std::string("assay-sim-") + info->test_suite_name() + "-" + info->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void write(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

}  // namespace

TEST(ScenarioSyntax, ErrorsPointAtTheTokenWithNlohmannsExplanation) {
  // A missing comma: at the start of the string that follows, not its end.
  EXPECT_EQ(error_of("{\n  \"name\": \"x\"\n  \"duration\": \"1s\"\n}"),
            "t.json:3:3: syntax error while parsing object - unexpected string literal; "
            "expected '}'");
  EXPECT_EQ(error_of(R"({"name": "x",})"),
            "t.json:1:14: syntax error while parsing object key - unexpected '}'; expected string "
            "literal");
  EXPECT_EQ(error_of(R"({"duration": tru})"),
            "t.json:1:14: syntax error while parsing value - invalid literal; last read: "
            "'\"duration\": tru}'");
  EXPECT_EQ(error_of(""),
            "t.json:1:1: syntax error while parsing value - unexpected end of input; expected '[', "
            "'{', or a literal");
  EXPECT_EQ(error_of("{\"name\": \"x\" // a comment\n}"),
            "t.json:1:14: syntax error while parsing object - invalid literal; last read: "
            "'\"x\" /'; expected '}'");
}

TEST(ScenarioSyntax, TheDocumentIsOneObjectWithoutRepeatedKeys) {
  EXPECT_EQ(error_of("[1]"), "t.json:1:1: must be a JSON object (a scenario), not an array");
  EXPECT_EQ(error_of("[1]", ""),
            "<scenario>:1:1: must be a JSON object (a scenario), not an array");
  EXPECT_EQ(error_of("{\"name\": \"a\",\n \"name\": \"b\"}"), "t.json:2:2: name: duplicate key");
  EXPECT_EQ(error_of(device(R"("qos": 1, "qos": 2)")),
            "t.json:1:38: devices[0].qos: duplicate key");
  const std::string deep = R"({"buggify": )" + std::string(70, '[') + std::string(70, ']') + "}";
  const std::string message = error_of(deep);
  EXPECT_TRUE(message.starts_with("t.json:1:76: buggify[0]")) << message;
  EXPECT_TRUE(message.ends_with("[0]: nested more than 64 levels deep")) << message;
}

TEST(ScenarioSyntax, ColumnsCountCharactersAndLoadNamesTheFile) {
  EXPECT_EQ(error_of(R"({"description": "Ünïcödé", "duration": -1})"),
            "t.json:1:40: duration: must not be negative");
  EXPECT_EQ(error_of("\xEF\xBB\xBF{\"duration\": -1}"),
            "t.json:1:14: duration: must not be negative");
  try {
    load_scenario("no/such/scenario.json");
    ADD_FAILURE() << "no error";
  } catch (const ScenarioError& e) {
    EXPECT_STREQ(e.what(), "no/such/scenario.json: cannot be read: No such file or directory");
  }
}

TEST(ScenarioKeys, UnknownKeysAreRefusedWithTheKeysAllowedThere) {
  EXPECT_EQ(error_of(R"({"nmae": "x"})"),
            "t.json:1:2: nmae: unknown key \"nmae\" in a scenario (did you mean \"name\"?); "
            "allowed: name, description, duration, heal, network, brokers, devices, subscribers, "
            "stages, buggify");
  EXPECT_EQ(error_of(device(R"("qso": 1)")),
            "t.json:1:28: devices[0].qso: unknown key \"qso\" in a device class (did you mean "
            "\"qos\"?); allowed: name, count, client_id, topic, sites, version, qos, retain, "
            "clean_start, session_expiry, keep_alive, will, publish, values, payload, "
            "message_expiry, start, broker, store, planted_bug");
  // The first unknown key in the document, not in nlohmann/json's order.
  EXPECT_EQ(error_of(subscriber(R"("zzz": 1, "aaa": 2)")),
            "t.json:1:32: subscribers[0].zzz: unknown key \"zzz\" in a subscriber class; allowed: "
            "name, count, client_id, filters, shared_group, version, qos, clean_start, "
            "session_expiry, keep_alive, read_bytes_per_s, start, broker, store");
  EXPECT_EQ(error_of(R"({"brokers": [{"shard": 2}]})"),
            "t.json:1:15: brokers[0].shard: unknown key \"shard\" in a broker (did you mean "
            "\"shards\"?); allowed: name, shards, durable, receive_maximum, max_queued_messages, "
            "topic_alias_maximum, server_keep_alive, minimum_client_id_length, planted_bug");
  EXPECT_EQ(error_of(R"({"network": {"delay": "1ms"}})"),
            "t.json:1:14: network.delay: unknown key \"delay\" in \"network\"; allowed: latency, "
            "jitter, bandwidth, max_chunk");
  EXPECT_EQ(error_of(device(R"("will": {"topic": "w", "qso": 1})")),
            "t.json:1:51: devices[0].will.qso: unknown key \"qso\" in a will (did you mean "
            "\"qos\"?); allowed: topic, payload, qos, retain, delay");
  // Keys of another kind of process or values are unknown here.
  EXPECT_EQ(error_of(device(R"("publish": {"kind": "fixed", "rate": 3})")),
            "t.json:1:57: devices[0].publish.rate: unknown key \"rate\" in a fixed process; "
            "allowed: kind, interval");
  EXPECT_EQ(error_of(device(R"("values": {"kind": "sine", "step": 1})")),
            "t.json:1:55: devices[0].values.step: unknown key \"step\" in sine values; allowed: "
            "kind, offset, amplitude, period, noise, decimals");
}

TEST(ScenarioKeys, RequiredKeysAndNames) {
  EXPECT_EQ(error_of(R"({"devices": [{"count": 2}]})"),
            "t.json:1:14: devices[0]: \"name\" is required");
  EXPECT_EQ(error_of(R"({"devices": [{"name": "a b"}]})"),
            "t.json:1:23: devices[0].name: \"a b\": a name is letters, digits, '-', '_' and '.'");
  EXPECT_EQ(error_of(R"({"devices": [{"name": "a"}], "subscribers": [{"name": "a"}]})"),
            "t.json:1:55: subscribers[0].name: \"a\" is already the name of devices[0]");
  EXPECT_EQ(error_of(R"({"brokers": [{"name": "a"}, {"name": "a"}]})"),
            "t.json:1:38: brokers[1].name: \"a\" is already the name of brokers[0]");
  EXPECT_EQ(error_of(R"({"brokers": [{"name": "a"}, {"durable": true}]})"),
            "t.json:1:29: brokers[1]: needs a \"name\" when there is more than one broker");
  EXPECT_EQ(error_of(R"({"brokers": []})"), "t.json:1:13: brokers: must have a broker at least");
  EXPECT_EQ(error_of(device(R"("broker": "b2")")),
            "t.json:1:38: devices[0].broker: no broker named \"b2\"; the brokers are broker");
  EXPECT_EQ(error_of(R"({"name": ""})"), "t.json:1:10: name: must not be empty");
  EXPECT_EQ(error_of(device(R"("will": {"payload": "x"})")),
            "t.json:1:36: devices[0].will: \"topic\" is required");
}

TEST(ScenarioValues, TypesAndRanges) {
  EXPECT_EQ(error_of(R"({"devices": {}})"),
            "t.json:1:13: devices: must be an array, not an object");
  EXPECT_EQ(error_of(device(R"("count": "20")")),
            "t.json:1:37: devices[0].count: must be an integer, not a string");
  EXPECT_EQ(error_of(device(R"("count": 0)")),
            "t.json:1:37: devices[0].count: must be an integer from 1 to 1000000");
  EXPECT_EQ(error_of(device(R"("count": 1000001)")),
            "t.json:1:37: devices[0].count: must be an integer from 1 to 1000000");
  EXPECT_EQ(error_of(device(R"("count": -1)")),
            "t.json:1:37: devices[0].count: must be an integer from 1 to 1000000");
  EXPECT_EQ(error_of(device(R"("count": 2.5)")),
            "t.json:1:37: devices[0].count: must be an integer");
  EXPECT_EQ(error_of(device(R"("retain": "yes")")),
            "t.json:1:38: devices[0].retain: must be true or false, not a string");
  EXPECT_EQ(error_of(device(R"("qos": 3)")), "t.json:1:35: devices[0].qos: must be 0, 1 or 2");
  EXPECT_EQ(error_of(device(R"("qos": "1")")), "t.json:1:35: devices[0].qos: must be 0, 1 or 2");
  EXPECT_EQ(error_of(device(R"("version": "4")")),
            "t.json:1:39: devices[0].version: must be \"3.1.1\" or \"5\" (or the protocol levels 4 "
            "and 5)");
  EXPECT_EQ(error_of(device(R"("version": 3)")),
            "t.json:1:39: devices[0].version: must be \"3.1.1\" or \"5\" (or the protocol levels 4 "
            "and 5)");
  EXPECT_EQ(error_of(R"({"brokers": [{"shards": 0}]})"),
            "t.json:1:25: brokers[0].shards: must be an integer from 1 to 256");
  EXPECT_EQ(error_of(R"({"network": {"max_chunk": 0}})"),
            "t.json:1:27: network.max_chunk: must be an integer from 1 to 1000000");
  EXPECT_EQ(error_of(R"({"buggify": {"tiny_queues": "yes"}})"),
            "t.json:1:29: buggify.tiny_queues: must be a number, not a string");
  EXPECT_EQ(error_of(R"({"buggify": [1]})"),
            "t.json:1:13: buggify: must be an object of numbers, not an array");
  EXPECT_EQ(error_of(device(R"("values": {"kind": "random_walk", "start": 50, "max": 40})")),
            "t.json:1:71: devices[0].values.start: the walk's start must be within [min, max]");
  EXPECT_EQ(error_of(device(R"("values": {"kind": "random_walk", "min": 5, "max": 4})")),
            "t.json:1:79: devices[0].values.max: must be at least min");
  EXPECT_EQ(error_of(device(R"("values": {"kind": "sine", "noise": -1})")),
            "t.json:1:64: devices[0].values.noise: must not be negative");
  EXPECT_EQ(error_of(device(R"("values": {"kind": "wave"})")),
            "t.json:1:47: devices[0].values.kind: must be one of constant, random_walk, sine or "
            "csv, not \"wave\"");
  EXPECT_EQ(error_of(device(R"("values": {"decimals": 18})")),
            "t.json:1:51: devices[0].values.decimals: must be an integer from 0 to 17");
}

TEST(ScenarioValues, DurationsRatesAndSeconds) {
  const std::string unit =
      R"( is not a duration: a number and a unit (ns, us, ms, s, m, h) as in "250ms", "1.5m")";
  EXPECT_EQ(error_of(device(R"("start": "10 parsecs")")),
            "t.json:1:37: devices[0].start: \"10 parsecs\"" + unit);
  EXPECT_EQ(error_of(device(R"("start": "2")")), "t.json:1:37: devices[0].start: \"2\"" + unit);
  EXPECT_EQ(error_of(device(R"("start": -5)")),
            "t.json:1:37: devices[0].start: must not be negative");
  EXPECT_EQ(error_of(device(R"("start": "-1s")")),
            "t.json:1:37: devices[0].start: must not be negative");
  EXPECT_EQ(error_of(device(R"("start": "9000h")")),
            "t.json:1:37: devices[0].start: must be at most 365 days");
  EXPECT_EQ(error_of(device(R"("start": true)")),
            "t.json:1:37: devices[0].start: must be a duration (\"2s\", \"250ms\", or a number of "
            "milliseconds), not a boolean");
  EXPECT_EQ(error_of(device(R"("start": "61s")")),
            "t.json:1:37: devices[0].start: is after the end of the scenario's duration (60s)");
  EXPECT_EQ(error_of(R"({"duration": 0})"), "t.json:1:14: duration: must be more than 0");
  EXPECT_EQ(error_of(R"({"heal": "-1ms"})"), "t.json:1:10: heal: must not be negative");
  EXPECT_EQ(error_of(R"({"network": {"latency": "fast"}})"),
            "t.json:1:25: network.latency: \"fast\"" + unit);
  EXPECT_EQ(error_of(device(R"("publish": {"interval": 0})")),
            "t.json:1:52: devices[0].publish.interval: must be more than 0");
  EXPECT_EQ(error_of(device(R"("publish": {"kind": "poisson", "rate": "10/x"})")),
            "t.json:1:67: devices[0].publish.rate: must be a rate: messages per second, or a "
            "string like \"10/s\" or \"600/m\"");
  EXPECT_EQ(error_of(device(R"("publish": {"kind": "poisson", "rate": 0})")),
            "t.json:1:67: devices[0].publish.rate: must be more than 0");
  EXPECT_EQ(error_of(device(R"("publish": {"kind": "uniform", "min": "2s"})")),
            "t.json:1:39: devices[0].publish: \"max\" is required");
  EXPECT_EQ(error_of(device(R"("publish": {"kind": "uniform", "min": "2s", "max": "1s"})")),
            "t.json:1:79: devices[0].publish.max: must be at least min (2s)");
  EXPECT_EQ(error_of(device(R"("publish": {"kind": "steady"})")),
            "t.json:1:48: devices[0].publish.kind: must be one of fixed, uniform, normal, "
            "exponential, poisson or bursts, not \"steady\"");
  EXPECT_EQ(error_of(device(R"("keep_alive": 70000)")),
            "t.json:1:42: devices[0].keep_alive: must be a number of seconds from 0 to 65535, or "
            "a duration like \"30s\" or \"1h\"");
  EXPECT_EQ(error_of(device(R"("keep_alive": "1.5s")")),
            "t.json:1:42: devices[0].keep_alive: must be a whole number of seconds");
  EXPECT_EQ(error_of(device(R"("session_expiry": "sometimes")")),
            "t.json:1:46: devices[0].session_expiry: must be a number of seconds from 0 to "
            "4294967295, or a duration like \"30s\" or \"1h\", or \"never\"");
}

TEST(ScenarioValues, FiveOnlyKeysAreRefusedInA311Class) {
  const std::string why = ": exists only in MQTT 5.0, and this class is 3.1.1 (its \"version\")";
  EXPECT_EQ(error_of(device(R"("version": "3.1.1", "session_expiry": 10)")),
            "t.json:1:48: devices[0].session_expiry" + why);
  EXPECT_EQ(error_of(device(R"("version": 4, "message_expiry": 10)")),
            "t.json:1:42: devices[0].message_expiry" + why);
  EXPECT_EQ(error_of(device(R"("version": "3.1.1", "will": {"topic": "w", "delay": 5})")),
            "t.json:1:71: devices[0].will.delay" + why);
  EXPECT_EQ(error_of(subscriber(R"("version": "3.1.1", "shared_group": "g")")),
            "t.json:1:52: subscribers[0].shared_group" + why);
}

TEST(ScenarioTemplates, PlaceholdersAreCheckedWhereTheyStand) {
  EXPECT_EQ(error_of(device(R"("topic": "a/{ide}")")),
            "t.json:1:37: devices[0].topic: unknown placeholder {ide}; allowed here: {id}, {n}, "
            "{class}, {site}");
  EXPECT_EQ(error_of(device(R"("topic": "a/{msg}")")),
            "t.json:1:37: devices[0].topic: unknown placeholder {msg}; allowed here: {id}, {n}, "
            "{class}, {site}");
  EXPECT_EQ(error_of(device(R"("client_id": "{id}")")),
            "t.json:1:41: devices[0].client_id: unknown placeholder {id}; allowed here: {n}, "
            "{class}, {site}");
  EXPECT_EQ(error_of(subscriber(R"("client_id": "{site}")")),
            "t.json:1:45: subscribers[0].client_id: unknown placeholder {site}; allowed here: "
            "{n}, {class}");
  EXPECT_EQ(error_of(device(R"("payload": "{msg} {when}")")),
            "t.json:1:39: devices[0].payload: unknown placeholder {when}; allowed here: {value}, "
            "{seq}, {msg}, {t}, {id}, {n}, {class}, {site}");
  EXPECT_EQ(error_of(device(R"("will": {"topic": "w/{seq}"})")),
            "t.json:1:46: devices[0].will.topic: unknown placeholder {seq}; allowed here: {id}, "
            "{n}, {class}, {site}");
  EXPECT_EQ(error_of(device(R"("client_id": "x-{n:4}")")),
            "t.json:1:41: devices[0].client_id: {n:4}: the format of {n} is a zero-padded width "
            "from 01 to 020, as in {n:04}");
  EXPECT_EQ(error_of(device(R"("client_id": "x-{n:021}")")),
            "t.json:1:41: devices[0].client_id: {n:021}: the format of {n} is a zero-padded width "
            "from 01 to 020, as in {n:04}");
  EXPECT_EQ(error_of(device(R"("payload": "{msg} {seq:04}")")),
            "t.json:1:39: devices[0].payload: {seq:04}: only {n} takes a format");
  // Braces that are not a placeholder are text: a JSON payload is full of them.
  EXPECT_EQ(error_of(device(R"("payload": "{\"id\": \"{msg}\", \"v\": {value}}")")), "(no error)");
}

TEST(ScenarioKeys, WillsStoresAndDurableBrokersAreChecked) {
  EXPECT_NE(error_of(device(R"("will": {"topic": "w/{id}", "payload": "gone {id}"})"))
                .find("devices[0].will.payload: must contain {msg}, the Will's unique id"),
            std::string::npos);
  EXPECT_NE(error_of(device(R"("store": "disk")")).find("devices[0].store: "), std::string::npos);
  EXPECT_NE(error_of(R"({"brokers": [{"durable": true, "shards": 2}]})")
                .find("brokers[0].shards: a durable broker runs one engine"),
            std::string::npos);
}

TEST(ScenarioTemplates, PayloadsCarryMsgAndIdsAndTopicsAreValid) {
  EXPECT_EQ(error_of(device(R"("payload": "{value}")")),
            "t.json:1:39: devices[0].payload: must contain {msg}, the message's unique id that the "
            "checkers read back");
  EXPECT_EQ(error_of(device(R"("count": 2, "client_id": "x")")),
            "t.json:1:53: devices[0].client_id: gives all 2 clients of the class one client id: "
            "use {n}");
  EXPECT_EQ(error_of(device(R"("client_id": "")")),
            "t.json:1:41: devices[0].client_id: must not be empty");
  EXPECT_EQ(
      error_of(
          R"({"devices": [{"name": "a", "client_id": "x-{n}"}, {"name": "b", "client_id": "x-{n}"}]})"),
      "t.json:1:78: devices[1].client_id: gives the client id \"x-0\", as devices[0] does: "
      "put {class} in it");
  EXPECT_EQ(error_of(device(R"("topic": "a/+/{id}")")),
            "t.json:1:37: devices[0].topic: \"a/+/d-0\" is not a valid topic name: topic name "
            "contains a wildcard character [MQTT-4.7.0-1]");
  EXPECT_EQ(error_of(device(R"("version": "3.1.1", "will": {"topic": "w/#"})")),
            "t.json:1:66: devices[0].will.topic: \"w/#\" is not a valid topic name: topic name "
            "contains a wildcard character [MQTT-4.7.1-1]");
  EXPECT_EQ(error_of(device(R"("sites": [])")),
            "t.json:1:37: devices[0].sites: must name a site at least");
  EXPECT_EQ(error_of(device(R"("sites": ["a", "b+"])")),
            "t.json:1:43: devices[0].sites[1]: a site is part of a topic: no '+', '#' or U+0000");
}

TEST(ScenarioTemplates, SubscriberFilters) {
  EXPECT_EQ(error_of(subscriber(R"("filters": "a/#/b")")),
            "t.json:1:43: subscribers[0].filters: \"a/#/b\" is not a valid topic filter: '#' must "
            "be the last level of the topic filter and stand alone [MQTT-4.7.1-1]");
  EXPECT_EQ(error_of(subscriber(R"("filters": ["x", "$share/g/x"])")),
            "t.json:1:49: subscribers[0].filters[1]: is a shared subscription: write the filter "
            "alone, the group in \"shared_group\"");
  EXPECT_EQ(error_of(subscriber(R"("filters": [])")),
            "t.json:1:43: subscribers[0].filters: must have a topic filter at least");
  EXPECT_EQ(error_of(subscriber(R"("version": 5, "shared_group": "a/b")")),
            "t.json:1:62: subscribers[0].shared_group: a share name has no '/', '+' or '#' "
            "[MQTT-4.8.2-2]");
}

TEST(ScenarioStages, KindsTargetsAndKeys) {
  EXPECT_EQ(error_of(stages({R"({"target": "d"})"})),
            "t.json:6:5: stages[0]: \"kind\" is required: ramp_up, steady, reconnect_storm, "
            "broker_crash, partition, degrade, slow_consumer, client_crash or leave");
  EXPECT_EQ(error_of(stages({R"({"kind": "explode"})"})),
            "t.json:6:14: stages[0].kind: must be one of ramp_up, steady, reconnect_storm, "
            "broker_crash, partition, degrade, slow_consumer, client_crash or leave, not "
            "\"explode\"");
  EXPECT_EQ(error_of(stages({R"({"kind": "partition", "target": "nope"})"})),
            "t.json:6:37: stages[0].target: no device or subscriber class named \"nope\"; the "
            "classes are d, b");
  EXPECT_EQ(
      error_of(stages({R"({"kind": "slow_consumer", "target": "d", "read_bytes_per_s": 9})"})),
      "t.json:6:41: stages[0].target: no subscriber class named \"d\"; the classes are b");
  EXPECT_EQ(error_of(stages({R"({"kind": "broker_crash", "target": "b"})"})),
            "t.json:6:40: stages[0].target: no broker named \"b\"; the brokers are broker");
  EXPECT_EQ(error_of(stages({R"({"kind": "partition", "fraction": 0.5})"})),
            "t.json:6:27: stages[0].fraction: unknown key \"fraction\" in a partition stage; "
            "allowed: kind, name, at, after, target, duration");
  EXPECT_EQ(error_of(stages({R"({"kind": "steady", "target": "d"})"})),
            "t.json:6:24: stages[0].target: unknown key \"target\" in a steady stage; allowed: "
            "kind, name, at, after, duration");
  EXPECT_EQ(error_of(stages({R"({"kind": "leave", "duration": "1s"})"})),
            "t.json:6:23: stages[0].duration: unknown key \"duration\" in a leave stage; allowed: "
            "kind, name, at, after, target, fraction");
  EXPECT_EQ(error_of(stages({R"({"kind": "reconnect_storm", "fraction": 1.5})"})),
            "t.json:6:45: stages[0].fraction: must be a fraction from 0 to 1");
  EXPECT_EQ(error_of(stages({R"({"kind": "degrade", "duration": "5s"})"})),
            "t.json:6:5: stages[0]: \"profile\" is required");
  EXPECT_EQ(error_of(stages({R"({"kind": "degrade", "profile": {"jiter": "1ms"}})"})),
            "t.json:6:37: stages[0].profile.jiter: unknown key \"jiter\" in a degrade profile (did "
            "you mean \"jitter\"?); allowed: latency, jitter, bandwidth, max_chunk");
  EXPECT_EQ(error_of(stages({R"({"kind": "slow_consumer", "target": "b"})"})),
            "t.json:6:5: stages[0]: \"read_bytes_per_s\" is required");
  EXPECT_EQ(error_of(stages({R"({"kind": "slow_consumer", "read_bytes_per_s": 0})"})),
            "t.json:6:51: stages[0].read_bytes_per_s: must be an integer from 1 to 1000000000000");
}

TEST(ScenarioStages, TimingFitsTheDuration) {
  EXPECT_EQ(error_of(stages({R"({"kind": "steady", "at": "1s", "after": "1s"})"})),
            "t.json:6:36: stages[0].after: a stage starts \"at\" a time or \"after\" the one "
            "before, not both");
  EXPECT_EQ(error_of(stages({R"({"kind": "steady", "at": "50s", "duration": "20s"})"})),
            "t.json:6:5: stages[0]: runs from 50s to 70s, past the scenario's duration (60s)");
  EXPECT_EQ(error_of(stages({R"({"kind": "steady", "duration": "40s"})",
                             R"({"kind": "partition", "after": "10s", "duration": "10500ms"})"})),
            "t.json:7:5: stages[1]: runs from 50s to 60500ms, past the scenario's duration (60s)");
  EXPECT_EQ(error_of(stages({R"({"kind": "steady", "duration": "40s"})",
                             R"({"kind": "partition", "after": "10s", "duration": "10s"})"})),
            "(no error)");
}

TEST(ScenarioCsv, ValuesComeFromAColumnRelativeToTheScenario) {
  const auto dir = scratch();
  write(dir / "temps.csv", "time,celsius\n0,21.5\n\n1, +21.75\r\n2,\"22\"\n");
  write(dir / "x.json", device(R"("values": {"kind": "csv", "file": "temps.csv", "column": 2})"));
  const Scenario s = load_scenario((dir / "x.json").string());
  EXPECT_EQ(s.devices[0].values.kind, Values::Kind::csv);
  EXPECT_EQ(s.devices[0].values.csv, (std::vector<double>{21.5, 21.75, 22}));
  EXPECT_EQ(s.devices[0].values.csv_file, (dir / "temps.csv").string());

  const std::string file = (dir / "x.json").string();
  const std::string csv = (dir / "temps.csv").string();
  // The error when temps.csv holds `text` (or is missing, for nullptr).
  const auto error_with = [&](const char* text, std::size_t column) {
    std::filesystem::remove(dir / "temps.csv");
    if (text != nullptr) write(dir / "temps.csv", text);
    write(dir / "x.json", device(R"("values": {"kind": "csv", "file": "temps.csv", "column": )" +
                                 std::to_string(column) + "}"));
    try {
      load_scenario(file);
    } catch (const ScenarioError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  const std::string at = file + ":1:62: devices[0].values.file: ";
  EXPECT_EQ(error_with("t,c\n0,21\n1,warm\n", 2),
            at + csv + ":3: column 2 is \"warm\", not a number");
  EXPECT_EQ(error_with("1,21\n2\n", 2), at + csv + ":2: has no column 2");
  EXPECT_EQ(error_with("celsius\n", 1), at + csv + ": no numbers in column 1");
  EXPECT_EQ(error_with(nullptr, 1), at + "cannot read " + csv + ": No such file or directory");
  EXPECT_EQ(error_with("1\n", 1), "(no error)");
}

TEST(ScenarioParse, AnEmptyObjectIsTheDefaults) {
  const Scenario s = parse_scenario("{}", "empty.json");
  const Scenario d;
  EXPECT_EQ(s.name, d.name);
  EXPECT_EQ(s.file, "empty.json");
  EXPECT_EQ(s.duration, 60 * ns_per_s);
  EXPECT_EQ(s.heal, 30 * ns_per_s);
  ASSERT_EQ(s.brokers.size(), 1u);
  EXPECT_EQ(s.brokers[0].name, "broker");
  EXPECT_FALSE(s.brokers[0].durable);
  EXPECT_EQ(s.network.latency, d.network.latency);
  EXPECT_EQ(s.network.max_chunk, d.network.max_chunk);
  EXPECT_TRUE(s.devices.empty() && s.subscribers.empty() && s.stages.empty() && s.buggify.empty());

  // A class with a name only has the struct's defaults.
  const Scenario c =
      parse_scenario(R"({"devices": [{"name": "d"}], "subscribers": [{"name": "b"}]})", "");
  const DeviceClass dd;
  EXPECT_EQ(c.devices[0].client_id, dd.client_id);
  EXPECT_EQ(c.devices[0].topic, dd.topic);
  EXPECT_EQ(c.devices[0].payload, dd.payload);
  EXPECT_EQ(c.devices[0].sites, dd.sites);
  EXPECT_EQ(c.devices[0].session_expiry_s, dd.session_expiry_s);
  EXPECT_EQ(c.devices[0].publish.kind, Process::Kind::fixed);
  EXPECT_EQ(c.devices[0].publish.interval, ns_per_s);
  EXPECT_EQ(c.devices[0].values.kind, Values::Kind::constant);
  EXPECT_EQ(c.devices[0].broker, "broker");
  EXPECT_FALSE(c.devices[0].will.has_value());
  EXPECT_EQ(c.subscribers[0].filters, (std::vector<std::string>{"sensors/#"}));
  EXPECT_FALSE(c.subscribers[0].shared_group.has_value());
}

TEST(ScenarioParse, EveryKeyReachesItsField) {
  const Scenario s = parse_scenario(R"({
    "name": "full", "description": "every key", "duration": "2m", "heal": "15s",
    "network": {"latency": "5ms", "jitter": "1ms", "bandwidth": 125000, "max_chunk": 512},
    "brokers": [
      {"name": "east", "shards": 4, "receive_maximum": 20,
       "max_queued_messages": 50, "topic_alias_maximum": 0, "server_keep_alive": 45,
       "minimum_client_id_length": 8, "planted_bug": "reorder_queue"},
      {"name": "west", "durable": true}
    ],
    "devices": [
      {"name": "thermo", "count": 20, "client_id": "t-{site}-{n:03}", "topic": "s/{site}/{id}/temp",
       "sites": ["berlin", "paris"], "version": "3.1.1", "qos": 2, "retain": true,
       "clean_start": true, "keep_alive": "1m", "store": "durable",
       "will": {"topic": "s/{id}/status", "payload": "gone {id} {msg}", "qos": 0, "retain": true},
       "publish": {"kind": "bursts", "burst": 5, "interval": "100ms", "gap": "10s"},
       "values": {"kind": "random_walk", "start": 21, "step": 0.25, "min": 15, "max": 30,
                  "decimals": 1},
       "payload": "{msg};{value};{seq};{t}", "start": "1.5s", "broker": "west",
       "planted_bug": "resend_without_dup"},
      {"name": "meter", "version": 5, "session_expiry": "never", "message_expiry": "1h",
       "will": {"topic": "m/{n}", "delay": "30s"},
       "publish": {"kind": "poisson", "rate": "600/m"},
       "values": {"kind": "sine", "offset": 230, "amplitude": 5, "period": "5m", "noise": 0.5}},
      {"name": "u", "publish": {"kind": "uniform", "min": 500, "max": "2s"}},
      {"name": "n", "publish": {"kind": "normal", "mean": "1s", "sd": "100ms"}},
      {"name": "e", "publish": {"kind": "exponential", "mean": "250ms"}}
    ],
    "subscribers": [
      {"name": "backend", "count": 3, "client_id": "be-{n}", "filters": ["s/+/+/temp", "m/#"],
       "shared_group": "workers", "version": "5.0", "qos": 2, "clean_start": true,
       "session_expiry": 600, "keep_alive": 10, "read_bytes_per_s": 1000, "start": "2s",
       "broker": "east", "store": "durable"},
      {"name": "dash", "filters": "s/#", "version": "3.1.1"}
    ],
    "stages": [
      {"kind": "ramp_up", "name": "connect", "target": "thermo", "duration": "10s"},
      {"kind": "steady", "duration": "5s"},
      {"kind": "reconnect_storm", "after": "1s", "target": "thermo", "fraction": 0.5},
      {"kind": "broker_crash", "at": "30s", "target": "east", "duration": "4s"},
      {"kind": "partition", "target": "meter", "duration": "20s"},
      {"kind": "degrade", "at": "40s", "duration": "10s",
       "profile": {"latency": "200ms", "bandwidth": 1000}},
      {"kind": "slow_consumer", "target": "backend", "read_bytes_per_s": 100, "duration": "5s"},
      {"kind": "client_crash", "target": "", "fraction": 0.1, "duration": "2s", "half_open": true},
      {"kind": "leave", "target": "dash", "fraction": 1}
    ],
    "buggify": {"tiny_queues": 1, "takeover_rate": 0.25}
  })",
                                    "full.json");
  EXPECT_EQ(s.name, "full");
  EXPECT_EQ(s.description, "every key");
  EXPECT_EQ(s.duration, 120 * ns_per_s);
  EXPECT_EQ(s.heal, 15 * ns_per_s);
  EXPECT_EQ(s.network.latency, 5 * ns_per_ms);
  EXPECT_EQ(s.network.jitter, ns_per_ms);
  EXPECT_EQ(s.network.bandwidth_bytes_per_s, 125000u);
  EXPECT_EQ(s.network.max_chunk, 512u);

  ASSERT_EQ(s.brokers.size(), 2u);
  const BrokerSpec& east = s.brokers[0];
  EXPECT_EQ(east.name, "east");
  EXPECT_EQ(east.shards, 4u);
  EXPECT_FALSE(east.durable);
  EXPECT_EQ(east.planted_bug, broker::PlantedBug::reorder_queue);
  EXPECT_EQ(east.receive_maximum, 20);
  EXPECT_EQ(east.max_queued_messages, 50u);
  EXPECT_EQ(east.topic_alias_maximum, 0);
  EXPECT_EQ(east.server_keep_alive, std::optional<std::uint16_t>(45));
  EXPECT_EQ(east.minimum_client_id_length, 8u);
  EXPECT_EQ(s.brokers[1].name, "west");
  EXPECT_EQ(s.brokers[1].shards, 1u);
  EXPECT_TRUE(s.brokers[1].durable);
  EXPECT_EQ(s.brokers[1].planted_bug, broker::PlantedBug::none);

  ASSERT_EQ(s.devices.size(), 5u);
  const DeviceClass& t = s.devices[0];
  EXPECT_EQ(t.name, "thermo");
  EXPECT_EQ(t.count, 20u);
  EXPECT_EQ(t.client_id, "t-{site}-{n:03}");
  EXPECT_EQ(t.topic, "s/{site}/{id}/temp");
  EXPECT_EQ(t.sites, (std::vector<std::string>{"berlin", "paris"}));
  EXPECT_EQ(t.version, mqtt::Version::v3_1_1);
  EXPECT_EQ(t.qos, mqtt::QoS::exactly_once);
  EXPECT_TRUE(t.retain);
  EXPECT_TRUE(t.clean_start);
  EXPECT_EQ(t.session_expiry_s, 3600u);  // the default: 3.1.1 has none
  EXPECT_EQ(t.keep_alive_s, 60);
  ASSERT_TRUE(t.will.has_value());
  EXPECT_EQ(t.will->topic, "s/{id}/status");
  EXPECT_EQ(t.will->payload, "gone {id} {msg}");
  EXPECT_TRUE(t.durable_store);
  EXPECT_EQ(t.planted_bug, client::PlantedBug::resend_without_dup);
  EXPECT_EQ(t.will->qos, mqtt::QoS::at_most_once);
  EXPECT_TRUE(t.will->retain);
  EXPECT_EQ(t.will->delay_s, 0u);
  EXPECT_EQ(t.publish.kind, Process::Kind::bursts);
  EXPECT_EQ(t.publish.burst, 5u);
  EXPECT_EQ(t.publish.interval, 100 * ns_per_ms);
  EXPECT_EQ(t.publish.gap, 10 * ns_per_s);
  EXPECT_EQ(t.values.kind, Values::Kind::random_walk);
  EXPECT_EQ(t.values.start, 21);
  EXPECT_EQ(t.values.step, 0.25);
  EXPECT_EQ(t.values.min, 15);
  EXPECT_EQ(t.values.max, 30);
  EXPECT_EQ(t.values.decimals, 1);
  EXPECT_EQ(t.payload, "{msg};{value};{seq};{t}");
  EXPECT_FALSE(t.message_expiry_s.has_value());
  EXPECT_EQ(t.start, 1500 * ns_per_ms);
  EXPECT_EQ(t.broker, "west");

  const DeviceClass& m = s.devices[1];
  EXPECT_EQ(m.version, mqtt::Version::v5);
  EXPECT_EQ(m.session_expiry_s, 0xFFFFFFFFu);
  EXPECT_EQ(m.message_expiry_s, std::optional<std::uint32_t>(3600));
  EXPECT_EQ(m.will->delay_s, 30u);
  EXPECT_EQ(m.will->payload, "{id} offline {msg}");  // the default names the Will's {msg}
  EXPECT_FALSE(m.durable_store);
  EXPECT_EQ(m.will->qos, mqtt::QoS::at_least_once);
  EXPECT_EQ(m.publish.kind, Process::Kind::poisson);
  EXPECT_DOUBLE_EQ(m.publish.rate, 10.0);
  EXPECT_EQ(m.values.kind, Values::Kind::sine);
  EXPECT_EQ(m.values.offset, 230);
  EXPECT_EQ(m.values.amplitude, 5);
  EXPECT_EQ(m.values.period, 300 * ns_per_s);
  EXPECT_EQ(m.values.noise, 0.5);
  EXPECT_EQ(m.broker, "east");  // the first broker
  EXPECT_EQ(s.devices[2].publish.kind, Process::Kind::uniform);
  EXPECT_EQ(s.devices[2].publish.min, 500 * ns_per_ms);
  EXPECT_EQ(s.devices[2].publish.max, 2 * ns_per_s);
  EXPECT_EQ(s.devices[3].publish.kind, Process::Kind::normal);
  EXPECT_EQ(s.devices[3].publish.mean, ns_per_s);
  EXPECT_EQ(s.devices[3].publish.sd, 100 * ns_per_ms);
  EXPECT_EQ(s.devices[4].publish.kind, Process::Kind::exponential);
  EXPECT_EQ(s.devices[4].publish.mean, 250 * ns_per_ms);

  ASSERT_EQ(s.subscribers.size(), 2u);
  const SubscriberClass& b = s.subscribers[0];
  EXPECT_EQ(b.name, "backend");
  EXPECT_EQ(b.count, 3u);
  EXPECT_EQ(b.client_id, "be-{n}");
  EXPECT_EQ(b.filters, (std::vector<std::string>{"s/+/+/temp", "m/#"}));
  EXPECT_EQ(b.shared_group, std::optional<std::string>("workers"));
  EXPECT_EQ(b.version, mqtt::Version::v5);
  EXPECT_EQ(b.qos, mqtt::QoS::exactly_once);
  EXPECT_TRUE(b.clean_start);
  EXPECT_EQ(b.session_expiry_s, 600u);
  EXPECT_EQ(b.keep_alive_s, 10);
  EXPECT_EQ(b.read_bytes_per_s, 1000u);
  EXPECT_EQ(b.start, 2 * ns_per_s);
  EXPECT_EQ(b.broker, "east");
  EXPECT_TRUE(b.durable_store);
  EXPECT_EQ(s.subscribers[1].filters, (std::vector<std::string>{"s/#"}));
  EXPECT_EQ(s.subscribers[1].version, mqtt::Version::v3_1_1);

  ASSERT_EQ(s.stages.size(), 9u);
  using K = Stage::Kind;
  const auto& st = s.stages;
  EXPECT_EQ(st[0].kind, K::ramp_up);
  EXPECT_EQ(st[0].name, "connect");
  EXPECT_EQ(st[0].target, "thermo");
  EXPECT_EQ(st[0].at, 0);
  EXPECT_EQ(st[0].duration, 10 * ns_per_s);
  EXPECT_EQ(st[1].kind, K::steady);
  EXPECT_EQ(st[1].at, 10 * ns_per_s);  // after the ramp-up
  EXPECT_EQ(st[2].kind, K::reconnect_storm);
  EXPECT_EQ(st[2].at, 16 * ns_per_s);  // 1 s after the steady stretch
  EXPECT_EQ(st[2].fraction, 0.5);
  EXPECT_EQ(st[3].kind, K::broker_crash);
  EXPECT_EQ(st[3].at, 30 * ns_per_s);
  EXPECT_EQ(st[3].target, "east");
  EXPECT_EQ(st[3].duration, 4 * ns_per_s);
  EXPECT_EQ(st[4].kind, K::partition);
  EXPECT_EQ(st[4].at, 34 * ns_per_s);
  EXPECT_EQ(st[5].kind, K::degrade);
  ASSERT_TRUE(st[5].profile.has_value());
  EXPECT_EQ(st[5].profile->latency, 200 * ns_per_ms);
  EXPECT_EQ(st[5].profile->jitter, ns_per_ms);  // the rest from "network"
  EXPECT_EQ(st[5].profile->bandwidth_bytes_per_s, 1000u);
  EXPECT_EQ(st[5].profile->max_chunk, 512u);
  EXPECT_EQ(st[5].target, "");
  EXPECT_EQ(st[6].kind, K::slow_consumer);
  EXPECT_EQ(st[6].read_bytes_per_s, 100u);
  EXPECT_EQ(st[6].at, 50 * ns_per_s);
  EXPECT_EQ(st[7].kind, K::client_crash);
  EXPECT_EQ(st[7].fraction, 0.1);
  EXPECT_TRUE(st[7].half_open);
  EXPECT_EQ(st[8].kind, K::leave);
  EXPECT_EQ(st[8].target, "dash");
  EXPECT_EQ(st[8].at, 57 * ns_per_s);
  EXPECT_EQ(s.buggify,
            (std::map<std::string, double>{{"takeover_rate", 0.25}, {"tiny_queues", 1}}));
}

TEST(ScenarioParse, DurationRateAndSecondsForms) {
  const auto start = [](const std::string& value) {
    return parse_scenario(device(R"("start": )" + value), "").devices[0].start;
  };
  EXPECT_EQ(start(R"("250ms")"), 250 * ns_per_ms);
  EXPECT_EQ(start(R"("2s")"), 2 * ns_per_s);
  EXPECT_EQ(start(R"("0.5m")"), 30 * ns_per_s);
  EXPECT_EQ(start(R"("500us")"), 500'000);
  EXPECT_EQ(start(R"("500µs")"), 500'000);
  EXPECT_EQ(start(R"("10ns")"), 10);
  EXPECT_EQ(start(R"("0")"), 0);
  EXPECT_EQ(start(R"(" 2 s ")"), 2 * ns_per_s);
  EXPECT_EQ(start("1500"), 1500 * ns_per_ms);  // a number is milliseconds
  EXPECT_EQ(start("0.25"), 250'000);
  EXPECT_EQ(parse_scenario(R"({"duration": "1h"})", "").duration, 3600 * ns_per_s);
  EXPECT_EQ(parse_scenario(R"({"duration": "1.5m"})", "").duration, 90 * ns_per_s);

  const auto rate = [](const std::string& value) {
    return parse_scenario(device(R"("publish": {"kind": "poisson", "rate": )" + value + "}"), "")
        .devices[0]
        .publish.rate;
  };
  EXPECT_DOUBLE_EQ(rate("2.5"), 2.5);
  EXPECT_DOUBLE_EQ(rate(R"("10/s")"), 10);
  EXPECT_DOUBLE_EQ(rate(R"("600/m")"), 10);
  EXPECT_DOUBLE_EQ(rate(R"("5/2s")"), 2.5);
  EXPECT_DOUBLE_EQ(rate(R"("1/ms")"), 1000);

  const auto keep_alive = [](const std::string& value) {
    return parse_scenario(device(R"("keep_alive": )" + value), "").devices[0].keep_alive_s;
  };
  EXPECT_EQ(keep_alive("30"), 30);  // MQTT's intervals: a number is seconds
  EXPECT_EQ(keep_alive(R"("2m")"), 120);
}

TEST(ScenarioExamples, EveryExampleParses) {
  std::size_t count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(ASSAY_SCENARIOS_DIR)) {
    if (entry.path().extension() != ".json") continue;
    ++count;
    SCOPED_TRACE(entry.path().string());
    try {
      const Scenario s = load_scenario(entry.path().string());
      EXPECT_FALSE(s.description.empty());
      EXPECT_FALSE(s.devices.empty());
      EXPECT_FALSE(s.subscribers.empty());
    } catch (const ScenarioError& e) {
      ADD_FAILURE() << e.what();
    }
  }
  EXPECT_GE(count, 6u);
}

TEST(ScenarioExamples, TemperatureIsTheTutorialsFleet) {
  const Scenario s = load_scenario(std::string(ASSAY_SCENARIOS_DIR) + "/temperature.json");
  ASSERT_EQ(s.devices.size(), 1u);
  EXPECT_EQ(s.devices[0].count, 20u);
  EXPECT_EQ(s.devices[0].topic, "sensor/temperature");
  EXPECT_EQ(s.devices[0].qos, mqtt::QoS::at_least_once);
  EXPECT_TRUE(s.devices[0].retain);
  EXPECT_EQ(s.devices[0].publish.interval, 2 * ns_per_s);
  EXPECT_EQ(s.devices[0].values.kind, Values::Kind::random_walk);
  EXPECT_EQ(s.devices[0].values.start, 21);
  ASSERT_EQ(s.subscribers.size(), 1u);
  EXPECT_EQ(s.subscribers[0].filters, (std::vector<std::string>{"sensor/temperature"}));
  EXPECT_TRUE(s.brokers[0].durable);
  EXPECT_EQ(s.duration, 60 * ns_per_s);
  const auto crash = std::find_if(s.stages.begin(), s.stages.end(), [](const Stage& st) {
    return st.kind == Stage::Kind::broker_crash;
  });
  ASSERT_NE(crash, s.stages.end());
  EXPECT_GT(crash->duration, 0) << "the broker restarts";
}

TEST(Render, PlaceholdersAndZeroPadding) {
  const std::map<std::string, std::string> v{
      {"class", "sensor"}, {"site", "berlin"}, {"id", "s-7"}};
  EXPECT_EQ(render("{class}-{n:04}", v, 7), "sensor-0007");
  EXPECT_EQ(render("sensors/{site}/{id}/temp", v, 7), "sensors/berlin/s-7/temp");
  EXPECT_EQ(render("{n}", v, 123), "123");
  EXPECT_EQ(render("{n:02}", v, 123), "123");  // wider than the width: not cut
  EXPECT_EQ(render("{n:01}", v, 0), "0");
  EXPECT_EQ(render("{n:020}", v, 5), std::string(19, '0') + "5");
  EXPECT_EQ(render("{n}", {{"n", "not this"}}, 3), "3");
  EXPECT_EQ(render("", v, 1), "");
  EXPECT_EQ(render("no placeholders", v, 1), "no placeholders");
  EXPECT_EQ(render("{id}{id}", v, 1), "s-7s-7");
}

TEST(Render, WhatIsNotAKnownPlaceholderStaysAsItIs) {
  const std::map<std::string, std::string> v{{"msg", "m-1"}, {"value", "21.50"}, {"id", "x"}};
  EXPECT_EQ(render(R"({"id":"{msg}","value":{value}})", v, 0), R"({"id":"m-1","value":21.50})");
  EXPECT_EQ(render("a/{nope}/{n:x}/{n:4}/{n:021}/{id:04}", v, 1),
            "a/{nope}/{n:x}/{n:4}/{n:021}/{id:04}");
  EXPECT_EQ(render("{{id}}", v, 0), "{x}");
  EXPECT_EQ(render("{id", v, 0), "{id");
  EXPECT_EQ(render("{", v, 0), "{");
  EXPECT_EQ(render("}{}", v, 0), "}{}");
  EXPECT_EQ(render("{n:{id}}", v, 2), "{n:x}");
  EXPECT_EQ(render("{ id }", v, 0), "{ id }");
}
