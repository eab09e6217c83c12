// PostedFd: a socket in a task posted to a shard is closed when the task
// is destroyed unrun, and given up, not closed, when it runs.
#include "posted_fd.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <functional>
#include <vector>

namespace assay::broker::front_end {
namespace {

bool is_open(int fd) {
  return ::fcntl(fd, F_GETFD) != -1;
}

TEST(PostedFd, ATaskDroppedUnrunClosesItsSocket) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  {
    std::vector<std::function<void()>> posted;
    posted.emplace_back([fd = PostedFd(pair[0])] { (void)fd.take(); });
    const std::vector<std::function<void()>> copy = posted;  // copies share the socket
    EXPECT_TRUE(is_open(pair[0]));
  }
  EXPECT_FALSE(is_open(pair[0]));
  ::close(pair[1]);
}

TEST(PostedFd, ATaskThatRunsOwnsTheSocket) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  int taken = -1;
  {
    std::function<void()> task = [fd = PostedFd(pair[0]), &taken] { taken = fd.take(); };
    task();
  }
  EXPECT_EQ(taken, pair[0]);
  EXPECT_TRUE(is_open(pair[0]));  // the task's runner closes it, not PostedFd
  ::close(pair[0]);
  ::close(pair[1]);
}

}  // namespace
}  // namespace assay::broker::front_end
