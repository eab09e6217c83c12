// The engine with the broker's real FileSecurity (password and ACL files):
// reason codes for both protocol versions, retained messages, Wills,
// shared subscriptions and wildcards that reach into a denied part.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "assay/broker/security/file_security.hpp"
#include "world.hpp"

namespace assay::broker::test {
namespace {

using security::FileSecurity;
using security::PasswordFile;
using security::PasswordHash;

const char* const acl_text = R"(topic read public/#
user alice
topic readwrite alice/#
topic deny alice/secret/#
topic write public/#
topic write wills/alice
topic write $SYS/fake
user bob
topic read alice/#
topic read $SYS/#
topic write bob/#
)";

class EngineSecurity : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("assay-engine-security-" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::create_directories(dir_);
    PasswordFile file;
    file.set("alice", PasswordHash::make("a-pass", 1000));
    file.set("bob", PasswordHash::make("b-pass", 1000));
    write("passwd", file.text());
    write("acl", acl_text);
    security::SecurityOptions o;
    o.allow_anonymous = true;
    o.password_file = (dir_ / "passwd").string();
    o.acl_file = (dir_ / "acl").string();
    auto opened = FileSecurity::open(o, {});
    ASSERT_TRUE(std::holds_alternative<std::shared_ptr<FileSecurity>>(opened))
        << std::get<std::string>(opened);
    security_ = std::get<std::shared_ptr<FileSecurity>>(opened);
    EngineConfig config;
    config.authenticator = security_;
    config.authorizer = security_;
    world_ = std::make_unique<World>(config);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::trunc) << text;
  }

  static Connect login(std::string id, std::string user, std::string password,
                       Version v = Version::v5) {
    Connect c = World::make_connect(std::move(id), v);
    c.username = std::move(user);
    c.password = Bytes(password.begin(), password.end());
    return c;
  }
  static std::vector<ReasonCode> suback_codes(const Client& c) {
    const auto acks = c.all<event::SubscribeAcked>();
    return acks.empty() ? std::vector<ReasonCode>{} : acks.back().suback.reason_codes;
  }

  std::filesystem::path dir_;
  std::shared_ptr<FileSecurity> security_;
  std::unique_ptr<World> world_;
};

TEST_F(EngineSecurity, ConnackCodesForBothVersions) {
  World& w = *world_;
  for (Version v : {Version::v5, Version::v3_1_1}) {
    Client& wrong = w.connect(login("w", "alice", "nope", v));
    const auto refused = wrong.all<event::ConnectRefused>();
    ASSERT_EQ(refused.size(), 1u);
    // 3.1.1 return code 4, which the client's decoder reads as 0x86.
    EXPECT_EQ(refused[0].connack.reason_code, ReasonCode::bad_user_name_or_password);
    Connect no_password = World::make_connect("np", v);
    no_password.username = "alice";
    Client& np = w.connect(no_password);
    ASSERT_EQ(np.all<event::ConnectRefused>().size(), 1u);  // CVE-2016-9877
    EXPECT_EQ(np.all<event::ConnectRefused>()[0].connack.reason_code,
              ReasonCode::bad_user_name_or_password);
  }
  // Four failures from one address lock it out for a second: even the
  // right password is refused unchecked until the lockout ends.
  Client& early = w.connect(login("a", "alice", "a-pass"));
  ASSERT_EQ(early.all<event::ConnectRefused>().size(), 1u);
  w.advance(Duration{1000});
  Client& ok = w.connect(login("a", "alice", "a-pass"));
  EXPECT_EQ(ok.all<event::Connected>().size(), 1u);
}

TEST_F(EngineSecurity, DeniedSubscribeAndPublishGet0x87InBothVersions) {
  World& w = *world_;
  Client& alice = w.connect(login("a5", "alice", "a-pass"));
  w.subscribe(alice, "bob/#", QoS::at_least_once);
  EXPECT_EQ(suback_codes(alice), std::vector<ReasonCode>{ReasonCode::not_authorized});
  w.publish(alice, "bob/x", QoS::at_least_once, "no");
  ASSERT_EQ(alice.all<event::PublishCompleted>().size(), 1u);
  EXPECT_EQ(alice.all<event::PublishCompleted>()[0].reason_code, ReasonCode::not_authorized);

  Client& old = w.connect(login("a3", "alice", "a-pass", Version::v3_1_1));
  w.subscribe(old, "bob/#", QoS::at_least_once);
  EXPECT_EQ(suback_codes(old), std::vector<ReasonCode>{ReasonCode::unspecified_error});  // 0x80
  Client& bob = w.connect(login("b", "bob", "b-pass"));
  w.subscribe(bob, "alice/#", QoS::at_least_once);
  EXPECT_EQ(suback_codes(bob), std::vector<ReasonCode>{ReasonCode::granted_qos_1});
  // 3.1.1 has no way to refuse: acknowledged, and dropped.
  w.publish(old, "bob/x", QoS::at_least_once, "dropped");
  w.publish(old, "alice/x", QoS::at_least_once, "routed");
  EXPECT_EQ(payloads(bob), std::vector<std::string>{"routed"});
}

