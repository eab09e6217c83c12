// The broker's JSON configuration: every error names its key.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "broker_config.hpp"

namespace assay::tools {
namespace {

using nlohmann::json;

std::string apply(const char* text, BrokerConfig& c) {
  return apply_broker_config(json::parse(text), c);
}

// Every key the configuration knows, each set to a value other than its
// default, and each asserted.
TEST(BrokerConfig, AppliesEveryKey) {
  const char* text = R"({"listeners": [{"address": "0.0.0.0", "port": 1884},
                                        {"address": "::1", "port": 1885}],
                       "log_level": "debug", "threads": 3, "output_buffer_limit": 100000,
                       "closing_grace": 2, "max_connections": 10, "maximum_packet_size": 4096,
                       "receive_maximum": 20, "topic_alias_maximum": 0, "maximum_qos": 1,
                       "retain_available": false, "server_keep_alive": 30,
                       "maximum_session_expiry": 600, "minimum_client_id_length": 3,
                       "assign_client_ids": false, "max_subscriptions_per_client": 5,
                       "max_queued_messages": 7, "max_queued_bytes": 1000,
                       "queue_qos0_offline": true, "max_retained_messages": 9,
                       "max_topic_levels": 12, "sys_interval": 0, "connect_timeout": 4,
                       "allow_anonymous": true, "password_file": "/etc/assay/passwd",
                       "acl_file": "/etc/assay/acl", "persistence_file": "/var/lib/assay/log",
                       "persistence_sync": "interval", "persistence_sync_interval": 50})";
  // The test covers every key there is: a new key fails it until it is here.
  const json parsed = json::parse(text);
  std::vector<std::string> given;
  for (const auto& [key, value] : parsed.items())
    given.push_back(key);
  std::sort(given.begin(), given.end());
  EXPECT_EQ(given, broker_config_keys());

  BrokerConfig c;
  ASSERT_EQ(apply(text, c), "");
  EXPECT_EQ(c.allow_anonymous, true);
  EXPECT_EQ(c.password_file, "/etc/assay/passwd");
  EXPECT_EQ(c.acl_file, "/etc/assay/acl");
  EXPECT_EQ(c.persistence_file, "/var/lib/assay/log");
  EXPECT_EQ(c.persistence.sync, broker::SyncPolicy::interval);
  EXPECT_EQ(c.persistence.interval, std::chrono::milliseconds(50));
  const broker::ServerOptions& o = c.server;
  ASSERT_EQ(o.listeners.size(), 2u);
  EXPECT_EQ(o.listeners[0].address, "0.0.0.0");
  EXPECT_EQ(o.listeners[0].port, 1884);
  EXPECT_EQ(o.listeners[1].address, "::1");
  EXPECT_EQ(o.listeners[1].port, 1885);
  EXPECT_EQ(o.log_level, broker::LogLevel::debug);
  EXPECT_EQ(o.threads, 3u);
  EXPECT_EQ(o.output_buffer_limit, 100000u);
  EXPECT_EQ(o.closing_grace, std::chrono::seconds(2));
  const broker::EngineConfig& e = o.engine;
  EXPECT_EQ(e.max_connections, 10u);
  EXPECT_EQ(e.maximum_packet_size, 4096u);
  EXPECT_EQ(e.receive_maximum, 20);
  EXPECT_EQ(e.topic_alias_maximum, 0);
  EXPECT_EQ(e.maximum_qos, mqtt::QoS::at_least_once);
  EXPECT_FALSE(e.retain_available);
  EXPECT_EQ(e.server_keep_alive, 30);
  EXPECT_EQ(e.maximum_session_expiry, 600u);
  EXPECT_EQ(e.minimum_client_id_length, 3u);
  EXPECT_FALSE(e.assign_client_ids);
  EXPECT_EQ(e.max_subscriptions_per_client, 5u);
  EXPECT_EQ(e.session_limits.max_queued_messages, 7u);
  EXPECT_EQ(e.session_limits.max_queued_bytes, 1000u);
  EXPECT_TRUE(e.queue_qos0_offline);
  EXPECT_EQ(e.max_retained_messages, 9u);
  EXPECT_EQ(e.max_topic_levels, 12u);
  EXPECT_EQ(e.sys_interval, mqtt::Duration{0});
  EXPECT_EQ(e.connect_timeout, std::chrono::seconds(4));

  // The defaults differ from every value above, so each assertion shows
  // its key was applied.
  const broker::ServerOptions d;
  EXPECT_NE(d.threads, o.threads);
  EXPECT_NE(d.closing_grace, o.closing_grace);
  EXPECT_NE(d.output_buffer_limit, o.output_buffer_limit);
  EXPECT_NE(d.engine.max_topic_levels, e.max_topic_levels);
  EXPECT_NE(d.engine.sys_interval, e.sys_interval);
  EXPECT_NE(d.engine.topic_alias_maximum, e.topic_alias_maximum);
  EXPECT_NE(d.engine.session_limits.max_queued_bytes, e.session_limits.max_queued_bytes);

  // server_keep_alive null turns it off again.
  ASSERT_EQ(apply(R"({"server_keep_alive": null})", c), "");
  EXPECT_FALSE(o.engine.server_keep_alive.has_value());
}

