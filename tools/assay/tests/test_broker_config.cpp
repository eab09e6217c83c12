// The broker's JSON configuration: every error names its key.
#include <gtest/gtest.h>

#include "broker_config.hpp"

namespace assay::tools {
namespace {

using nlohmann::json;

std::string apply(const char* text, broker::ServerOptions& o) {
  return apply_broker_config(json::parse(text), o);
}

TEST(BrokerConfig, AppliesEveryKey) {
  broker::ServerOptions o;
  EXPECT_EQ(apply(R"({"listeners": [{"address": "0.0.0.0", "port": 1884},
                                      {"address": "::1", "port": 1885}],
                     "log_level": "debug", "max_connections": 10, "maximum_packet_size": 4096,
                     "receive_maximum": 20, "topic_alias_maximum": 0, "maximum_qos": 1,
                     "retain_available": false, "server_keep_alive": 30,
                     "maximum_session_expiry": 600, "minimum_client_id_length": 3,
                     "assign_client_ids": false, "max_subscriptions_per_client": 5,
                     "max_queued_messages": 7, "max_queued_bytes": 1000,
                     "queue_qos0_offline": true, "max_retained_messages": 9,
                     "connect_timeout": 4, "threads": 3, "output_buffer_limit": 100000})",
                  o),
            "");
  ASSERT_EQ(o.listeners.size(), 2u);
  EXPECT_EQ(o.listeners[1].address, "::1");
  EXPECT_EQ(o.listeners[1].port, 1885);
  EXPECT_EQ(o.log_level, broker::LogLevel::debug);
  EXPECT_EQ(o.engine.max_connections, 10u);
  EXPECT_EQ(o.engine.maximum_qos, mqtt::QoS::at_least_once);
  EXPECT_FALSE(o.engine.retain_available);
  EXPECT_EQ(o.engine.server_keep_alive, 30);
  EXPECT_EQ(o.engine.session_limits.max_queued_messages, 7u);
  EXPECT_EQ(o.engine.connect_timeout, std::chrono::seconds(4));
  EXPECT_EQ(o.threads, 3u);
  EXPECT_EQ(o.output_buffer_limit, 100000u);
}

TEST(BrokerConfig, ErrorsNameTheKey) {
  broker::ServerOptions o;
  EXPECT_EQ(apply(R"({"prot": 1883})", o), "unknown key \"prot\"");
  EXPECT_EQ(apply(R"({"listeners": [{"port": 70000}]})", o),
            "\"listeners[0].port\": must be between 0 and 65535");
  EXPECT_EQ(apply(R"({"listeners": [{"adress": "x"}]})", o), "unknown key \"listeners[0].adress\"");
  EXPECT_EQ(apply(R"({"maximum_qos": 3})", o), "\"maximum_qos\": must be between 0 and 2");
  EXPECT_EQ(apply(R"({"retain_available": 1})", o), "\"retain_available\": must be true or false");
  EXPECT_EQ(apply(R"({"log_level": "loud"})", o),
            "\"log_level\": must be error, warning, info or debug");
  EXPECT_EQ(apply(R"({"threads": -1})", o), "\"threads\": must be between 0 and 256");
  EXPECT_EQ(apply(R"({"listeners": []})", o), "\"listeners\": must be a non-empty array");
  EXPECT_EQ(apply(R"([1, 2])", o), "the configuration must be a JSON object");
}

}  // namespace
}  // namespace assay::tools
