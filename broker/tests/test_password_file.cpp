// Password files: Mosquitto's lines read unchanged, ours written and read
// back, and no malformed line ever becoming an account.
#include <gtest/gtest.h>

#include "assay/broker/security/password_file.hpp"

namespace assay::broker::security {
namespace {

// Made by `mosquitto_passwd -c -b pw alice secret` (Mosquitto 2.0.11, Debian 12).
constexpr const char* mosquitto_line =
    "alice:$7$101$NyEFIuvITsrnYAi1$WK3SpHh2PO2w2cjpgOut6ngoE+dcaXaGn1tasMt1HQ9UMhXwjtAoUnsBGw/"
    "fwxa/ALSLLqc6cMJOPDA90/awbw==";
// Mosquitto 1.x's $6$: SHA-512("hunter2" || salt), computed with Python's hashlib.
constexpr const char* sha512_line =
    "bob:$6$MDEyMzQ1Njc4OWFi$Kgl3AxuVCetFEGDDZOAh44c3ssh9wvPft10MPC9Tjr1rwsIDmYUEICH/"
    "zUOFhM8vCQKmMb8nXrQTl7q2T8alUw==";

PasswordFile parsed(const std::string& text) {
  auto result = PasswordFile::parse(text);
  if (const auto* e = std::get_if<PasswordFileError>(&result)) {
    ADD_FAILURE() << "line " << e->line << ": " << e->message;
    return {};
  }
  return std::get<PasswordFile>(result);
}

PasswordFileError error_of(const std::string& text) {
  auto result = PasswordFile::parse(text);
  EXPECT_TRUE(std::holds_alternative<PasswordFileError>(result)) << text;
  if (auto* e = std::get_if<PasswordFileError>(&result)) return *e;
  return {};
}

TEST(PasswordFile, ReadsMosquittoPbkdf2Lines) {
  const PasswordFile file = parsed(std::string(mosquitto_line) + "\n");
  const PasswordHash* alice = file.find("alice");
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(alice->kind, PasswordHash::Kind::pbkdf2_sha512);
  EXPECT_EQ(alice->iterations, 101u);
  EXPECT_EQ(alice->salt.size(), 12u);
  EXPECT_TRUE(alice->verify("secret"));
  EXPECT_FALSE(alice->verify("Secret"));
  EXPECT_FALSE(alice->verify(""));
  // Written back byte for byte.
  EXPECT_EQ(file.text(), std::string(mosquitto_line) + "\n");
}

TEST(PasswordFile, ReadsMosquittoSha512Lines) {
  const PasswordFile file = parsed(std::string("# a comment\n\n") + sha512_line + "\r\n");
  const PasswordHash* bob = file.find("bob");
  ASSERT_NE(bob, nullptr);
  EXPECT_EQ(bob->kind, PasswordHash::Kind::sha512);
  EXPECT_TRUE(bob->verify("hunter2"));
  EXPECT_FALSE(bob->verify("hunter3"));
  EXPECT_EQ(file.find("alice"), nullptr);
}

TEST(PasswordFile, OurHashesUseFreshSaltsAndManyIterations) {
  const PasswordHash a = PasswordHash::make("pw", 1000);
  const PasswordHash b = PasswordHash::make("pw", 1000);
  EXPECT_NE(a.salt, b.salt);
  EXPECT_NE(a.key, b.key);
  EXPECT_TRUE(a.verify("pw"));
  EXPECT_FALSE(a.verify("pW"));
  const auto again = PasswordHash::parse(a.text());
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->verify("pw"));
  EXPECT_EQ(again->iterations, 1000u);
  EXPECT_GE(PasswordHash::default_iterations, 100 * 101u);
  EXPECT_EQ(PasswordHash::make("x").text().rfind("$7$20000$", 0), 0u);
}

TEST(PasswordFile, SetEraseAndText) {
  PasswordFile file = parsed(mosquitto_line);
  file.set("carol", PasswordHash::make("c", 10));
  EXPECT_EQ(file.size(), 2u);
  const PasswordFile back = parsed(file.text());
  ASSERT_NE(back.find("carol"), nullptr);
  EXPECT_TRUE(back.find("carol")->verify("c"));
  EXPECT_TRUE(file.erase("alice"));
  EXPECT_FALSE(file.erase("alice"));
  EXPECT_EQ(parsed(file.text()).find("alice"), nullptr);
}

// Any malformed line fails the whole file and names its line: a broker never
// runs with part of a file, and no such line is an account.
TEST(PasswordFile, MalformedLinesAreErrorsThatNameTheLine) {
  const std::string good = std::string(mosquitto_line) + "\n";
  struct Case {
    std::string line;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"dave", "no ':'"},
      {"dave:", "has no password hash"},
      {":$6$MDEyMzQ1Njc4OWFi$AAAA", "user name is empty"},
      {"dave:plaintext", "not a $7$"},
      {"dave:$5$abc$def", "not a $7$"},
      {"dave:$7$0$NyEFIuvITsrnYAi1$WK3S", "not a $7$"},
      {"dave:$7$abc$NyEFIuvITsrnYAi1$WK3S", "not a $7$"},
      {"dave:$7$101$NyEFIuvITsrnYAi1$short", "not a $7$"},
      {"dave:$7$101$!!!!$WK3S", "not a $7$"},
      {"dave:$6$MDEyMzQ1Njc4OWFi", "not a $7$"},
      {"alice:$6$MDEyMzQ1Njc4OWFi$Kgl3AxuVCetFEGDDZOAh44c3ssh9wvPft10MPC9Tjr1rwsIDmYUEICH/"
       "zUOFhM8vCQKmMb8nXrQTl7q2T8alUw==",
       "appears twice"},
  };
  for (const Case& c : cases) {
    const PasswordFileError e = error_of(good + "# comment\n" + c.line + "\n");
    EXPECT_EQ(e.line, 3u) << c.line;
    EXPECT_NE(e.message.find(c.message), std::string::npos) << c.line << ": " << e.message;
    // The message never repeats the hash.
    const std::string hash = c.line.substr(c.line.find(':') + 1);
    if (hash.size() > 4) {
      EXPECT_EQ(e.message.find(hash), std::string::npos) << e.message;
    }
  }
}

