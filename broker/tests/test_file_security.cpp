// FileSecurity: logins against a password file, anonymous access, failures
// slowed per address, logs without secrets, and reloads that fail closed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "assay/broker/security/file_security.hpp"

namespace assay::broker::security {
namespace {

using mqtt::ReasonCode;
using namespace std::chrono_literals;

class FileSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("assay-security-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    PasswordFile file;
    file.set("alice", PasswordHash::make("wonderland", 1000));
    file.set("bob", PasswordHash::make("builder", 1000));
    write("passwd", file.text());
    write("acl", "user alice\ntopic readwrite alice/#\n");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary | std::ios::trunc) << text;
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  std::shared_ptr<FileSecurity> open(bool anonymous) {
    SecurityOptions o;
    o.allow_anonymous = anonymous;
    o.password_file = path("passwd");
    o.acl_file = path("acl");
    auto result =
        FileSecurity::open(o, [this](Severity, const std::string& line) { log_ += line + "\n"; });
    if (const auto* e = std::get_if<std::string>(&result)) {
      ADD_FAILURE() << *e;
      return nullptr;
    }
    return std::get<std::shared_ptr<FileSecurity>>(result);
  }

  static mqtt::Connect connect(std::optional<std::string> user, std::optional<std::string> password,
                               std::string client = "c1") {
    mqtt::Connect c;
    c.client_id = std::move(client);
    c.username = std::move(user);
    if (password) c.password = mqtt::Bytes(password->begin(), password->end());
    return c;
  }
  static ConnectContext from(std::string_view peer, mqtt::Time now = mqtt::Time{0}) {
    return ConnectContext{peer, now, {}, {}};
  }

  std::filesystem::path dir_;
  std::string log_;
};

TEST_F(FileSecurityTest, RightPasswordGetsIn) {
  auto s = open(false);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->users(), 2u);
  EXPECT_EQ(s->authenticate(connect("alice", "wonderland"), from("10.0.0.1:4000")),
            ReasonCode::success);
  // Verified again from the cache, and a wrong one still fails afterwards.
  EXPECT_EQ(s->authenticate(connect("alice", "wonderland"), from("10.0.0.1:4001")),
            ReasonCode::success);
  EXPECT_EQ(s->authenticate(connect("alice", "wonderlanD"), from("10.0.0.1:4002")),
            ReasonCode::bad_user_name_or_password);
  EXPECT_EQ(s->authenticate(connect("bob", "wonderland"), from("10.0.0.1:4003")),
            ReasonCode::bad_user_name_or_password);
}

// A client certificate the TLS handshake verified names the user: no
// password is asked for (the engine has put the certificate's name in place
// of the CONNECT's user name), with anonymous access off, and the login is
// logged with the certificate as its proof.
TEST_F(FileSecurityTest, AVerifiedCertificateNeedsNoPassword) {
  auto s = open(false);
  ASSERT_TRUE(s);
  ConnectContext context = from("10.0.0.9:4000");
  context.certificate_identity = "alice";
  EXPECT_EQ(s->authenticate(connect(std::nullopt, std::nullopt), context), ReasonCode::success);
  EXPECT_EQ(s->authenticate(connect("mallory", "guess"), context), ReasonCode::success);
  EXPECT_NE(log_.find("user \"alice\" (client certificate)"), std::string::npos) << log_;
  // Without it, the same CONNECTs are what they are.
  EXPECT_EQ(s->authenticate(connect(std::nullopt, std::nullopt), from("10.0.0.9:4001")),
            ReasonCode::not_authorized);
  EXPECT_EQ(s->authenticate(connect("mallory", "guess"), from("10.0.0.9:4002")),
            ReasonCode::bad_user_name_or_password);
}

TEST_F(FileSecurityTest, WrongPasswordUnknownUserAndAnonymous) {
  auto s = open(false);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->authenticate(connect("alice", "nope"), from("10.0.0.1:1")),
            ReasonCode::bad_user_name_or_password);
  EXPECT_EQ(s->authenticate(connect("zed", "nope"), from("10.0.0.2:1")),
            ReasonCode::bad_user_name_or_password);
  EXPECT_EQ(s->authenticate(connect(std::nullopt, std::nullopt), from("10.0.0.3:1")),
            ReasonCode::not_authorized);
  // 5.0 allows a password without a user name: nothing can check it.
  EXPECT_EQ(s->authenticate(connect(std::nullopt, "wonderland"), from("10.0.0.3:1")),
            ReasonCode::bad_user_name_or_password);
  auto open_door = open(true);
  ASSERT_TRUE(open_door);
  EXPECT_EQ(open_door->authenticate(connect(std::nullopt, std::nullopt), from("10.0.0.3:1")),
            ReasonCode::success);
  // Anonymous access on does not let a named user in without the password.
  EXPECT_EQ(open_door->authenticate(connect("alice", "nope"), from("10.0.0.3:1")),
            ReasonCode::bad_user_name_or_password);
}

