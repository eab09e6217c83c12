// What `assay pub` and `assay sub` share at run time: the io_context and
// the client, -d's packet lines (worded as mosquitto's), errors that go to
// stderr unless --quiet, and the exit codes (docs/client.md, "Exit codes").
#pragma once

#include <utility>  // before Asio: Boost 1.74 uses std::exchange unincluded

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>

#include "assay/client/client.hpp"
#include "client_args.hpp"

namespace assay::tools {

// Exit codes, mosquitto's where they overlap.
namespace exit_code {
constexpr int ok = 0;
constexpr int error = 1;  // bad usage, unreachable, a file or stdin that cannot be read
constexpr int connection_lost = 7;
constexpr int tls = 8;         // a TLS failure other than a certificate that does not verify (1)
constexpr int timed_out = 27;  // sub -W
constexpr int not_connected_yet = 255;  // sub -W or a signal before CONNACK
}  // namespace exit_code

class ClientTool {
 public:
  ClientTool(const ClientArgs& args, Prepared prepared, const char* name);

  boost::asio::io_context io;
  client::Client& client() { return *client_; }
  const Prepared& prepared() const { return prepared_; }
  mqtt::Version version() const { return prepared_.options.engine.connect.version; }

  // stderr, unless --quiet.
  void error(const std::string& line) const;
  // The exit code for a failed first connection attempt, after saying why:
  // a refused CONNACK exits with its code (3.1.1: 1-5; 5.0: >= 0x80).
  int connect_failed(client::error_code ec);
  // Ends the run with `code` once the DISCONNECT is out.
  void finish(int code, mqtt::Disconnect disconnect = {});
  // Ends at once, without DISCONNECT.
  void abort(int code);
  int exit_code() const { return exit_code_; }

 private:
  void debug_line(const client::Event& e);

  const ClientArgs& args_;
  Prepared prepared_;
  std::string name_;
  std::string client_id_;  // for -d; "(null)" until known
  std::unique_ptr<client::Client> client_;
  int exit_code_ = 0;
  bool finishing_ = false;
};

// Parses the arguments of `cmd`'s sub-command, printing a UsageError the
// way mosquitto's tools do.
int usage_error(const char* tool, const std::string& message);

}  // namespace assay::tools
