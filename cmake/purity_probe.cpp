// Not part of any target: protocol.purity_probe feeds this file to
// check_purity.cmake to show that the check fails on a forbidden header.
#include <thread>

int probe() {
  return static_cast<int>(std::thread::hardware_concurrency());
}
