#include "log_format.hpp"

#include <algorithm>
#include <stdexcept>

namespace assay::broker::store_log {

namespace {

// The reflected Castagnoli polynomial, one table entry per byte value.
constexpr std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit)
      c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<std::uint32_t, 256> crc_table = make_crc_table();

void put_u32(mqtt::Bytes& out, std::uint32_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 24));
  out.push_back(static_cast<std::uint8_t>(v >> 16));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

std::uint32_t get_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

bool is_erase(Kind kind) {
  return kind == Kind::erase_session || kind == Kind::erase_retained;
}
bool is_session(Kind kind) {
  return kind == Kind::put_session || kind == Kind::erase_session;
}

// Checks one body and applies it to `contents`; the reason it is malformed
// otherwise. The CRC already matched, so a malformed body was written so
// (a bug or a foreign file), not torn: it still ends the good part, because
// nothing after a record we cannot read can be trusted to follow it.
std::string apply(Store::Contents& contents, mqtt::ByteView body) {
  if (body.size() < body_overhead) return "a frame shorter than its kind and key length";
  const auto kind = static_cast<Kind>(body[0]);
  if (kind != Kind::put_session && kind != Kind::erase_session && kind != Kind::put_retained &&
      kind != Kind::erase_retained) {
    return std::string("unknown record kind ").append(std::to_string(body[0]));
  }
  const std::size_t key_size = get_u32(body.data() + 1);
  if (key_size > body.size() - body_overhead) return "a key longer than its frame";
  const auto* key = reinterpret_cast<const char*>(body.data() + body_overhead);
  const mqtt::ByteView value = body.subspan(body_overhead + key_size);
  if (is_erase(kind) && !value.empty()) return "an erase record with a value";
  auto& table = is_session(kind) ? contents.sessions : contents.retained;
  std::string k(key, key_size);
  if (is_erase(kind)) {
    table.erase(k);
  } else {
    table.insert_or_assign(std::move(k), mqtt::Bytes(value.begin(), value.end()));
  }
  return {};
}

}  // namespace

std::uint32_t crc32c(mqtt::ByteView data) {
  std::uint32_t c = 0xFFFFFFFFu;
  for (const std::uint8_t b : data)
    c = crc_table[(c ^ b) & 0xFFu] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

void append_header(mqtt::Bytes& out) {
  out.insert(out.end(), magic.begin(), magic.end());
  put_u32(out, format_version);
}

void append_frame(mqtt::Bytes& out, Kind kind, std::string_view key, mqtt::ByteView value) {
  if (key.size() > max_body - body_overhead ||
      value.size() > max_body - body_overhead - key.size()) {
    throw std::length_error(std::string("a store record of ")
                                .append(std::to_string(key.size() + value.size()))
                                .append(" bytes is over the log's limit"));
  }
  const std::size_t body_size = body_overhead + key.size() + value.size();
  const std::size_t start = out.size();
  out.reserve(start + frame_overhead + body_size);
  put_u32(out, static_cast<std::uint32_t>(body_size));
  put_u32(out, 0);  // the CRC, once the body is in place
  out.push_back(static_cast<std::uint8_t>(kind));
  put_u32(out, static_cast<std::uint32_t>(key.size()));
  out.insert(out.end(), key.begin(), key.end());
  out.insert(out.end(), value.begin(), value.end());
  const std::uint32_t crc = crc32c(mqtt::ByteView(out).subspan(start + frame_overhead));
  for (std::size_t i = 0; i < 4; ++i)
    out[start + 4 + i] = static_cast<std::uint8_t>(crc >> (24 - 8 * i));
}

mqtt::Bytes encode_snapshot(const Store::Contents& contents) {
  mqtt::Bytes out;
  out.reserve(snapshot_size(contents));
  append_header(out);
  for (const auto& [key, value] : contents.sessions)
    append_frame(out, Kind::put_session, key, value);
  for (const auto& [key, value] : contents.retained)
    append_frame(out, Kind::put_retained, key, value);
  return out;
}

std::size_t snapshot_size(const Store::Contents& contents) {
  std::size_t n = header_size;
  for (const auto* table : {&contents.sessions, &contents.retained}) {
    for (const auto& [key, value] : *table)
      n += frame_size(key.size(), value.size());
  }
  return n;
}

LogImage parse_log(mqtt::ByteView image) {
  LogImage out;
  if (image.empty()) return out;
  if (image.size() < header_size || !std::equal(magic.begin(), magic.end(), image.begin())) {
    out.problem = "no Assay store log header";
    return out;
  }
  const std::uint32_t version = get_u32(image.data() + magic.size());
  if (version != format_version) {
    out.problem = std::string("format version ")
                      .append(std::to_string(version))
                      .append(", this build reads version ")
                      .append(std::to_string(format_version));
    return out;
  }
  out.header_ok = true;
  std::size_t pos = header_size;
  while (pos < image.size()) {
    const std::size_t left = image.size() - pos;
    if (left < frame_overhead) {
      out.problem = "a frame header cut short";
      break;
    }
    const std::size_t length = get_u32(image.data() + pos);
    if (length > max_body) {
      out.problem =
          std::string("a frame length of ").append(std::to_string(length)).append(" bytes");
      break;
    }
    if (length > left - frame_overhead) {
      out.problem = "a frame cut short";
      break;
    }
    const mqtt::ByteView body = image.subspan(pos + frame_overhead, length);
    if (crc32c(body) != get_u32(image.data() + pos + 4)) {
      out.problem = "a CRC mismatch";
      break;
    }
    if (std::string why = apply(out.contents, body); !why.empty()) {
      out.problem = std::move(why);
      break;
    }
    pos += frame_overhead + length;
    ++out.records;
  }
  out.valid_bytes = pos;
  return out;
}

}  // namespace assay::broker::store_log