// Anonymous clients are let in by default only on loopback listeners and
// without a password file, as Mosquitto 2 does.
TEST(BrokerConfig, AnonymousDefaultsToLoopbackOnly) {
  BrokerConfig c;
  EXPECT_TRUE(c.security().allow_anonymous);  // 127.0.0.1
  ASSERT_EQ(apply(R"({"listeners": [{"address": "::1"}, {"address": "127.0.0.2"}]})", c), "");
  EXPECT_TRUE(c.security().allow_anonymous);
  ASSERT_EQ(apply(R"({"listeners": [{"address": "127.0.0.1"}, {"address": "0.0.0.0"}]})", c), "");
  EXPECT_FALSE(c.security().allow_anonymous);
  ASSERT_EQ(apply(R"({"allow_anonymous": true})", c), "");
  EXPECT_TRUE(c.security().allow_anonymous);

  BrokerConfig with_accounts;
  ASSERT_EQ(apply(R"({"password_file": "passwd"})", with_accounts), "");
  EXPECT_FALSE(with_accounts.security().allow_anonymous);
  EXPECT_EQ(with_accounts.security().password_file, "passwd");
  EXPECT_TRUE(is_loopback("localhost"));
  EXPECT_FALSE(is_loopback("192.168.1.2"));
  EXPECT_FALSE(is_loopback("::"));
}

TEST(BrokerConfig, TlsListeners) {
  using Clients = broker::TlsOptions::ClientCertificates;
  using Name = broker::TlsOptions::CertificateName;
  BrokerConfig o;
  ASSERT_EQ(apply(R"({"listeners": [{"port": 1883},
      {"port": 8883, "tls": {"cert_file": "s.pem", "key_file": "s.key", "ca_file": "ca.pem",
                             "crl_file": "crl.pem", "client_certificates": "required",
                             "username_from_certificate": "san", "min_version": "1.3"}}]})",
                  o),
            "");
  ASSERT_EQ(o.server.listeners.size(), 2u);
  EXPECT_FALSE(o.server.listeners[0].tls);
  ASSERT_TRUE(o.server.listeners[1].tls);
  const broker::TlsOptions& t = *o.server.listeners[1].tls;
  EXPECT_EQ(t.cert_file, "s.pem");
  EXPECT_EQ(t.key_file, "s.key");
  EXPECT_EQ(t.ca_file, "ca.pem");
  EXPECT_EQ(t.crl_file, "crl.pem");
  EXPECT_EQ(t.client_certificates, Clients::required);
  EXPECT_EQ(t.username_from_certificate, Name::san);
  EXPECT_TRUE(t.tls_1_3_only);

  EXPECT_EQ(apply(R"({"listeners": [{"tls": {"cert_file": "s.pem"}}]})", o),
            "\"listeners[0].tls\": needs cert_file and key_file");
  EXPECT_EQ(apply(R"({"listeners": [{"tls": {"cert_file": "c", "key_file": "k",
                                              "client_certificates": "optional"}}]})",
                  o),
            "\"listeners[0].tls.client_certificates\": needs ca_file to verify them");
  EXPECT_EQ(apply(R"({"listeners": [{"tls": {"cert_file": "c", "key_file": "k",
                                              "crl_file": "crl.pem"}}]})",
                  o),
            "\"listeners[0].tls.crl_file\": checks client certificates: needs "
            "client_certificates optional or required");
  EXPECT_EQ(apply(R"({"listeners": [{"tls": {"cert_file": "c", "key_file": "k",
                                              "username_from_certificate": "cn"}}]})",
                  o),
            "\"listeners[0].tls.username_from_certificate\": needs client_certificates "
            "optional or required");
  EXPECT_EQ(apply(R"({"listeners": [{"tls": {"cert_file": "c", "key_file": "k",
                                              "min_version": "1.1"}}]})",
                  o),
            "\"listeners[0].tls.min_version\": must be one of 1.2, 1.3");
  EXPECT_EQ(apply(R"({"listeners": [{"tls": {"certfile": "c"}}]})", o),
            "unknown key \"listeners[0].tls.certfile\"");
}

