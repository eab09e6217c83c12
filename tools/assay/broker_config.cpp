#include "broker_config.hpp"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <functional>
#include <limits>
#include <map>
#include <utility>
#include <vector>

namespace assay::tools {

using nlohmann::json;

namespace {

struct ConfigError {
  std::string message;
};

template <class T>
T integer(const json& v, const std::string& key, T min, T max) {
  if (!v.is_number_integer()) throw ConfigError{"\"" + key + "\": must be an integer"};
  const auto n = v.get<long long>();
  if (n < static_cast<long long>(min) || n > static_cast<long long>(max)) {
    throw ConfigError{"\"" + key + "\": must be between " + std::to_string(min) + " and " +
                      std::to_string(max)};
  }
  return static_cast<T>(n);
}

bool boolean(const json& v, const std::string& key) {
  if (!v.is_boolean()) throw ConfigError{"\"" + key + "\": must be true or false"};
  return v.get<bool>();
}

std::string string(const json& v, const std::string& key) {
  if (!v.is_string()) throw ConfigError{"\"" + key + "\": must be a string"};
  return v.get<std::string>();
}

// One of `names`, given as a string: the value it stands for.
template <class E>
E choice(const json& v, const std::string& key,
         const std::vector<std::pair<const char*, E>>& names) {
  const std::string s = string(v, key);
  std::string all;
  for (const auto& [name, value] : names) {
    if (s == name) return value;
    if (!all.empty()) all += ", ";
    all += name;
  }
  throw ConfigError{"\"" + key + "\": must be one of " + all};
}

broker::TlsOptions tls_options(const json& v, const std::string& key) {
  using Clients = broker::TlsOptions::ClientCertificates;
  using Name = broker::TlsOptions::CertificateName;
  if (!v.is_object()) throw ConfigError{"\"" + key + "\": must be an object"};
  broker::TlsOptions t;
  for (const auto& [k, value] : v.items()) {
    const std::string path = key + "." + k;
    if (k == "cert_file") {
      t.cert_file = string(value, path);
    } else if (k == "key_file") {
      t.key_file = string(value, path);
    } else if (k == "ca_file") {
      t.ca_file = string(value, path);
    } else if (k == "crl_file") {
      t.crl_file = string(value, path);
    } else if (k == "client_certificates") {
      t.client_certificates = choice<Clients>(value, path,
                                              {{"none", Clients::none},
                                               {"optional", Clients::optional},
                                               {"required", Clients::required}});
    } else if (k == "username_from_certificate") {
      t.username_from_certificate =
          choice<Name>(value, path, {{"none", Name::none}, {"cn", Name::cn}, {"san", Name::san}});
    } else if (k == "min_version") {
      t.tls_1_3_only = choice<bool>(value, path, {{"1.2", false}, {"1.3", true}});
    } else {
      throw ConfigError{"unknown key \"" + path + "\""};
    }
  }
  if (t.cert_file.empty() || t.key_file.empty()) {
    throw ConfigError{"\"" + key + "\": needs cert_file and key_file"};
  }
  if (t.client_certificates != Clients::none && t.ca_file.empty()) {
    throw ConfigError{"\"" + key + ".client_certificates\": needs ca_file to verify them"};
  }
  if (!t.crl_file.empty() && t.client_certificates == Clients::none) {
    throw ConfigError{"\"" + key +
                      ".crl_file\": checks client certificates: needs client_certificates "
                      "optional or required"};
  }
  if (t.username_from_certificate != Name::none && t.client_certificates == Clients::none) {
    throw ConfigError{"\"" + key +
                      ".username_from_certificate\": needs client_certificates optional or "
                      "required"};
  }
  return t;
}

broker::Listener listener(const json& v, const std::string& key) {
  if (!v.is_object()) throw ConfigError{"\"" + key + "\": must be an object"};
  broker::Listener l;
  for (const auto& [k, value] : v.items()) {
    const std::string path = key + "." + k;
    if (k == "address") {
      l.address = string(value, path);
    } else if (k == "port") {
      l.port = integer<std::uint16_t>(value, path, 0, 65535);
    } else if (k == "tls") {
      l.tls = tls_options(value, path);
    } else if (k == "websocket") {
      if (!value.is_object()) throw ConfigError{"\"" + path + "\": must be an object"};
      broker::WebSocketOptions w;
      for (const auto& [wk, wv] : value.items()) {
        if (wk != "path") throw ConfigError{"unknown key \"" + path + "." + wk + "\""};
        w.path = string(wv, path + ".path");
        if (w.path.empty() || w.path.front() != '/') {
          throw ConfigError{"\"" + path + ".path\": must start with /"};
        }
      }
      l.websocket = w;
    } else {
      throw ConfigError{"unknown key \"" + path + "\""};
    }
  }
  return l;
}

using Setter = std::function<void(const json&, const std::string&)>;

// Every key, with what it sets in `o`.
std::map<std::string, Setter> setters(BrokerConfig& c) {
  broker::ServerOptions& o = c.server;
  broker::EngineConfig& e = o.engine;
  return {
      {"allow_anonymous",
       [&](const json& v, const std::string& k) { c.allow_anonymous = boolean(v, k); }},
      {"password_file",
       [&](const json& v, const std::string& k) {
         c.password_file = string(v, k);
         if (c.password_file.empty()) throw ConfigError{"\"" + k + "\": must name a file"};
       }},
      {"persistence_file",
       [&](const json& v, const std::string& k) {
         c.persistence_file = string(v, k);
         if (c.persistence_file.empty()) throw ConfigError{"\"" + k + "\": must name a file"};
       }},
      {"persistence_sync",
       [&](const json& v, const std::string& k) {
         c.persistence.sync =
             choice<broker::SyncPolicy>(v, k,
                                        {{"every", broker::SyncPolicy::every},
                                         {"interval", broker::SyncPolicy::interval},
                                         {"never", broker::SyncPolicy::never}});
       }},
      {"persistence_sync_interval",
       [&](const json& v, const std::string& k) {
         c.persistence.interval = std::chrono::milliseconds(integer<int>(v, k, 1, 3'600'000));
       }},
      {"acl_file",
       [&](const json& v, const std::string& k) {
         c.acl_file = string(v, k);
         if (c.acl_file.empty()) throw ConfigError{"\"" + k + "\": must name a file"};
       }},
      {"listeners",
       [&](const json& v, const std::string& k) {
         if (!v.is_array() || v.empty())
           throw ConfigError{"\"" + k + "\": must be a non-empty array"};
         o.listeners.clear();
         for (std::size_t i = 0; i < v.size(); ++i) {
           o.listeners.push_back(listener(v[i], k + "[" + std::to_string(i) + "]"));
         }
       }},
      {"log_level",
       [&](const json& v, const std::string& k) {
         using broker::LogLevel;
         o.log_level = choice<LogLevel>(v, k,
                                        {{"error", LogLevel::error},
                                         {"warning", LogLevel::warning},
                                         {"info", LogLevel::info},
                                         {"debug", LogLevel::debug}});
       }},
      {"threads", [&](const json& v,
                      const std::string& k) { o.threads = integer<std::size_t>(v, k, 0, 256); }},
      {"output_buffer_limit",
       [&](const json& v, const std::string& k) {
         o.output_buffer_limit = integer<std::size_t>(v, k, 65536, std::size_t{1} << 32);
       }},
      {"max_connections",
       [&](const json& v, const std::string& k) {
         e.max_connections = integer<std::size_t>(v, k, 1, 10'000'000);
       }},
      {"maximum_packet_size",
       [&](const json& v, const std::string& k) {
         e.maximum_packet_size = integer<std::uint32_t>(v, k, 64, mqtt::max_packet_size);
       }},
      {"receive_maximum",
       [&](const json& v, const std::string& k) {
         e.receive_maximum = integer<std::uint16_t>(v, k, 1, 65535);
       }},
      {"topic_alias_maximum",
       [&](const json& v, const std::string& k) {
         e.topic_alias_maximum = integer<std::uint16_t>(v, k, 0, 65535);
       }},
      {"maximum_qos",
       [&](const json& v, const std::string& k) {
         e.maximum_qos = static_cast<mqtt::QoS>(integer<int>(v, k, 0, 2));
       }},
      {"retain_available",
       [&](const json& v, const std::string& k) { e.retain_available = boolean(v, k); }},
      {"server_keep_alive",
       [&](const json& v, const std::string& k) {
         if (v.is_null()) {
           e.server_keep_alive.reset();
         } else {
           e.server_keep_alive = integer<std::uint16_t>(v, k, 0, 65535);
         }
       }},
      {"maximum_session_expiry",
       [&](const json& v, const std::string& k) {
         e.maximum_session_expiry = integer<std::uint32_t>(v, k, 0, mqtt::session_never_expires);
       }},
      {"minimum_client_id_length",
       [&](const json& v, const std::string& k) {
         e.minimum_client_id_length = integer<std::size_t>(v, k, 0, 65535);
       }},
      {"assign_client_ids",
       [&](const json& v, const std::string& k) { e.assign_client_ids = boolean(v, k); }},
      {"max_subscriptions_per_client",
       [&](const json& v, const std::string& k) {
         e.max_subscriptions_per_client = integer<std::size_t>(v, k, 1, 10'000'000);
       }},
      {"max_queued_messages",
       [&](const json& v, const std::string& k) {
         e.session_limits.max_queued_messages = integer<std::size_t>(v, k, 0, 100'000'000);
       }},
      {"max_queued_bytes",
       [&](const json& v, const std::string& k) {
         e.session_limits.max_queued_bytes =
             integer<std::size_t>(v, k, 0, std::numeric_limits<std::uint32_t>::max());
       }},
      {"queue_qos0_offline",
       [&](const json& v, const std::string& k) { e.queue_qos0_offline = boolean(v, k); }},
      {"max_retained_messages",
       [&](const json& v, const std::string& k) {
         e.max_retained_messages = integer<std::size_t>(v, k, 0, 100'000'000);
       }},
      {"max_topic_levels",
       [&](const json& v, const std::string& k) {
         e.max_topic_levels = integer<std::size_t>(v, k, 1, 65535);
       }},
      {"sys_interval",
       [&](const json& v, const std::string& k) {
         e.sys_interval = std::chrono::seconds(integer<int>(v, k, 0, 86400));
       }},
      {"closing_grace",
       [&](const json& v, const std::string& k) {
         o.closing_grace = std::chrono::seconds(integer<int>(v, k, 1, 3600));
       }},
      {"connect_timeout",
       [&](const json& v, const std::string& k) {
         e.connect_timeout = std::chrono::seconds(integer<int>(v, k, 1, 3600));
       }},
  };
}

}  // namespace

bool is_loopback(const std::string& address) {
  if (address == "localhost" || address == "::1") return true;
  boost::system::error_code ec;
  const auto a = boost::asio::ip::make_address(address, ec);
  return !ec && a.is_loopback();
}

bool BrokerConfig::anonymous_default() const {
  if (!password_file.empty()) return false;
  return std::all_of(server.listeners.begin(), server.listeners.end(),
                     [](const broker::Listener& l) { return is_loopback(l.address); });
}

broker::security::SecurityOptions BrokerConfig::security() const {
  broker::security::SecurityOptions s;
  s.allow_anonymous = allow_anonymous.value_or(anonymous_default());
  s.password_file = password_file;
  s.acl_file = acl_file;
  return s;
}

std::vector<std::string> broker_config_keys() {
  BrokerConfig unused;
  std::vector<std::string> out;
  for (const auto& [key, setter] : setters(unused))
    out.push_back(key);
  return out;
}

std::string apply_broker_config(const json& config, BrokerConfig& o) {
  if (!config.is_object()) return "the configuration must be a JSON object";
  const std::map<std::string, Setter> keys = setters(o);
  try {
    for (const auto& [key, value] : config.items()) {
      const auto it = keys.find(key);
      if (it == keys.end()) return "unknown key \"" + key + "\"";
      it->second(value, key);
    }
  } catch (const ConfigError& error) {
    return error.message;
  }
  return {};
}

}  // namespace assay::tools
