// UTF-8 Encoded String rules (MQTT 5.0 §1.5.4, 3.1.1 §1.5.3).
#pragma once

#include <string_view>

namespace assay::mqtt {

enum class Utf8Status {
  ok,
  ill_formed,  // not well-formed per RFC 3629: bad lead/continuation, overlong, > U+10FFFF
  surrogate,   // encodes a code point in U+D800..U+DFFF
  null_char,   // encodes U+0000
};

// Checks the whole string; the first problem found is returned.
Utf8Status check_utf8(std::string_view s);

}  // namespace assay::mqtt