// CVE-2016-9877: a user name without a password fails.
TEST_F(FileSecurityTest, Cve2016_9877_UserNameWithoutPasswordFails) {
  auto s = open(true);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->authenticate(connect("alice", std::nullopt), from("10.0.0.1:1")),
            ReasonCode::bad_user_name_or_password);
  EXPECT_EQ(s->authenticate(connect("alice", ""), from("10.0.0.1:1")),
            ReasonCode::bad_user_name_or_password);
}

TEST_F(FileSecurityTest, RepeatedFailuresFromOneAddressAreLockedOut) {
  auto s = open(false);
  ASSERT_TRUE(s);
  mqtt::Time now{1'000'000};
  for (std::size_t i = 0; i < FileSecurity::free_failures; ++i) {
    EXPECT_EQ(
        s->authenticate(connect("alice", "guess"), from("10.0.0.9:" + std::to_string(i), now)),
        ReasonCode::bad_user_name_or_password);
  }
  // The next failure locks the address out for a second: even the right
  // password is refused unchecked, from any port of that address.
  EXPECT_EQ(s->authenticate(connect("alice", "guess"), from("10.0.0.9:50", now)),
            ReasonCode::bad_user_name_or_password);
  EXPECT_EQ(s->authenticate(connect("alice", "wonderland"), from("10.0.0.9:51", now + 999ms)),
            ReasonCode::bad_user_name_or_password);
  EXPECT_NE(log_.find("too many failures"), std::string::npos);
  // Another address is not affected.
  EXPECT_EQ(s->authenticate(connect("alice", "wonderland"), from("10.0.0.10:1", now)),
            ReasonCode::success);
  // After the lockout the right password works, and clears the record.
  EXPECT_EQ(s->authenticate(connect("alice", "wonderland"), from("10.0.0.9:52", now + 1000ms)),
            ReasonCode::success);
  EXPECT_EQ(s->authenticate(connect("alice", "guess"), from("10.0.0.9:53", now + 1000ms)),
            ReasonCode::bad_user_name_or_password);
  EXPECT_EQ(s->authenticate(connect("alice", "wonderland"), from("10.0.0.9:54", now + 1000ms)),
            ReasonCode::success);
}

