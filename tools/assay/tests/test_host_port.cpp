#include <gtest/gtest.h>

#include "host_port.hpp"

namespace assay::tools {
namespace {

TEST(HostPort, NamesAddressesAndPorts) {
  auto t = parse_host_port("broker.example", 1883);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "broker.example");
  EXPECT_EQ(t->port, 1883);
  t = parse_host_port("127.0.0.1:28885", 1883);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, 28885);
  t = parse_host_port("[::1]:8883", 1883);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "::1");
  EXPECT_EQ(t->port, 8883);
  t = parse_host_port("[::1]", 8883);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->port, 8883);
  t = parse_host_port("fe80::1", 1883);  // bare IPv6: no port in it
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "fe80::1");
}

TEST(HostPort, RefusesBadPorts) {
  for (const char* bad : {"h:0", "h:65536", "h:x", "h:", "[::1", "[::1]x", ":1883", "h:-1"}) {
    EXPECT_FALSE(parse_host_port(bad, 1883)) << bad;
  }
}

}  // namespace
}  // namespace assay::tools