TEST(BrokerConfig, WebSocketListeners) {
  BrokerConfig o;
  ASSERT_EQ(apply(R"({"listeners": [{"port": 8080, "websocket": {}},
                                    {"port": 8081, "websocket": {"path": "/ws"}}]})",
                  o),
            "");
  ASSERT_EQ(o.server.listeners.size(), 2u);
  ASSERT_TRUE(o.server.listeners[0].websocket);
  EXPECT_EQ(o.server.listeners[0].websocket->path, "/mqtt");
  ASSERT_TRUE(o.server.listeners[1].websocket);
  EXPECT_EQ(o.server.listeners[1].websocket->path, "/ws");
  EXPECT_EQ(apply(R"({"listeners": [{"websocket": {"path": "ws"}}]})", o),
            "\"listeners[0].websocket.path\": must start with /");
  EXPECT_EQ(apply(R"({"listeners": [{"websocket": {"paht": "/"}}]})", o),
            "unknown key \"listeners[0].websocket.paht\"");
  EXPECT_EQ(apply(R"({"listeners": [{"websocket": true}]})", o),
            "\"listeners[0].websocket\": must be an object");
}

TEST(BrokerConfig, ErrorsNameTheKey) {
  BrokerConfig o;
  EXPECT_EQ(apply(R"({"prot": 1883})", o), "unknown key \"prot\"");
  EXPECT_EQ(apply(R"({"listeners": [{"port": 70000}]})", o),
            "\"listeners[0].port\": must be between 0 and 65535");
  EXPECT_EQ(apply(R"({"listeners": [{"adress": "x"}]})", o), "unknown key \"listeners[0].adress\"");
  EXPECT_EQ(apply(R"({"maximum_qos": 3})", o), "\"maximum_qos\": must be between 0 and 2");
  EXPECT_EQ(apply(R"({"retain_available": 1})", o), "\"retain_available\": must be true or false");
  EXPECT_EQ(apply(R"({"log_level": "loud"})", o),
            "\"log_level\": must be one of error, warning, info, debug");
  EXPECT_EQ(apply(R"({"threads": -1})", o), "\"threads\": must be between 0 and 256");
  EXPECT_EQ(apply(R"({"listeners": []})", o), "\"listeners\": must be a non-empty array");
  EXPECT_EQ(apply(R"([1, 2])", o), "the configuration must be a JSON object");
  EXPECT_EQ(apply(R"({"password_file": ""})", o), "\"password_file\": must name a file");
  EXPECT_EQ(apply(R"({"acl_file": 7})", o), "\"acl_file\": must be a string");
  EXPECT_EQ(apply(R"({"persistence_sync": "always"})", o),
            "\"persistence_sync\": must be one of every, interval, never");
  EXPECT_EQ(apply(R"({"persistence_file": ""})", o), "\"persistence_file\": must name a file");
  EXPECT_EQ(apply(R"({"allow_anonymous": "yes"})", o),
            "\"allow_anonymous\": must be true or false");
}

}  // namespace
}  // namespace assay::tools
