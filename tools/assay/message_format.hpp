// How `assay sub` prints a message: mosquitto_sub's -F format strings (%t
// topic, %p payload, %j JSON ...; @ strftime codes; \ escapes), its %j/%J
// JSON, and `--json`, one object per message with every 5.0 property.
// docs/client.md lists the codes and the few places where the output
// differs from mosquitto_sub's on purpose.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "assay/mqtt/packets.hpp"

namespace assay::tools {

using WallClock = std::chrono::system_clock;

// Checks a -F format; throws UsageError naming the bad specifier.
void check_format(std::string_view format);

// The message by `format` (no newline added). `error` receives what went
// wrong with %J (a payload that is not JSON), and stays empty otherwise.
std::string render(std::string_view format, const mqtt::Publish& m, bool pretty,
                   std::string* error);

// mosquitto_sub's %j (payload as a JSON string) and %J (payload embedded as
// JSON; nullopt when it is not JSON).
std::optional<std::string> mosquitto_json(const mqtt::Publish& m, bool payload_is_json, bool pretty,
                                          WallClock::time_point t);

// `--json`: the PUBLISH as `assay decode` shows it (flags, topic, packet
// id, every property, the payload as size, hex and text) and when it came.
nlohmann::ordered_json message_json(const mqtt::Publish& m, mqtt::Version version,
                                    WallClock::time_point t);

}  // namespace assay::tools
