// Line by line through a configuration file's text (password and ACL files).
#pragma once

#include <string_view>

namespace assay::broker::security {

// Takes the first line off `text`, without its "\n" or "\r\n".
inline std::string_view take_line(std::string_view& text) {
  const std::size_t eol = text.find('\n');
  std::string_view line = text.substr(0, eol);
  text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace assay::broker::security