TEST(PasswordFile, ScramCredentialsRoundTripAndVerifyPlainPasswords) {
  const PasswordHash h = PasswordHash::make_scram("pencil", 4096);
  EXPECT_EQ(h.kind, PasswordHash::Kind::scram_sha256);
  const std::string text = h.text();
  EXPECT_EQ(text.rfind("$scram-sha-256$4096$", 0), 0u) << text;
  const auto back = PasswordHash::parse(text);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->text(), text);
  EXPECT_TRUE(back->verify("pencil"));
  EXPECT_FALSE(back->verify("pencil2"));
  const auto c = back->scram_credential();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->iterations, 4096u);
  EXPECT_TRUE(c->verify("pencil"));
  EXPECT_FALSE(PasswordHash::make("pencil", 1000).scram_credential().has_value());
  // Keys of the wrong size, a count below RFC 7677's 4096, a missing
  // ServerKey: none of them is an account.
  const std::string salt = "$W22ZaJ0SNY7soEsUEjb6gQ==";
  const std::string key = "$" + std::string(43, 'A') + "=";
  for (const std::string& bad :
       {"$scram-sha-256$4096" + salt + key, "$scram-sha-256$4095" + salt + key + key,
        "$scram-sha-256$4096" + salt + "$AAAA" + key, "$scram-sha-256$x" + salt + key + key}) {
    EXPECT_FALSE(PasswordHash::parse(bad).has_value()) << bad;
  }
  EXPECT_TRUE(PasswordHash::parse("$scram-sha-256$4096" + salt + key + key).has_value());
  const PasswordFileError e = error_of("carol:$scram-sha-256$4096" + salt + key + "\n");
  EXPECT_NE(e.message.find("$scram-sha-256$"), std::string::npos) << e.message;
}

TEST(PasswordFile, UserNamesWithSeparatorsAreRefused) {
  EXPECT_TRUE(check_user_name("a:b"));
  EXPECT_TRUE(check_user_name("a\nb"));
  EXPECT_TRUE(check_user_name(""));
  EXPECT_FALSE(check_user_name("sensor-7 (east)"));
}

}  // namespace
}  // namespace assay::broker::security
