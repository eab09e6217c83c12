// ACL files in Mosquitto's syntax: every rule kind, deny first, no match
// denies, and the CVEs other brokers had, each named after its source.
#include <gtest/gtest.h>

#include "assay/broker/security/acl.hpp"

namespace assay::broker::security {
namespace {

Acl parsed(const std::string& text) {
  auto result = Acl::parse(text);
  if (const auto* e = std::get_if<AclError>(&result)) {
    ADD_FAILURE() << "line " << e->line << ": " << e->message;
    return {};
  }
  return std::get<Acl>(result);
}

Principal user(std::string_view name, std::string_view client = "c1") {
  return Principal{client, name};
}
Principal anonymous(std::string_view client = "c1") {
  return Principal{client, std::nullopt};
}

const char* const sample = R"(# anonymous clients
topic read public/#

user alice
topic readwrite alice/#
topic deny alice/secret/#
topic write   shared/inbox
topic read shared/#

user bob
topic sensors/+/temp

clientid gateway-1
topic write gateways/one/#

pattern write devices/%c/up
pattern read users/%u/#
)";

TEST(Acl, TopicRulesBeforeAnyUserAreForAnonymousClients) {
  const Acl acl = parsed(sample);
  EXPECT_TRUE(acl.may_read(anonymous(), "public/news"));
  EXPECT_FALSE(acl.may_write(anonymous(), "public/news"));
  // A named user does not get the anonymous section's rules.
  EXPECT_FALSE(acl.may_read(user("alice"), "public/news"));
}

TEST(Acl, UserSectionsAndAccessKinds) {
  const Acl acl = parsed(sample);
  EXPECT_TRUE(acl.may_read(user("alice"), "alice/a/b"));
  EXPECT_TRUE(acl.may_write(user("alice"), "alice/a/b"));
  EXPECT_TRUE(acl.may_write(user("alice"), "shared/inbox"));
  EXPECT_TRUE(acl.may_read(user("alice"), "shared/inbox/x"));
  EXPECT_TRUE(acl.may_read(user("alice"), "shared/inbox"));
  EXPECT_FALSE(acl.may_write(user("alice"), "shared/other"));
  // No access word: readwrite.
  EXPECT_TRUE(acl.may_read(user("bob"), "sensors/a/temp"));
  EXPECT_TRUE(acl.may_write(user("bob"), "sensors/a/temp"));
  EXPECT_FALSE(acl.may_read(user("bob"), "sensors/a/humidity"));
  // Another user's rules are not bob's.
  EXPECT_FALSE(acl.may_read(user("bob"), "alice/a"));
  // An unknown user has only the patterns.
  EXPECT_FALSE(acl.may_read(user("mallory"), "alice/a"));
}

TEST(Acl, DenyRulesComeFirst) {
  const Acl acl = parsed(sample);
  EXPECT_FALSE(acl.may_read(user("alice"), "alice/secret/plans"));
  EXPECT_FALSE(acl.may_write(user("alice"), "alice/secret/plans"));
  EXPECT_FALSE(acl.may_read(user("alice"), "alice/secret"));  // "#" matches its parent
  EXPECT_TRUE(acl.may_read(user("alice"), "alice/secrets"));
}

TEST(Acl, ClientIdSectionsAndPatterns) {
  const Acl acl = parsed(sample);
  EXPECT_TRUE(acl.may_write(user("bob", "gateway-1"), "gateways/one/x"));
  EXPECT_TRUE(acl.may_write(anonymous("gateway-1"), "gateways/one/x"));
  EXPECT_FALSE(acl.may_write(user("bob", "gateway-2"), "gateways/one/x"));
  EXPECT_TRUE(acl.may_write(user("bob", "dev7"), "devices/dev7/up"));
  EXPECT_FALSE(acl.may_write(user("bob", "dev7"), "devices/dev8/up"));
  EXPECT_FALSE(acl.may_read(user("bob", "dev7"), "devices/dev7/up"));
  EXPECT_TRUE(acl.may_read(user("carol"), "users/carol/inbox"));
  EXPECT_FALSE(acl.may_read(user("carol"), "users/dave/inbox"));
  // %u does not apply to a client without a user name.
  EXPECT_FALSE(acl.may_read(anonymous("x"), "users//inbox"));
}

// CVE-2017-7650: a client id or user name holding '#' or '+' (or '/') must
// not widen a pattern.
TEST(Acl, Cve2017_7650_WildcardsInNamesDoNotWidenPatterns) {
  const Acl acl = parsed(sample);
  EXPECT_FALSE(acl.may_write(user("bob", "#"), "devices/dev8/up"));
  EXPECT_FALSE(acl.may_write(user("bob", "+"), "devices/dev8/up"));
  EXPECT_FALSE(acl.may_read(user("#"), "users/carol/inbox"));
  EXPECT_FALSE(acl.may_read(user("+"), "users/carol/inbox"));
  EXPECT_FALSE(acl.may_subscribe(user("#"), "users/#"));
  EXPECT_FALSE(acl.may_read(user("carol/x"), "users/carol/x/inbox"));
}

// CVE-2018-12550: an empty ACL file denies everything.
TEST(Acl, Cve2018_12550_EmptyFileDeniesAll) {
  for (const std::string text : {"", "\n\n# only comments\n", "user alice\n"}) {
    const Acl acl = parsed(text);
    EXPECT_EQ(acl.rules(), 0u);
    EXPECT_FALSE(acl.may_read(anonymous(), "a")) << text;
    EXPECT_FALSE(acl.may_write(user("alice"), "a")) << text;
    EXPECT_FALSE(acl.may_subscribe(user("alice"), "#")) << text;
  }
}

// CVE-2018-12543: '#' and '+' never match $SYS topics, whatever the rules.
TEST(Acl, Cve2018_12543_WildcardsNeverReachSys) {
  const Acl acl = parsed("topic readwrite #\ntopic read +/broker/#\n");
  EXPECT_TRUE(acl.may_read(anonymous(), "a/b"));
  EXPECT_FALSE(acl.may_read(anonymous(), "$SYS/broker/uptime"));
  EXPECT_FALSE(acl.may_write(anonymous(), "$SYS/broker/uptime"));
  EXPECT_FALSE(acl.may_subscribe(anonymous(), "$SYS/#"));
  EXPECT_FALSE(acl.may_subscribe(anonymous(), "$SYS/broker/+"));
  const Acl sys = parsed("topic read $SYS/#\n");
  EXPECT_TRUE(sys.may_read(anonymous(), "$SYS/broker/uptime"));
  EXPECT_TRUE(sys.may_subscribe(anonymous(), "$SYS/broker/+"));
}

TEST(Acl, SubscribeNeedsAReadRuleCoveringTheWholeFilter) {
  const Acl acl = parsed(sample);
  EXPECT_TRUE(acl.may_subscribe(user("alice"), "alice/#"));
  EXPECT_TRUE(acl.may_subscribe(user("alice"), "alice/+/x"));
  EXPECT_TRUE(acl.may_subscribe(user("bob"), "sensors/+/temp"));
  EXPECT_TRUE(acl.may_subscribe(user("bob"), "sensors/kitchen/temp"));
  EXPECT_FALSE(acl.may_subscribe(user("bob"), "sensors/#"));
  EXPECT_FALSE(acl.may_subscribe(user("bob"), "sensors/+/+"));
  EXPECT_FALSE(acl.may_subscribe(user("bob"), "#"));
  // A write right is not a read right.
  EXPECT_FALSE(acl.may_subscribe(user("bob", "dev7"), "devices/dev7/up"));
}

// A filter inside a denied part is refused; one that only reaches into it is
// granted, and may_read keeps the denied part's messages from it.
TEST(Acl, WildcardSubscriptionsOverlappingADeniedTopic) {
  const Acl acl = parsed(sample);
  EXPECT_FALSE(acl.may_subscribe(user("alice"), "alice/secret/#"));
  EXPECT_FALSE(acl.may_subscribe(user("alice"), "alice/secret/+"));
  EXPECT_TRUE(acl.may_subscribe(user("alice"), "alice/#"));
  EXPECT_TRUE(acl.may_subscribe(user("alice"), "alice/+/plans"));
  EXPECT_FALSE(acl.may_read(user("alice"), "alice/secret/plans"));
  EXPECT_TRUE(acl.may_read(user("alice"), "alice/public/plans"));
}

TEST(Acl, FilterCovers) {
  EXPECT_TRUE(filter_covers("#", "a/b"));
  EXPECT_TRUE(filter_covers("a/#", "a"));
  EXPECT_TRUE(filter_covers("a/#", "a/#"));
  EXPECT_TRUE(filter_covers("a/+", "a/+"));
  EXPECT_TRUE(filter_covers("a/+", "a/b"));
  EXPECT_TRUE(filter_covers("+/+", "+/b"));
  EXPECT_FALSE(filter_covers("a/b", "a/+"));
  EXPECT_FALSE(filter_covers("a/+", "a/#"));
  EXPECT_FALSE(filter_covers("a/+", "a/b/c"));
  EXPECT_FALSE(filter_covers("a/b/c", "a/b"));
  EXPECT_FALSE(filter_covers("#", "$SYS/x"));
  EXPECT_FALSE(filter_covers("+/x", "$SYS/x"));
  EXPECT_TRUE(filter_covers("$SYS/#", "$SYS/x"));
}

TEST(Acl, BadLinesAreErrorsThatNameTheLine) {
  struct Case {
    std::string text;
    std::size_t line;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"topic read a\nfilter read b\n", 2, "unknown keyword \"filter\""},
      {"user\n", 1, "needs a name"},
      {"\n\ntopic\n", 3, "needs a topic"},
      {"topic read a/#/b\n", 1, "not a valid topic filter"},
      {"pattern write a+/b\n", 1, "not a valid topic filter"},
      {"topic read $share/g/a\n", 1, "not a valid topic filter"},
  };
  for (const Case& c : cases) {
    auto result = Acl::parse(c.text);
    ASSERT_TRUE(std::holds_alternative<AclError>(result)) << c.text;
    const AclError& e = std::get<AclError>(result);
    EXPECT_EQ(e.line, c.line) << c.text;
    EXPECT_NE(e.message.find(c.message), std::string::npos) << e.message;
  }
}

TEST(Acl, TopicsWithSpacesAndTabs) {
  const Acl acl = parsed("topic\treadwrite  room 1/lights \n");
  EXPECT_TRUE(acl.may_write(anonymous(), "room 1/lights"));
  EXPECT_EQ(acl.rules(), 1u);
}

}  // namespace
}  // namespace assay::broker::security