TEST_F(FileSecurityTest, LockoutsDoubleUpToAMinute) {
  auto s = open(false);
  ASSERT_TRUE(s);
  mqtt::Time now{0};
  const auto fail = [&] { s->authenticate(connect("bob", "x"), from("[2001:db8::1]:9", now)); };
  for (std::size_t i = 0; i <= FileSecurity::free_failures; ++i)
    fail();
  // Locked for 1 s; each failure after one ends doubles it.
  now += 1000ms;
  fail();  // 2 s
  EXPECT_EQ(s->authenticate(connect("bob", "builder"), from("[2001:db8::1]:9", now + 1999ms)),
            ReasonCode::bad_user_name_or_password);
  for (int i = 0; i < 10; ++i) {
    now += 60'000ms;
    fail();
  }
  EXPECT_EQ(s->authenticate(connect("bob", "builder"), from("[2001:db8::1]:9", now + 59'999ms)),
            ReasonCode::bad_user_name_or_password);
  EXPECT_EQ(s->authenticate(connect("bob", "builder"), from("[2001:db8::1]:9", now + 60'000ms)),
            ReasonCode::success);
}

TEST_F(FileSecurityTest, LogsNameTheUserAndAddressButNeverThePasswordOrHash) {
  auto s = open(false);
  ASSERT_TRUE(s);
  s->authenticate(connect("alice", "P4ssw0rd-guess"), from("10.1.2.3:777"));
  s->authenticate(connect("nobody", "other-Secret"), from("10.1.2.4:777"));
  s->authenticate(connect(std::nullopt, std::nullopt, "anon-7"), from("10.1.2.5:777"));
  EXPECT_NE(log_.find("user \"alice\""), std::string::npos) << log_;
  EXPECT_NE(log_.find("10.1.2.3:777"), std::string::npos) << log_;
  EXPECT_NE(log_.find("wrong password"), std::string::npos) << log_;
  EXPECT_NE(log_.find("no such user"), std::string::npos) << log_;
  EXPECT_NE(log_.find("anonymous access is off"), std::string::npos) << log_;
  EXPECT_EQ(log_.find("P4ssw0rd"), std::string::npos) << log_;
  EXPECT_EQ(log_.find("Secret"), std::string::npos) << log_;
  EXPECT_EQ(log_.find("wonderland"), std::string::npos) << log_;
  EXPECT_EQ(log_.find("$7$"), std::string::npos) << log_;
}

TEST_F(FileSecurityTest, AclDecidesPublishSubscribeAndRead) {
  auto s = open(false);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->checks_reads());
  const Principal alice{"c1", std::string_view("alice")};
  EXPECT_TRUE(s->may_publish(alice, "alice/x"));
  EXPECT_FALSE(s->may_publish(alice, "bob/x"));
  EXPECT_TRUE(s->may_subscribe(alice, "alice/#"));
  EXPECT_FALSE(s->may_subscribe(alice, "#"));
  EXPECT_TRUE(s->may_read(alice, "alice/y"));
  EXPECT_FALSE(s->may_read(alice, "bob/y"));
}

// CVE-2017-7652: a reload that fails keeps the rules in force.
TEST_F(FileSecurityTest, Cve2017_7652_FailedReloadKeepsTheOldRules) {
  auto s = open(false);
  ASSERT_TRUE(s);
  const Principal alice{"c1", std::string_view("alice")};
  write("acl", "user alice\ntopic readwrite alice/#\ntopic\n");
  EXPECT_NE(s->reload().find("acl:3: \"topic\" needs a topic"), std::string::npos);
  EXPECT_TRUE(s->may_publish(alice, "alice/x"));
  EXPECT_EQ(s->acl_rules(), 1u);
  write("passwd", "alice:not-a-hash\n");
  write("acl", "user alice\ntopic read alice/#\n");
  EXPECT_NE(s->reload().find("passwd:1:"), std::string::npos);
  EXPECT_EQ(s->authenticate(connect("alice", "wonderland"), from("10.0.0.1:1")),
            ReasonCode::success);
  EXPECT_TRUE(s->may_publish(alice, "alice/x"));  // the failed reload changed nothing
  std::filesystem::remove(dir_ / "passwd");
  EXPECT_NE(s->reload().find("cannot read"), std::string::npos);
  EXPECT_NE(log_.find("reload failed, the rules in force stay"), std::string::npos);
  // A good reload takes effect, and forgets the verified passwords.
  PasswordFile file;
  file.set("alice", PasswordHash::make("new password", 1000));
  write("passwd", file.text());
  EXPECT_EQ(s->reload(), "");
  EXPECT_FALSE(s->may_publish(alice, "alice/x"));
  EXPECT_EQ(s->authenticate(connect("alice", "wonderland"), from("10.0.0.1:1")),
            ReasonCode::bad_user_name_or_password);
  EXPECT_EQ(s->authenticate(connect("alice", "new password"), from("10.0.0.1:1")),
            ReasonCode::success);
}

TEST_F(FileSecurityTest, OpenNamesTheFileAndLine) {
  SecurityOptions o;
  o.password_file = path("missing");
  auto result = FileSecurity::open(o, {});
  ASSERT_TRUE(std::holds_alternative<std::string>(result));
  EXPECT_NE(std::get<std::string>(result).find(path("missing") + ": cannot read"),
            std::string::npos);
  write("bad", "# header\nalice\n");
  o.password_file = path("bad");
  result = FileSecurity::open(o, {});
  ASSERT_TRUE(std::holds_alternative<std::string>(result));
  EXPECT_NE(std::get<std::string>(result).find(path("bad") + ":2: no ':'"), std::string::npos);
}

TEST(AddressOf, StripsThePort) {
  EXPECT_EQ(address_of("1.2.3.4:5"), "1.2.3.4");
  EXPECT_EQ(address_of("[::1]:5"), "::1");
  EXPECT_EQ(address_of("::1"), "::1");
  EXPECT_EQ(address_of("host"), "host");
}

}  // namespace
}  // namespace assay::broker::security
