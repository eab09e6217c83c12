#include "broker_command.hpp"

#include <fstream>
#include <iostream>
#include <memory>
#include <variant>

#include "assay/broker/security/file_security.hpp"
#include "broker_config.hpp"

namespace assay::tools {

namespace {

struct BrokerArgs {
  std::string config;
  std::string bind;
  int port = -1;
  int threads = -1;
  bool verbose = false;
  bool quiet = false;
};

broker::LogLevel level_of(broker::security::Severity s) {
  switch (s) {
    case broker::security::Severity::debug:
      return broker::LogLevel::debug;
    case broker::security::Severity::info:
      return broker::LogLevel::info;
    case broker::security::Severity::warning:
      break;
  }
  return broker::LogLevel::warning;
}

// The password and ACL files, or nothing when the broker lets everyone in
// and do everything (no files, anonymous allowed). Exits 2 with the file
// and line at fault.
std::shared_ptr<broker::security::FileSecurity> open_security(const BrokerConfig& c) {
  const broker::security::SecurityOptions s = c.security();
  const broker::LogLevel threshold = c.server.log_level;
  auto log = [threshold](broker::security::Severity severity, const std::string& text) {
    if (level_of(severity) <= threshold) broker::write_log(level_of(severity), text);
  };
  if (!s.allow_anonymous && s.password_file.empty() && !c.allow_anonymous.has_value()) {
    log(broker::security::Severity::warning,
        "anonymous clients are refused: a listener is not on loopback and there is no "
        "password_file (set \"allow_anonymous\": true to let them in)");
  }
  if (s.allow_anonymous && s.password_file.empty() && s.acl_file.empty()) return nullptr;
  auto opened = broker::security::FileSecurity::open(s, log);
  if (auto* error = std::get_if<std::string>(&opened)) {
    std::cerr << "assay broker: " << *error << '\n';
    throw CLI::RuntimeError(2);
  }
  return std::get<std::shared_ptr<broker::security::FileSecurity>>(opened);
}

// The log of sessions and retained messages, recovered; nothing when
// persistence is off. The engine that uses a store runs alone: more threads
// asked for are an error. Exits 2 naming the file when it cannot be used.
// The front end drives the FileStore to the disk: group commit per loop
// turn, and the interval policy's flushes.
class FileStoreDriver final : public broker::StoreDriver {
 public:
  explicit FileStoreDriver(std::shared_ptr<broker::FileStore> store) : store_(std::move(store)) {}
  void commit() override { store_->commit(); }
  std::optional<std::chrono::steady_clock::time_point> flush_due() const override {
    return store_->flush_due();
  }
  void flush() override { store_->flush(); }

 private:
  std::shared_ptr<broker::FileStore> store_;
};

std::shared_ptr<broker::FileStore> open_store(BrokerConfig& c) {
  if (c.persistence_file.empty()) return nullptr;
  broker::ServerOptions& o = c.server;
  if (o.threads > 1) {
    std::cerr << "assay broker: persistence_file needs one engine thread (threads 1), not "
              << o.threads << '\n';
    throw CLI::RuntimeError(2);
  }
  o.threads = 1;
  std::shared_ptr<broker::FileStore> store;
  broker::FileStoreOptions options = c.persistence;
  options.group_commit = true;  // the front end commits once per loop turn
  try {
    store = std::make_shared<broker::FileStore>(c.persistence_file, options);
  } catch (const std::exception& e) {
    std::cerr << "assay broker: persistence_file: " << e.what() << '\n';
    throw CLI::RuntimeError(2);
  }
  const broker::FileStore::Recovery& r = store->recovery();
  std::string line = "persistence: ";
  line.append(c.persistence_file).append(": ").append(r.summary());
  broker::write_log(r.bytes_cut > 0 ? broker::LogLevel::warning : broker::LogLevel::info, line);
  o.engine.store = store;
  o.store_driver = std::make_shared<FileStoreDriver>(store);
  return store;
}

}  // namespace

void add_broker_command(CLI::App& app) {
  auto args = std::make_shared<BrokerArgs>();
  CLI::App* cmd = app.add_subcommand(
      "broker",
      "Run the reference MQTT 3.1.1/5.0 broker. With no options it listens on 127.0.0.1:1883.");
  cmd->add_option("-c,--config", args->config, "JSON configuration file (see docs/broker.md)");
  cmd->add_option("-p,--port", args->port, "Port of the listener (overrides the file)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--bind", args->bind, "Address of the listener (default 127.0.0.1)");
  cmd->add_option("-t,--threads", args->threads,
                  "Engine threads (default: one per core; overrides the file)")
      ->check(CLI::Range(1, 256));
  cmd->add_flag("-v,--verbose", args->verbose, "Log every connection (debug level)");
  cmd->add_flag("-q,--quiet", args->quiet, "Log errors only");
  cmd->footer(
      "\nThe configuration file (JSON) sets everything else: listeners (TCP, TLS,\n"
      "WebSocket, secure WebSocket), password_file and acl_file (Mosquitto's\n"
      "formats; make accounts with `assay passwd`), persistence_file (nothing\n"
      "acknowledged is lost across restarts), and the limits. docs/broker.md lists\n"
      "every key and has a worked example. For instance:\n"
      "  {\"listeners\": [{\"address\": \"0.0.0.0\", \"port\": 8883,\n"
      "                  \"tls\": {\"cert_file\": \"server.pem\", \"key_file\": "
      "\"server.key\"}}],\n"
      "   \"password_file\": \"passwd\", \"persistence_file\": \"store.log\"}\n"
      "SIGHUP reads the password and ACL files again; SIGINT/SIGTERM stop the broker.");
  cmd->callback([args] {
    BrokerConfig config_file;
    broker::ServerOptions& options = config_file.server;
    if (!args->config.empty()) {
      std::ifstream in(args->config);
      if (!in) {
        std::cerr << "assay broker: cannot open " << args->config << '\n';
        throw CLI::RuntimeError(2);
      }
      nlohmann::json config;
      try {
        config = nlohmann::json::parse(in);
      } catch (const nlohmann::json::parse_error& e) {
        std::cerr << "assay broker: " << args->config << ": not valid JSON: " << e.what() << '\n';
        throw CLI::RuntimeError(2);
      }
      if (const std::string error = apply_broker_config(config, config_file); !error.empty()) {
        std::cerr << "assay broker: " << args->config << ": " << error << '\n';
        throw CLI::RuntimeError(2);
      }
    }
    if (args->port >= 0 || !args->bind.empty()) {
      broker::Listener l = options.listeners.empty() ? broker::Listener{} : options.listeners[0];
      if (args->port >= 0) l.port = static_cast<std::uint16_t>(args->port);
      if (!args->bind.empty()) l.address = args->bind;
      options.listeners = {l};
    }
    if (args->threads > 0) options.threads = static_cast<std::size_t>(args->threads);
    if (args->verbose) options.log_level = broker::LogLevel::debug;
    if (args->quiet) options.log_level = broker::LogLevel::error;
    const std::shared_ptr<broker::security::FileSecurity> security = open_security(config_file);
    if (security) {
      options.engine.authenticator = security;
      options.engine.authorizer = security;
      options.on_hangup = [security] { security->reload(); };
    }
    const std::shared_ptr<broker::FileStore> store = open_store(config_file);
    int code = 0;
    try {
      code = broker::run_server(options);
    } catch (const std::exception& e) {  // an engine that cannot start (an unreadable store)
      std::cerr << "assay broker: " << e.what() << '\n';
      throw CLI::RuntimeError(2);
    }
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace assay::tools
