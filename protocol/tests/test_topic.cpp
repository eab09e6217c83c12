// Topic names, filters, matching (§4.7), shared subscriptions (§4.8.2) and
// the subscription index.
#include <algorithm>
#include <set>
#include <string>

#include "assay/mqtt/subscription_index.hpp"
#include "assay/mqtt/topic.hpp"
#include "test_util.hpp"

namespace assay::mqtt::test {
namespace {

std::string_view statement_of(const std::optional<Violation>& v) {
  return v ? v->statement : std::string_view("valid");
}

TEST(TopicName, ValidNames) {
  for (const char* name : {"a", "/", "a/b", "a//b", "/a", "a/", "$SYS/x", "sport/tennis/player1",
                           " ", "\xE2\x82\xAC"}) {
    EXPECT_FALSE(validate_topic_name(name, Version::v5)) << name;
  }
}

TEST(TopicName, MQTT_4_7_3_1_AtLeastOneCharacter) {
  EXPECT_EQ(statement_of(validate_topic_name("", Version::v5)), "MQTT-4.7.3-1");
}

TEST(TopicName, MQTT_4_7_3_2_NoNullCharacter) {
  EXPECT_EQ(statement_of(validate_topic_name(std::string_view("a\0b", 3), Version::v5)),
            "MQTT-4.7.3-2");
}

TEST(TopicName, MQTT_4_7_3_3_AtMost65535Bytes) {
  EXPECT_FALSE(validate_topic_name(std::string(65'535, 'a'), Version::v5));
  EXPECT_EQ(statement_of(validate_topic_name(std::string(65'536, 'a'), Version::v5)),
            "MQTT-4.7.3-3");
}

TEST(TopicName, MQTT_4_7_0_1_NoWildcards) {
  EXPECT_EQ(statement_of(validate_topic_name("a/+", Version::v5)), "MQTT-4.7.0-1");
  EXPECT_EQ(statement_of(validate_topic_name("#", Version::v3_1_1)), "MQTT-4.7.1-1");
  EXPECT_EQ(validate_topic_name("a#", Version::v5)->reason, ReasonCode::topic_name_invalid);
}

TEST(TopicFilter, ValidFilters) {
  for (const char* f : {"#", "+", "+/+", "/+", "a/#", "a/+/b", "+/tennis/#", "a//b", "$SYS/#",
                        "sport/tennis/player1/#", "$share/g/a/#", "$share/g/#", "$share"}) {
    EXPECT_FALSE(validate_topic_filter(f, Version::v5)) << f;
  }
}

TEST(TopicFilter, MQTT_4_7_1_1_MultiLevelWildcardLastAndAlone) {
  for (const char* f : {"a/#/b", "a#", "#/", "a/b#", "##"}) {
    EXPECT_EQ(statement_of(validate_topic_filter(f, Version::v5)), "MQTT-4.7.1-1") << f;
    EXPECT_EQ(statement_of(validate_topic_filter(f, Version::v3_1_1)), "MQTT-4.7.1-2") << f;
  }
}

TEST(TopicFilter, MQTT_4_7_1_2_SingleLevelWildcardWholeLevel) {
  for (const char* f : {"a+", "+a", "a/b+/c", "++"}) {
    EXPECT_EQ(statement_of(validate_topic_filter(f, Version::v5)), "MQTT-4.7.1-2") << f;
    EXPECT_EQ(statement_of(validate_topic_filter(f, Version::v3_1_1)), "MQTT-4.7.1-3") << f;
  }
}

TEST(TopicFilter, CommonRules) {
  EXPECT_EQ(statement_of(validate_topic_filter("", Version::v5)), "MQTT-4.7.3-1");
  EXPECT_EQ(statement_of(validate_topic_filter(std::string_view("+\0", 2), Version::v5)),
            "MQTT-4.7.3-2");
  EXPECT_EQ(validate_topic_filter("a+", Version::v5)->reason, ReasonCode::topic_filter_invalid);
}

TEST(SharedSubscription, MQTT_4_8_2_1_ShareNameAtLeastOneCharacter) {
  EXPECT_EQ(statement_of(validate_topic_filter("$share//a", Version::v5)), "MQTT-4.8.2-1");
  EXPECT_EQ(statement_of(validate_topic_filter("$share/", Version::v5)), "MQTT-4.8.2-1");
}

TEST(SharedSubscription, MQTT_4_8_2_2_ShareNameCharactersAndFilter) {
  EXPECT_EQ(statement_of(validate_topic_filter("$share/a+b/t", Version::v5)), "MQTT-4.8.2-2");
  EXPECT_EQ(statement_of(validate_topic_filter("$share/#/t", Version::v5)), "MQTT-4.8.2-2");
  EXPECT_EQ(statement_of(validate_topic_filter("$share/g", Version::v5)), "MQTT-4.8.2-2");
  EXPECT_EQ(statement_of(validate_topic_filter("$share/g/", Version::v5)), "MQTT-4.8.2-2");
  // The filter after the ShareName follows the wildcard rules.
  EXPECT_EQ(statement_of(validate_topic_filter("$share/g/a#", Version::v5)), "MQTT-4.7.1-1");
}

TEST(SharedSubscription, Parse) {
  const auto s = parse_shared_filter("$share/group/a/+/c");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->share_name, "group");
  EXPECT_EQ(s->filter, "a/+/c");
  EXPECT_FALSE(parse_shared_filter("a/b"));
  EXPECT_FALSE(parse_shared_filter("$share//a"));
  EXPECT_FALSE(parse_shared_filter("$share/g"));
  EXPECT_FALSE(parse_shared_filter("$share/g+/a"));
  EXPECT_FALSE(parse_shared_filter("$shared/g/a"));
}

struct MatchCase {
  const char* filter;
  const char* name;
  bool matches;
};

// Examples from §4.7.1 and §4.7.2 of both specifications, and edge cases.
constexpr MatchCase match_cases[] = {
    {"sport/tennis/player1/#", "sport/tennis/player1", true},
    {"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
    {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
    {"sport/#", "sport", true},
    {"#", "sport/tennis", true},
    {"sport/tennis/+", "sport/tennis/player1", true},
    {"sport/tennis/+", "sport/tennis/player1/ranking", false},
    {"sport/+", "sport", false},
    {"sport/+", "sport/", true},
    {"+/+", "/finance", true},
    {"/+", "/finance", true},
    {"+", "/finance", false},
    {"a/b", "a/b", true},
    {"a/b", "a/B", false},  // [MQTT-4.7.3-4] no normalisation, case-sensitive
    {"a/b", "a/b/", false},
    {"a//b", "a//b", true},
    {"a/+/b", "a//b", true},
    {"+", "", true},
    // [MQTT-4.7.2-1]
    {"#", "$SYS/monitor/Clients", false},
    {"+/monitor/Clients", "$SYS/monitor/Clients", false},
    {"$SYS/#", "$SYS/monitor/Clients", true},
    {"$SYS/monitor/+", "$SYS/monitor/Clients", true},
    {"a/#", "a/$b", true},
};

TEST(TopicMatch, MQTT_4_7_2_1_SpecExamplesAndDollarRule) {
  for (const auto& c : match_cases) {
    EXPECT_EQ(topic_matches(c.filter, c.name), c.matches) << c.filter << " vs " << c.name;
  }
}

TEST(SubscriptionIndex, AgreesWithTheExamples) {
  SubscriptionIndex<int, int> index;
  int key = 0;
  for (const auto& c : match_cases)
    index.insert(c.filter, key++, 0);
  for (const auto& c : match_cases) {
    std::set<std::string> expected;
    for (const auto& other : match_cases) {
      if (topic_matches(other.filter, c.name)) expected.insert(other.filter);
    }
    std::set<std::string> got;
    const std::size_t filters =
        index.match(c.name, [&](int k, int) { got.insert(match_cases[k].filter); });
    EXPECT_EQ(got, expected) << c.name;
    EXPECT_EQ(filters, expected.size()) << c.name;  // what the broker's merge relies on
  }
}

TEST(SubscriptionIndex, InsertReplaceEraseAndPrune) {
  SubscriptionIndex<std::string, int> index;
  EXPECT_TRUE(index.insert("a/+", "c1", 1));
  EXPECT_TRUE(index.insert("a/+", "c2", 2));
  EXPECT_FALSE(index.insert("a/+", "c1", 3));  // replaced [MQTT-3.8.4-3]
  EXPECT_TRUE(index.insert("a/#", "c1", 4));
  EXPECT_EQ(index.size(), 3u);
  ASSERT_NE(index.find("a/+", "c1"), nullptr);
  EXPECT_EQ(*index.find("a/+", "c1"), 3);
  EXPECT_EQ(index.find("a/+", "c3"), nullptr);
  EXPECT_EQ(index.find("x/y", "c1"), nullptr);

  std::multiset<int> hits;
  EXPECT_EQ(index.match("a/b", [&](const std::string&, int v) { hits.insert(v); }), 2u);
  EXPECT_EQ(hits, (std::multiset<int>{2, 3, 4}));  // c1 twice: once per matching filter

  EXPECT_TRUE(index.erase("a/+", "c1"));
  EXPECT_FALSE(index.erase("a/+", "c1"));
  EXPECT_FALSE(index.erase("no/such", "c1"));
  EXPECT_TRUE(index.erase("a/+", "c2"));
  EXPECT_TRUE(index.erase("a/#", "c1"));
  EXPECT_TRUE(index.empty());
  hits.clear();
  index.match("a/b", [&](const std::string&, int v) { hits.insert(v); });
  EXPECT_TRUE(hits.empty());
  // Pruned nodes are rebuilt on demand.
  EXPECT_TRUE(index.insert("a/+", "c1", 5));
  index.clear();
  EXPECT_EQ(index.size(), 0u);
}

}  // namespace
}  // namespace assay::mqtt::test
