// SCRAM-SHA-256 against RFC 7677's worked example (§3), then both sides
// against each other and against messages that must fail.
#include "assay/scram/scram.hpp"
#include "rfc7677_example.hpp"

#include <gtest/gtest.h>

namespace {

using namespace assay::scram;

// RFC 7677 §3: user "user", password "pencil".
using rfc7677::client_nonce;
using rfc7677::server_nonce;
constexpr std::string_view rfc_client_first = rfc7677::client_first;
constexpr std::string_view rfc_server_first = rfc7677::server_first;
constexpr std::string_view rfc_client_final = rfc7677::client_final;
constexpr std::string_view rfc_server_final = rfc7677::server_final;

Credential rfc_credential() {
  return Credential::make("pencil", 4096, *unbase64(rfc7677::salt));
}

Bytes secret() {
  return Bytes(32, 7);
}

template <typename T>
std::string ok(const std::variant<std::string, T>& v) {
  if (const auto* f = std::get_if<T>(&v)) {
    ADD_FAILURE() << f->error << ": " << f->detail;
    return {};
  }
  return std::get<std::string>(v);
}

TEST(Scram, ClientMatchesRfc7677Example) {
  Client c("user", "pencil", std::string(client_nonce));
  EXPECT_EQ(c.first(), rfc_client_first);
  EXPECT_EQ(ok(c.respond(rfc_server_first)), rfc_client_final);
  EXPECT_FALSE(c.verify(rfc_server_final).has_value());
}

TEST(Scram, ServerMatchesRfc7677Example) {
  Server s(secret(), std::string(server_nonce));
  EXPECT_EQ(ok(s.user_of(rfc_client_first)), "user");
  EXPECT_EQ(ok(s.challenge(rfc_credential())), rfc_server_first);
  EXPECT_EQ(ok(s.finish(rfc_client_final)), rfc_server_final);
}

TEST(Scram, CredentialVerifiesItsPasswordOnly) {
  const Credential c = Credential::make("pencil", minimum_iterations);
  EXPECT_EQ(c.salt.size(), 16u);
  EXPECT_EQ(c.stored_key.size(), key_size);
  EXPECT_TRUE(c.verify("pencil"));
  EXPECT_FALSE(c.verify("pencil "));
  EXPECT_FALSE(c.verify(""));
}

struct Exchange {
  std::optional<Failure> server_failure;
  std::optional<Failure> client_failure;
  std::string user;
};

Exchange run(const std::string& user, const std::string& password,
             const std::optional<Credential>& stored) {
  Client c(user, password);
  Server s(secret());
  Exchange e;
  const auto named = s.user_of(c.first());
  if (const auto* f = std::get_if<Failure>(&named)) {
    e.server_failure = *f;
    return e;
  }
  e.user = std::get<std::string>(named);
  const std::string first = ok(s.challenge(stored));
  const auto final_message = c.respond(first);
  if (const auto* f = std::get_if<Failure>(&final_message)) {
    e.client_failure = *f;
    return e;
  }
  const auto answer = s.finish(std::get<std::string>(final_message));
  if (const auto* f = std::get_if<Failure>(&answer)) {
    e.server_failure = *f;
    return e;
  }
  e.client_failure = c.verify(std::get<std::string>(answer));
  return e;
}

TEST(Scram, RightPasswordPassesBothWays) {
  const Exchange e = run("sensor,7=a", "secret", Credential::make("secret", minimum_iterations));
  EXPECT_EQ(e.user, "sensor,7=a");  // ',' and '=' travel as =2C and =3D
  EXPECT_FALSE(e.server_failure.has_value());
  EXPECT_FALSE(e.client_failure.has_value());
}

TEST(Scram, WrongPasswordFailsWithInvalidProof) {
  const Exchange e = run("sensor", "guess", Credential::make("secret", minimum_iterations));
  ASSERT_TRUE(e.server_failure.has_value());
  EXPECT_EQ(e.server_failure->error, "invalid-proof");
  EXPECT_EQ(e.server_failure->detail, "wrong password");
}

TEST(Scram, UnknownUserLooksLikeAKnownOneUntilTheProof) {
  Server a(secret());
  Server b(secret());
  ASSERT_EQ(ok(a.user_of("n,,n=ghost,r=abc")), "ghost");
  ASSERT_EQ(ok(b.user_of("n,,n=ghost,r=xyz")), "ghost");
  const std::string first_a = ok(a.challenge(std::nullopt));
  const std::string first_b = ok(b.challenge(std::nullopt));
  // The same salt and count on every attempt, as a stored account has.
  EXPECT_EQ(first_a.substr(first_a.find(",s=")), first_b.substr(first_b.find(",s=")));
  const Exchange e = run("ghost", "anything", std::nullopt);
  ASSERT_TRUE(e.server_failure.has_value());
  EXPECT_EQ(e.server_failure->error, "invalid-proof");
  EXPECT_EQ(e.server_failure->detail, "no such user");
}

TEST(Scram, ServerRefusesMalformedClientFirst) {
  for (const std::string_view bad :
       {"", "n,,", "x,,n=user,r=abc", "p=tls-unique,,n=user,r=abc", "n,,r=abc,n=user",
        "n,,n=us=3Xer,r=abc", "n,,n=,r=abc", "n,,m=ext,n=user,r=abc", "n,a=other,n=user,r=abc",
        "n,,n=user,r=a,b",
        // not UTF-8, a control character (log injection), an overlong '/'
        "n,,n=us\xff"
        "er,r=abc",
        "n,,n=us\ner,r=abc", "n,,n=\xc0\xaf,r=abc", "n,,n=\xe2\x82,r=abc"}) {
    Server s(secret());
    EXPECT_TRUE(std::holds_alternative<Failure>(s.user_of(bad))) << bad;
  }
}

TEST(Scram, UnicodeUserNamesPass) {
  Server s(secret());
  EXPECT_EQ(ok(s.user_of("n,,n=capteur-\xc3\xa9t\xc3\xa9-\xf0\x9f\x8c\xa1,r=abc")),
            "capteur-\xc3\xa9t\xc3\xa9-\xf0\x9f\x8c\xa1");
}

TEST(Scram, TheUnknownUsersCountIsTheOneGiven) {
  Server s(secret(), random_nonce(), 50'000);
  ok(s.user_of("n,,n=ghost,r=abc"));
  const std::string first = ok(s.challenge(std::nullopt));
  EXPECT_TRUE(first.ends_with(",i=50000")) << first;
}

TEST(Scram, ServerRefusesTamperedClientFinal) {
  const std::string tampered[] = {
      // another proof
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AHzbZapWIk4jUhN+"
      "Ute9ytag9zjfMHgsqmmiz7AndVQ=",
      // another nonce
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k1,p=dHzbZapWIk4jUhN+"
      "Ute9ytag9zjfMHgsqmmiz7AndVQ=",
      // channel binding other than the GS2 header
      "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+"
      "Ute9ytag9zjfMHgsqmmiz7AndVQ=",
      // no proof, short proof
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzb",
  };
  for (const std::string& bad : tampered) {
    Server s(secret(), std::string(server_nonce));
    ok(s.user_of(rfc_client_first));
    ok(s.challenge(rfc_credential()));
    EXPECT_TRUE(std::holds_alternative<Failure>(s.finish(bad))) << bad;
  }
}

TEST(Scram, ClientRefusesABadServer) {
  const std::string_view bad_firsts[] = {
      "r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",                // nonce not ours
      "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",       // nothing added
      "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ=,i=4096",       // bad base64
      "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1",         // too few rounds
      "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999",  // a hashing bomb
      "m=ext,r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
      "r=rOprNGfwEbeRWgbNEkqOx,i=4096",
  };
  for (const std::string_view bad : bad_firsts) {
    Client c("user", "pencil", std::string(client_nonce));
    EXPECT_TRUE(std::holds_alternative<Failure>(c.respond(bad))) << bad;
  }
  // A server that does not know the keys cannot sign the exchange.
  Client c("user", "pencil", std::string(client_nonce));
  ok(c.respond(rfc_server_first));
  EXPECT_TRUE(c.verify("v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").has_value());
  ASSERT_TRUE(c.verify("e=invalid-proof").has_value());
  EXPECT_EQ(c.verify("e=invalid-proof")->error, "invalid-proof");
}

TEST(Scram, ClientReusesTheSaltedPasswordForTheSameSalt) {
  Client c("user", "pencil", std::string(client_nonce));
  ok(c.respond(rfc_server_first));
  const Client::Cache first = c.cache();
  EXPECT_EQ(first.iterations, 4096u);
  Client again("user", "pencil", std::string(client_nonce));
  again.set_cache(first);
  EXPECT_EQ(ok(again.respond(rfc_server_first)), rfc_client_final);
}

TEST(Scram, Base64IsStrict) {
  EXPECT_EQ(base64(Bytes{'n', ',', ','}), "biws");
  EXPECT_EQ(*unbase64("biws"), (Bytes{'n', ',', ','}));
  EXPECT_EQ(unbase64("")->size(), 0u);
  for (const std::string_view bad : {"biw", "bi=s", "b!ws", "YQ=a", "YR=="}) {
    EXPECT_FALSE(unbase64(bad).has_value()) << bad;
  }
}

}  // namespace