// A wildcard that reaches into a denied part is granted, and the denied
// part's messages are kept from it one by one.
TEST_F(EngineSecurity, WildcardOverlappingADeniedTopic) {
  World& w = *world_;
  Client& alice = w.connect(login("a", "alice", "a-pass"));
  w.subscribe(alice, "alice/#", QoS::at_least_once);
  EXPECT_EQ(suback_codes(alice), std::vector<ReasonCode>{ReasonCode::granted_qos_1});
  w.subscribe(alice, "alice/secret/#", QoS::at_least_once);
  EXPECT_EQ(suback_codes(alice), std::vector<ReasonCode>{ReasonCode::not_authorized});
  Client& anon = w.connect(World::make_connect("anon"));
  w.subscribe(anon, "#", QoS::at_least_once);  // no read rule covers "#"
  EXPECT_EQ(suback_codes(anon), std::vector<ReasonCode>{ReasonCode::not_authorized});
  w.publish(alice, "alice/open", QoS::at_least_once, "1");
  w.publish(alice, "alice/secret/plan", QoS::at_least_once, "2");  // may not write either
  ASSERT_EQ(alice.all<event::PublishCompleted>().size(), 2u);
  EXPECT_EQ(alice.all<event::PublishCompleted>()[1].reason_code, ReasonCode::not_authorized);
  EXPECT_EQ(payloads(alice), std::vector<std::string>{"1"});
}

// CVE-2018-12546 / EMQX #10192: a retained message reaches only those who
// may read it, and one published without write rights is never kept.
TEST_F(EngineSecurity, RetainedMessagesAreCheckedBothWays) {
  World& w = *world_;
  Client& alice = w.connect(login("a", "alice", "a-pass"));
  w.publish(alice, "alice/status", QoS::at_least_once, "kept", true);
  w.publish(alice, "alice/secret/key", QoS::at_least_once, "never", true);
  Client& bob = w.connect(login("b", "bob", "b-pass"));
  w.publish(bob, "alice/status", QoS::at_least_once, "forged", true);  // bob may not write it
  Client& anon = w.connect(World::make_connect("anon"));
  w.subscribe(anon, "public/#", QoS::at_least_once);
  w.subscribe(bob, "alice/#", QoS::at_least_once);
  EXPECT_EQ(payloads(bob), std::vector<std::string>{"kept"});
  EXPECT_TRUE(anon.messages().empty());
  // Bob may read alice/#, but not what alice's deny hid: not even retained.
  for (const auto& m : bob.messages())
    EXPECT_EQ(m.topic, "alice/status");
}

// `$share/g/f` is authorised exactly as `f`.
TEST_F(EngineSecurity, SharedSubscriptionsAreAuthorisedAsTheirFilter) {
  World& w = *world_;
  Client& anon = w.connect(World::make_connect("anon"));
  w.subscribe(anon, "$share/g/alice/#", QoS::at_least_once);
  EXPECT_EQ(suback_codes(anon), std::vector<ReasonCode>{ReasonCode::not_authorized});
  w.subscribe(anon, "$share/g/public/#", QoS::at_least_once);
  EXPECT_EQ(suback_codes(anon), std::vector<ReasonCode>{ReasonCode::granted_qos_1});
  Client& alice = w.connect(login("a", "alice", "a-pass"));
  w.subscribe(alice, "$share/g/alice/secret/#", QoS::at_least_once);
  EXPECT_EQ(suback_codes(alice), std::vector<ReasonCode>{ReasonCode::not_authorized});
  w.publish(alice, "public/news", QoS::at_least_once, "hello");
  EXPECT_EQ(payloads(anon), std::vector<std::string>{"hello"});
}

// A shared group's member that may not read a topic is passed over: the
// message goes to a member that may, and none is dropped.
TEST_F(EngineSecurity, ASharedGroupSkipsAMemberThatMayNotRead) {
  write("acl",
        "user alice\ntopic read shared/#\ntopic deny shared/secret/#\n"
        "user bob\ntopic readwrite shared/#\n");
  ASSERT_EQ(security_->reload(), "");
  World& w = *world_;
  Client& alice = w.connect(login("a", "alice", "a-pass"));
  Client& bob = w.connect(login("b", "bob", "b-pass"));
  w.subscribe(alice, "$share/g/shared/#", QoS::at_least_once);
  w.subscribe(bob, "$share/g/shared/#", QoS::at_least_once);
  ASSERT_EQ(suback_codes(alice), std::vector<ReasonCode>{ReasonCode::granted_qos_1});
  for (int i = 0; i < 4; ++i) {
    w.publish(bob, "shared/secret/" + std::to_string(i), QoS::at_least_once, "s");
    w.publish(bob, "shared/open/" + std::to_string(i), QoS::at_least_once, "o");
  }
  EXPECT_EQ(w.engine.stats().messages_dropped, 0u);
  std::size_t secret_to_bob = 0;
  for (const auto& m : bob.messages()) {
    if (m.topic.starts_with("shared/secret/")) ++secret_to_bob;
  }
  EXPECT_EQ(secret_to_bob, 4u);
  for (const auto& m : alice.messages()) {
    EXPECT_FALSE(m.topic.starts_with("shared/secret/")) << m.topic;
  }
  EXPECT_EQ(alice.messages().size() + bob.messages().size(), 8u);
}

