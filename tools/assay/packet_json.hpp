// The packet JSON of the tools' commands, which lives in json/ now (below
// the conformance suite, which reports packets with it too). This header
// keeps code in tools/ that includes "packet_json.hpp" and calls to_json()
// unqualified building; new code includes "assay/json/packet_json.hpp".
#pragma once

#include "assay/json/packet_json.hpp"

namespace assay::tools {

using packet_json::hex_byte;
using packet_json::to_hex;
using packet_json::to_json;

}  // namespace assay::tools
