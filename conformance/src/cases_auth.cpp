// Enhanced authentication (5.0 §4.12) with a method both sides know:
// SCRAM-SHA-256, for an account the broker was given (`assay conform
// --scram USER:PASSWORD`). Without one these cases are not applicable.
#include "assay/json/packet_json.hpp"
#include "assay/scram/scram.hpp"
#include "cases.hpp"

namespace assay::conformance {

using namespace detail;

namespace {

const std::string scram_method(scram::method_name);

Bytes bytes_of(const std::string& s) {
  return Bytes(s.begin(), s.end());
}

std::string data_of(const Properties& p) {
  const Bytes* b = p.binary(PropertyId::authentication_data);
  return b ? std::string(b->begin(), b->end()) : std::string();
}

const Options::Account& account(Context& ctx) {
  ctx.need(ctx.options.scram.has_value(),
           "needs an account the broker knows for SCRAM-SHA-256 (--scram USER:PASSWORD)");
  return *ctx.options.scram;
}

// Every AUTH and the successful CONNACK carry the CONNECT's method.
void check_method(Context& ctx, const Properties& p, const std::string& packet) {
  const std::string* m = p.string(PropertyId::authentication_method);
  ctx.check(m != nullptr && *m == scram_method,
            packet + " does not carry Authentication Method " + scram_method + " [MQTT-4.12.0-5]");
}

Auth auth_packet(ReasonCode rc, const std::string& data) {
  Auth a;
  a.reason_code = rc;
  a.properties.add(PropertyId::authentication_method, scram_method);
  a.properties.add(PropertyId::authentication_data, bytes_of(data));
  return a;
}

// CONNECT with client-first, then the challenge [MQTT-4.12.0-2]; returns
// the server-first message.
std::string start(Context& ctx, Peer& p, scram::Client& client) {
  Connect c = ctx.connect_packet(ctx.client_id());
  c.properties.add(PropertyId::authentication_method, scram_method);
  c.properties.add(PropertyId::authentication_data, bytes_of(client.first()));
  p.send(c);
  const Auth challenge = p.expect<Auth>("CONNECT with SCRAM-SHA-256's client-first message");
  ctx.check(challenge.reason_code == ReasonCode::continue_authentication,
            "the broker's AUTH does not carry 0x18 Continue authentication [MQTT-4.12.0-2]");
  check_method(ctx, challenge.properties, "the broker's AUTH");
  return data_of(challenge.properties);
}

// client-final for a server-first message; fails the case if the broker's
// message is not one a SCRAM client can answer.
std::string answer(Context& ctx, scram::Client& client, const std::string& server_first) {
  auto reply = client.respond(server_first);
  if (const auto* f = std::get_if<scram::Failure>(&reply)) {
    ctx.fail("the broker's server-first message '" + server_first +
             "' is not valid SCRAM: " + f->error + " (" + f->detail + ")");
  }
  return std::get<std::string>(reply);
}

void verify(Context& ctx, const scram::Client& client, const Properties& p,
            const std::string& packet) {
  if (const auto f = client.verify(data_of(p))) {
    ctx.fail(packet + ": the server-final message does not verify: " + f->error + " (" + f->detail +
             ")");
  }
}

// A connection logged in with SCRAM.
Peer& logged_in(Context& ctx, const std::string& name) {
  const Options::Account& a = account(ctx);
  Peer& p = ctx.peer(name);
  scram::Client client(a.user, a.password);
  const std::string server_first = start(ctx, p, client);
  p.send(auth_packet(ReasonCode::continue_authentication, answer(ctx, client, server_first)));
  const Connack ack = p.expect<Connack>("AUTH with the client-final message");
  ctx.check(ack.reason_code == ReasonCode::success,
            "the broker refused the account's SCRAM login with " +
                packet_json::hex_byte(static_cast<std::uint8_t>(ack.reason_code)));
  check_method(ctx, ack.properties, "the CONNACK");
  verify(ctx, client, ack.properties, "the CONNACK");
  return p;
}

}  // namespace

void cases::auth(std::vector<Case>& out) {
  // Any broker: without a method in CONNECT, no AUTH and no method back.
  add_case(out, "4.12", "auth.none-without-method",
           "5.0: a CONNECT without Authentication Method gets a CONNACK without one, and no AUTH",
           {}, {"MQTT-4.12.0-6"}, [](Context& ctx) {
             Peer& p = ctx.peer("client");
             const Connack ack = p.connect_ok(ctx.connect_packet(ctx.client_id()));
             ctx.check(!ack.properties.contains(PropertyId::authentication_method),
                       "the CONNACK carries an Authentication Method the CONNECT did not have");
             ctx.check(!ack.properties.contains(PropertyId::authentication_data),
                       "the CONNACK carries Authentication Data the CONNECT did not ask for");
             p.send(Pingreq{});
             p.expect<Pingresp>("PINGREQ (no AUTH may come first)");
           });

  add_case(out, "4.12", "auth.scram-login",
           "5.0: a SCRAM-SHA-256 login: CONNECT, AUTH 0x18 each way, CONNACK with the method "
           "and the server's signature",
           {}, {"MQTT-4.12.0-2", "MQTT-4.12.0-5"}, [](Context& ctx) {
             Peer& p = logged_in(ctx, "client");
             p.send(Pingreq{});
             p.expect<Pingresp>("PINGREQ after the login");
           });

  add_case(
      out, "4.12", "auth.scram-wrong-password",
      "5.0: the broker may reject the authentication at any step, with a CONNACK of 0x80 "
      "or above, and closes",
      {}, {"MQTT-4.12.0-4"}, [](Context& ctx) {
        const Options::Account& a = account(ctx);
        Peer& p = ctx.peer("client");
        scram::Client client(a.user, a.password + "-not");
        const std::string server_first = start(ctx, p, client);
        p.send(auth_packet(ReasonCode::continue_authentication, answer(ctx, client, server_first)));
        const Connack ack = p.expect<Connack>("AUTH with a proof from a wrong password");
        ctx.check(is_error(ack.reason_code),
                  "a wrong password was accepted with " +
                      packet_json::hex_byte(static_cast<std::uint8_t>(ack.reason_code)));
        p.expect_close("a refused authentication");
      });

  add_case(out, "4.12.1", "auth.reauthenticate",
           "5.0: re-authentication with AUTH 0x19 ends in AUTH 0x00, and the connection "
           "serves throughout",
           {}, {"MQTT-4.12.0-5"}, [](Context& ctx) {
             const Options::Account& a = account(ctx);
             Peer& p = logged_in(ctx, "client");
             const std::string topic = ctx.topic("reauth");
             p.subscribe(topic, QoS::at_least_once);
             scram::Client again(a.user, a.password);
             p.send(auth_packet(ReasonCode::re_authenticate, again.first()));
             const Auth challenge = p.expect_skipping_publish<Auth>("AUTH 0x19");
             ctx.check(challenge.reason_code == ReasonCode::continue_authentication,
                       "the re-authentication's challenge is not 0x18 [MQTT-4.12.0-2]");
             check_method(ctx, challenge.properties, "the re-authentication's AUTH");
             // The connection goes on serving between the steps.
             ctx.check(p.publish(topic, "during", QoS::at_least_once) == ReasonCode::success,
                       "a PUBLISH during the re-authentication was not accepted");
             p.expect_publish("the message published during the re-authentication");
             p.send(auth_packet(ReasonCode::continue_authentication,
                                answer(ctx, again, data_of(challenge.properties))));
             const Auth done = p.expect<Auth>("AUTH with the re-authentication's client-final");
             ctx.check(done.reason_code == ReasonCode::success,
                       "the re-authentication did not end with AUTH 0x00");
             check_method(ctx, done.properties, "the AUTH ending the re-authentication");
             verify(ctx, again, done.properties, "the AUTH ending the re-authentication");
             p.send(Pingreq{});
             p.expect<Pingresp>("PINGREQ after the re-authentication");
           });

  add_case(out, "4.12.1", "auth.reauthenticate-fails",
           "5.0: a failed re-authentication ends the connection (DISCONNECT with a reason "
           "code of 0x80 or above, then the close)",
           {}, {"MQTT-4.12.1-2"}, [](Context& ctx) {
             const Options::Account& a = account(ctx);
             Peer& p = logged_in(ctx, "client");
             scram::Client wrong(a.user, a.password + "-not");
             p.send(auth_packet(ReasonCode::re_authenticate, wrong.first()));
             const Auth challenge = p.expect<Auth>("AUTH 0x19");
             p.send(auth_packet(ReasonCode::continue_authentication,
                                answer(ctx, wrong, data_of(challenge.properties))));
             // The DISCONNECT is a SHOULD; the close is the MUST.
             const auto code = p.expect_close("a failed re-authentication");
             if (code) {
               ctx.check(is_error(*code),
                         "the broker's DISCONNECT after a failed re-authentication has reason "
                         "code " +
                             packet_json::hex_byte(static_cast<std::uint8_t>(*code)));
             }
           });
}

}  // namespace assay::conformance
