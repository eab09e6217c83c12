#include "assay/mqtt/violation.hpp"

#include <cstdio>

namespace assay::mqtt {

std::string to_string(const Violation& v) {
  char code[8];
  std::snprintf(code, sizeof code, "0x%02X", static_cast<unsigned>(v.reason));
  std::string out{name(v.reason, PacketType::disconnect)};
  out += " (";
  out += code;
  out += ") [";
  out += v.statement;
  out += "]";
  if (!v.detail.empty()) {
    out += ": ";
    out += v.detail;
  }
  return out;
}

}  // namespace assay::mqtt
