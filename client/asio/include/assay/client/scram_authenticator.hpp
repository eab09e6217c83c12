// SCRAM-SHA-256 for the client engine (5.0 enhanced authentication,
// docs/client.md): ClientConfig::authenticator =
// std::make_shared<ScramAuthenticator>("alice", "secret") logs in without the
// password crossing the wire, and refuses a server that cannot prove it
// knows the user's keys. The same object serves every reconnect and
// Engine::reauthenticate(); the PBKDF2 result is kept between them while
// the server's salt and iteration count stay the same.
#pragma once

#include <optional>
#include <string>

#include "assay/client/config.hpp"
#include "assay/scram/scram.hpp"

namespace assay::client {

class ScramAuthenticator final : public Authenticator {
 public:
  ScramAuthenticator(std::string user, std::string password);

  std::string method() const override;
  std::optional<mqtt::Bytes> initial_data() override;
  std::optional<mqtt::Bytes> respond(const mqtt::Auth& challenge) override;
  bool completed(const mqtt::Properties& properties) override;

  // Why the last exchange failed on this side (a bad server message or
  // signature); nullopt when it did not.
  const std::optional<scram::Failure>& failure() const { return failure_; }

 private:
  std::string user_;
  std::string password_;
  std::optional<scram::Client> exchange_;
  scram::Client::Cache cache_;
  std::optional<scram::Failure> failure_;
};

}  // namespace assay::client
