// The flags `assay pub` and `assay sub` share, spelt as mosquitto_pub and
// mosquitto_sub spell them (docs/client.md, "Command-line tools"), and
// what they become: the client library's Options and the 5.0 properties
// given with -D for each packet.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "assay/client/client.hpp"
#include "assay/client/scram_authenticator.hpp"

namespace assay::tools {

// A flag or combination of flags that cannot work: the message names it;
// the tool prints it with a pointer to --help and exits 1.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class Tool { pub, sub };

struct ClientArgs {
  std::string host = "localhost";
  std::optional<int> port;
  std::string url;  // -L
  std::optional<std::string> id;
  std::string id_prefix;
  std::optional<std::string> username;
  std::optional<std::string> password;
  std::string auth;  // --auth METHOD: 5.0 enhanced authentication with -u and -P
  int keep_alive = 60;
  std::string version = "311";
  bool no_clean = false;                             // -c
  std::optional<std::string> expiry;                 // -x
  std::vector<std::vector<std::string>> properties;  // -D CMD NAME VALUE / CMD user-property K V
  int qos = 0;
  std::optional<std::string> will_topic;
  std::optional<std::string> will_payload;
  int will_qos = 0;
  bool will_retain = false;
  std::string cafile;
  std::string capath;
  std::string websocket;  // --ws PATH: MQTT over WebSocket on that HTTP path
  std::string cert;
  std::string key;
  std::string tls_version;
  std::string alpn;
  bool insecure = false;
  bool os_certs = false;
  bool nodelay = false;
  bool debug = false;
  bool quiet = false;
};

// Adds the shared flags to `cmd` (-h is the host: help is --help only).
void add_client_flags(CLI::App& cmd, ClientArgs& args, Tool tool);

// What the flags mean, checked. Throws UsageError.
struct Prepared {
  client::Options options;
  mqtt::Properties publish;              // -D publish ...
  mqtt::Properties subscribe;            // -D subscribe ...
  mqtt::Properties unsubscribe;          // -D unsubscribe ...
  mqtt::Properties disconnect;           // -D disconnect ...
  std::optional<std::string> url_topic;  // the topic part of -L
  std::string target;                    // "host:port", for messages
  // --auth scram-sha-256: also in options.engine.authenticator; kept here
  // to say why a login failed on our side.
  std::shared_ptr<client::ScramAuthenticator> scram;
};
Prepared prepare(const CLI::App& cmd, const ClientArgs& args, Tool tool);

}  // namespace assay::tools
