#include "assay/client/scram_authenticator.hpp"

namespace assay::client {

namespace {

std::string_view text_of(const mqtt::Bytes& b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

mqtt::Bytes bytes_of(const std::string& s) {
  return mqtt::Bytes(s.begin(), s.end());
}

}  // namespace

ScramAuthenticator::ScramAuthenticator(std::string user, std::string password)
    : user_(std::move(user)), password_(std::move(password)) {}

std::string ScramAuthenticator::method() const {
  return std::string(scram::method_name);
}

std::optional<mqtt::Bytes> ScramAuthenticator::initial_data() {
  exchange_.emplace(user_, password_);  // a fresh nonce per exchange
  exchange_->set_cache(cache_);
  failure_.reset();
  return bytes_of(exchange_->first());
}

std::optional<mqtt::Bytes> ScramAuthenticator::respond(const mqtt::Auth& challenge) {
  const mqtt::Bytes* data = challenge.properties.binary(mqtt::PropertyId::authentication_data);
  if (!exchange_ || data == nullptr) {
    failure_ = scram::Failure{"other-error", "a challenge without a server-first message"};
    return std::nullopt;
  }
  auto answer = exchange_->respond(text_of(*data));
  if (auto* f = std::get_if<scram::Failure>(&answer)) {
    failure_ = std::move(*f);
    return std::nullopt;
  }
  cache_ = exchange_->cache();
  return bytes_of(std::get<std::string>(answer));
}

bool ScramAuthenticator::completed(const mqtt::Properties& properties) {
  const mqtt::Bytes* data = properties.binary(mqtt::PropertyId::authentication_data);
  if (!exchange_ || data == nullptr) {
    failure_ = scram::Failure{"other-error", "success without the server's signature"};
    return false;
  }
  failure_ = exchange_->verify(text_of(*data));
  exchange_.reset();
  return !failure_.has_value();
}

}  // namespace assay::client
