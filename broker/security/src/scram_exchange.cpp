// FileSecurity's SCRAM-SHA-256 exchange (5.0 enhanced authentication):
// client-first in the CONNECT (or AUTH 0x19), server-first out in AUTH 0x18,
// client-final in AUTH 0x18, server-final out in the CONNACK (or AUTH 0x00).
// The broker only computes HMACs here: the PBKDF2 work is the client's.
#include "assay/broker/security/file_security.hpp"

namespace assay::broker::security {

using mqtt::ReasonCode;
using Step = AuthExchange::Step;

class ScramExchange final : public AuthExchange {
 public:
  ScramExchange(FileSecurity& security, std::string_view client_id, const ConnectContext& context,
                const FileSecurity::Rules& rules)
      : security_(security),
        client_id_(client_id),
        peer_(context.peer),
        expected_user_(context.expected_user),
        server_(rules.scram_mock_key, scram::random_nonce(), rules.scram_mock_iterations) {}

  Step step(const std::optional<mqtt::Bytes>& data, mqtt::Time now) override {
    const std::string_view text =
        data ? std::string_view(reinterpret_cast<const char*>(data->data()), data->size())
             : std::string_view();
    switch (stage_++) {
      case 0:
        return first(text, now);
      case 1:
        return last(text, now);
      default:
        return refuse(ReasonCode::protocol_error, "a step after the exchange ended");
    }
  }

 private:
  Step first(std::string_view client_first, mqtt::Time now) {
    auto user = server_.user_of(client_first);
    if (const auto* f = std::get_if<scram::Failure>(&user)) {
      return refuse(ReasonCode::not_authorized, f->detail);
    }
    if (!expected_user_.empty() && server_.user() != expected_user_) {
      return refuse(ReasonCode::not_authorized,
                    "not the connection's user \"" + expected_user_ + "\"");
    }
    if (security_.locked_out(peer_, now)) return refused_unchecked();
    const auto rules = security_.rules();
    const PasswordHash* hash = rules->passwords ? rules->passwords->find(server_.user()) : nullptr;
    std::optional<scram::Credential> credential;
    if (hash != nullptr) credential = hash->scram_credential();
    if (hash != nullptr && !credential) {
      // The exchange goes on as for an unknown user; the log says why.
      why_ = "the user's hash is not a SCRAM credential (assay passwd --scram makes one)";
    }
    auto challenge = server_.challenge(credential);
    if (const auto* f = std::get_if<scram::Failure>(&challenge)) {
      return refuse(ReasonCode::not_authorized, f->detail);
    }
    const std::string& message = std::get<std::string>(challenge);
    return Step{Step::Kind::challenge, mqtt::Bytes(message.begin(), message.end()), {}, {}};
  }

  Step last(std::string_view client_final, mqtt::Time now) {
    // Again: failures on other connections may have locked the address
    // out since this exchange began.
    if (security_.locked_out(peer_, now)) return refused_unchecked();
    auto answer = server_.finish(client_final);
    if (const auto* f = std::get_if<scram::Failure>(&answer)) {
      const bool proof = f->error == "invalid-proof";
      if (proof) security_.failed(peer_, now);
      return refuse(proof ? ReasonCode::bad_user_name_or_password : ReasonCode::not_authorized,
                    why_.empty() ? f->detail : why_);
    }
    security_.succeeded(peer_);
    const std::string& message = std::get<std::string>(answer);
    return Step{
        Step::Kind::success, mqtt::Bytes(message.begin(), message.end()), {}, server_.user()};
  }

  Step refuse(ReasonCode rc, const std::string& why) {
    log("login failed", why);
    return Step{Step::Kind::refused, {}, rc, {}};
  }

  // The address is locked out: refused before the message is looked at.
  Step refused_unchecked() const {
    log("login refused unchecked", "too many failures from this address, wait");
    return Step{Step::Kind::refused, {}, ReasonCode::bad_user_name_or_password, {}};
  }

  void log(std::string_view what, std::string_view why) const {
    if (!security_.log_) return;
    std::string line(what);
    line.append(" (SCRAM-SHA-256): ");
    if (!server_.user().empty()) line.append("user \"").append(server_.user()).append("\", ");
    line.append("client \"").append(client_id_).append("\"");
    if (!peer_.empty()) line.append(" from ").append(peer_);
    line.append(": ").append(why);
    security_.log_(Severity::warning, line);
  }

  FileSecurity& security_;
  std::string client_id_;
  std::string peer_;
  std::string expected_user_;
  scram::Server server_;
  int stage_ = 0;
  std::string why_;
};

std::unique_ptr<AuthExchange> FileSecurity::exchange(std::string_view method,
                                                     std::string_view client_id,
                                                     const ConnectContext& context) {
  if (method != scram::method_name) return nullptr;
  return std::make_unique<ScramExchange>(*this, client_id, context, *rules());
}

}  // namespace assay::broker::security
