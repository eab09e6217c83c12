#include "assay/client/request_response.hpp"

namespace assay::client {

using namespace mqtt;

Publish make_request(std::string topic, SharedBytes payload, std::string response_topic,
                     Bytes correlation_data, QoS qos) {
  Publish p;
  p.topic = std::move(topic);
  p.payload = std::move(payload);
  p.qos = qos;
  p.properties.add(PropertyId::response_topic, std::move(response_topic));
  if (!correlation_data.empty()) {
    p.properties.add(PropertyId::correlation_data, std::move(correlation_data));
  }
  return p;
}

std::optional<Publish> make_response(const Publish& request, SharedBytes payload) {
  const std::string* topic = request.properties.string(PropertyId::response_topic);
  if (topic == nullptr) return std::nullopt;
  Publish p;
  p.topic = *topic;
  p.payload = std::move(payload);
  p.qos = request.qos;
  if (const Bytes* c = request.properties.binary(PropertyId::correlation_data)) {
    p.properties.add(PropertyId::correlation_data, *c);
  }
  return p;
}

}  // namespace assay::client
