// Request/response over MQTT 5.0 (§4.10): a request names the topic to
// answer on (Response Topic) and may carry Correlation Data that the
// response returns, so a requester can match answers to questions.
#pragma once

#include <optional>
#include <string>

#include "assay/mqtt/packets.hpp"

namespace assay::client {

// A request to `topic`, to be answered on `response_topic`.
mqtt::Publish make_request(std::string topic, mqtt::SharedBytes payload, std::string response_topic,
                           mqtt::Bytes correlation_data = {},
                           mqtt::QoS qos = mqtt::QoS::at_least_once);

// The response to `request`: to its Response Topic, with its Correlation
// Data, at its QoS. nullopt when the request has no Response Topic.
std::optional<mqtt::Publish> make_response(const mqtt::Publish& request, mqtt::SharedBytes payload);

}  // namespace assay::client