// EMQX #8978: a Will is checked against publish rights at CONNECT, again
// when it fires, and never reaches $SYS.
TEST_F(EngineSecurity, WillsAreCheckedAtConnectAndWhenTheyFire) {
  World& w = *world_;
  Client& bob = w.connect(login("b", "bob", "b-pass"));
  w.subscribe(bob, "$SYS/#", QoS::at_least_once);
  for (const std::string topic : {"bob/will", "$SYS/fake"}) {
    Connect c = login("aw", "alice", "a-pass");
    c.will = Will{topic, SharedBytes(std::string_view("gone")), QoS::at_least_once, false, {}};
    Client& refused = w.connect(c);
    ASSERT_EQ(refused.all<event::ConnectRefused>().size(), 1u) << topic;
    EXPECT_EQ(refused.all<event::ConnectRefused>()[0].connack.reason_code,
              ReasonCode::not_authorized);
  }
  Client& anon = w.connect(World::make_connect("watch"));
  w.subscribe(anon, "public/#", QoS::at_least_once);
  Connect c = login("aw", "alice", "a-pass");
  c.will = Will{
      "public/alice-gone", SharedBytes(std::string_view("gone")), QoS::at_least_once, false, {}};
  Client& alice = w.connect(c);
  ASSERT_EQ(alice.all<event::Connected>().size(), 1u);
  // Alice loses her write right to public/#; her Will no longer goes out.
  write("acl", "topic read public/#\nuser alice\ntopic readwrite alice/#\n");
  ASSERT_EQ(security_->reload(), "");
  w.drop(alice);
  EXPECT_TRUE(anon.messages().empty());
  // Without the reload it would have: the same Will, rights restored.
  write("acl", acl_text);
  ASSERT_EQ(security_->reload(), "");
  Client& again = w.connect(c);
  ASSERT_EQ(again.all<event::Connected>().size(), 1u);
  w.drop(again);
  EXPECT_EQ(payloads(anon), std::vector<std::string>{"gone"});
  for (const auto& m : bob.messages())
    EXPECT_NE(m.topic, "$SYS/fake");
}

// CVE-2021-34434: after a reload, what a durable subscription receives is
// checked against the new rules.
TEST_F(EngineSecurity, ReloadedRulesApplyToExistingSubscriptions) {
  World& w = *world_;
  Client& bob = w.connect(login("b", "bob", "b-pass"));
  w.subscribe(bob, "alice/#", QoS::at_least_once);
  Client& alice = w.connect(login("a", "alice", "a-pass"));
  w.publish(alice, "alice/1", QoS::at_least_once, "before");
  write("acl", "user alice\ntopic readwrite alice/#\nuser bob\ntopic write bob/#\n");
  ASSERT_EQ(security_->reload(), "");
  w.publish(alice, "alice/2", QoS::at_least_once, "after");
  EXPECT_EQ(payloads(bob), std::vector<std::string>{"before"});
}

// A session restored from the store is checked as the user who made it: bob
// may read alice/#, so what alice publishes while he is offline after a
// restart is queued for him, not dropped as if he were anonymous.
TEST_F(EngineSecurity, ARestoredSessionKeepsItsUser) {
  auto store = std::make_shared<MemoryStore>();
  EngineConfig config;
  config.authenticator = security_;
  config.authorizer = security_;
  config.store = store;
  {
    World w(config);
    Connect c = login("b", "bob", "b-pass");
    c.clean_start = false;
    c.properties.add(PropertyId::session_expiry_interval, std::uint32_t{3600});
    Client& bob = w.connect(c);
    w.subscribe(bob, "alice/#", QoS::at_least_once);
    w.drop(bob);
  }
  World w(config);
  Client& alice = w.connect(login("a", "alice", "a-pass"));
  w.publish(alice, "alice/1", QoS::at_least_once, "while away");
  EXPECT_EQ(w.engine.stats().messages_dropped, 0u);
  Connect again = login("b", "bob", "b-pass");
  again.clean_start = false;
  Client& bob = w.connect(again);
  EXPECT_EQ(payloads(bob), std::vector<std::string>{"while away"});
}

}  // namespace
}  // namespace assay::broker::test
