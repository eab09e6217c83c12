// Time in the protocol core. Nothing in protocol/ reads a clock: every input
// carries `now`, a point on the driver's monotonic clock expressed as the
// time since an origin the driver picks (a real clock, or the simulator's
// virtual one).
#pragma once

#include <chrono>

namespace assay::mqtt {

using Duration = std::chrono::milliseconds;
using Time = std::chrono::milliseconds;  // since the driver's origin

}  // namespace assay::mqtt
