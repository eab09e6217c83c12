// Topic names, topic filters, wildcard matching and shared subscriptions
// (MQTT 5.0 §4.7, §4.8.2; 3.1.1 §4.7).
#pragma once

#include <optional>
#include <string_view>

#include "assay/mqtt/types.hpp"
#include "assay/mqtt/violation.hpp"

namespace assay::mqtt {

// A Topic Name as PUBLISH carries it: at least one character, no wildcards,
// no U+0000, at most 65,535 bytes. The reason code is Topic Name invalid.
std::optional<Violation> validate_topic_name(std::string_view name, Version version);

// A Topic Filter as SUBSCRIBE and UNSUBSCRIBE carry it: `#` only last and on
// its own level, `+` on its own level. In 5.0 a filter starting "$share/"
// must also be a valid shared subscription. The reason code is Topic Filter
// invalid.
std::optional<Violation> validate_topic_filter(std::string_view filter, Version version);

// "$share/{ShareName}/{filter}" split into its parts.
struct SharedFilter {
  std::string_view share_name;
  std::string_view filter;
};

// nullopt when `filter` does not start with "$share/". A filter that does but
// breaks [MQTT-4.8.2-1]/[MQTT-4.8.2-2] also yields nullopt from here; use
// validate_topic_filter to tell the two apart.
std::optional<SharedFilter> parse_shared_filter(std::string_view filter);

// Does the (valid, non-shared) filter match the (valid) topic name? Filters
// starting with a wildcard never match names starting with '$' [MQTT-4.7.2-1].
// No normalisation of either string [MQTT-4.7.3-4].
bool topic_matches(std::string_view filter, std::string_view name);

}  // namespace assay::mqtt
