// A socket carried to another shard in a posted task (an accepted
// connection, a connection handed over): closed if the task is destroyed
// without running, as a task posted after the shard's loop has ended is, so
// that shutting down never leaks it; given up to whoever runs the task.
#pragma once

#include <unistd.h>

#include <memory>
#include <utility>

namespace assay::broker::front_end {

class PostedFd {
 public:
  // std::function copies its callable: the copies share the one socket.
  explicit PostedFd(int fd)
      : fd_(new int(fd), [](int* p) {
          if (*p >= 0) ::close(*p);
          delete p;
        }) {}
  // The socket, once: from then on it is the caller's to close.
  int take() const { return std::exchange(*fd_, -1); }

 private:
  std::shared_ptr<int> fd_;
};

}  // namespace assay::broker::front_end
