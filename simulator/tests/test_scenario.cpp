// render(): the templates of client ids, topics and payloads.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "assay/sim/scenario.hpp"

using namespace assay::sim;

TEST(Render, PlaceholdersAndZeroPadding) {
  const std::map<std::string, std::string> v{
      {"class", "sensor"}, {"site", "berlin"}, {"id", "s-7"}};
  EXPECT_EQ(render("{class}-{n:04}", v, 7), "sensor-0007");
  EXPECT_EQ(render("sensors/{site}/{id}/temp", v, 7), "sensors/berlin/s-7/temp");
  EXPECT_EQ(render("{n}", v, 123), "123");
  EXPECT_EQ(render("{n:02}", v, 123), "123");  // wider than the width: not cut
  EXPECT_EQ(render("{n:01}", v, 0), "0");
  EXPECT_EQ(render("{n:020}", v, 5), std::string(19, '0') + "5");
  EXPECT_EQ(render("{n}", {{"n", "not this"}}, 3), "3");
  EXPECT_EQ(render("", v, 1), "");
  EXPECT_EQ(render("no placeholders", v, 1), "no placeholders");
  EXPECT_EQ(render("{id}{id}", v, 1), "s-7s-7");
}

TEST(Render, WhatIsNotAKnownPlaceholderStaysAsItIs) {
  const std::map<std::string, std::string> v{{"msg", "m-1"}, {"value", "21.50"}, {"id", "x"}};
  EXPECT_EQ(render(R"({"id":"{msg}","value":{value}})", v, 0), R"({"id":"m-1","value":21.50})");
  EXPECT_EQ(render("a/{nope}/{n:x}/{n:4}/{n:021}/{id:04}", v, 1),
            "a/{nope}/{n:x}/{n:4}/{n:021}/{id:04}");
  EXPECT_EQ(render("{{id}}", v, 0), "{x}");
  EXPECT_EQ(render("{id", v, 0), "{id");
  EXPECT_EQ(render("{", v, 0), "{");
  EXPECT_EQ(render("}{}", v, 0), "}{}");
  EXPECT_EQ(render("{n:{id}}", v, 2), "{n:x}");
  EXPECT_EQ(render("{ id }", v, 0), "{ id }");
}
