#include "message_format.hpp"

#include <cstdio>
#include <ctime>
#include <optional>

#include "assay/json/packet_json.hpp"
#include "client_args.hpp"

namespace assay::tools {

using namespace mqtt;
using json = nlohmann::ordered_json;

namespace {

constexpr std::string_view conversions = "%ACDEFIjJlmPpqRrStUxX";
constexpr std::string_view escapes = "\\0aenrtv";

struct Spec {
  bool left = false;
  char pad = ' ';
  int width = 0;
  int precision = -1;
  char conversion = 0;
};

std::string local_time(const char* fmt, WallClock::time_point t) {
  const std::time_t secs = WallClock::to_time_t(t);
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[128];
  const std::size_t n = std::strftime(buf, sizeof buf, fmt, &tm);
  return std::string(buf, n);
}

long nanoseconds_of(WallClock::time_point t) {
  const auto since = t.time_since_epoch();
  return static_cast<long>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                               since - std::chrono::floor<std::chrono::seconds>(since))
                               .count());
}

// Pads `s` to the spec's width (strings pad with spaces, or `pad` where
// mosquitto pads numbers).
void padded(std::string& out, std::string s, const Spec& sp, bool numeric) {
  if (sp.precision >= 0 && !numeric && s.size() > static_cast<std::size_t>(sp.precision)) {
    s.resize(static_cast<std::size_t>(sp.precision));
  }
  const std::size_t width = sp.width > 0 ? static_cast<std::size_t>(sp.width) : 0;
  if (s.size() >= width) {
    out += s;
  } else if (sp.left) {
    out += s;
    out.append(width - s.size(), ' ');
  } else {
    out.append(width - s.size(), numeric ? sp.pad : ' ');
    out += s;
  }
}

std::string hex(ByteView b, bool upper) {
  static constexpr char lo[] = "0123456789abcdef";
  static constexpr char up[] = "0123456789ABCDEF";
  const char* digits = upper ? up : lo;
  std::string s;
  s.reserve(b.size() * 2);
  for (const std::uint8_t c : b) {
    s.push_back(digits[c >> 4]);
    s.push_back(digits[c & 15]);
  }
  return s;
}

// A property as an integer field: absent -> only the padding.
void integer_property(std::string& out, const Publish& m, PropertyId id, const Spec& sp) {
  const auto v = m.properties.integer(id);
  if (!v) {
    out.append(sp.width > 0 ? static_cast<std::size_t>(sp.width) : 0, sp.left ? ' ' : sp.pad);
    return;
  }
  padded(out, std::to_string(*v), sp, true);
}

std::string text_of(ByteView b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());  // NOLINT: bytes
}

std::string dump(const json& j, bool pretty) {
  return pretty ? j.dump(1, '\t', false, json::error_handler_t::replace)
                : j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

void check_format(std::string_view f) {
  for (std::size_t i = 0; i < f.size(); ++i) {
    const char c = f[i];
    if (c == '%') {
      ++i;
      if (i < f.size() && (f[i] == '0' || f[i] == '-')) ++i;
      while (i < f.size() && f[i] >= '0' && f[i] <= '9')
        ++i;
      if (i < f.size() && f[i] == '.') {
        ++i;
        while (i < f.size() && f[i] >= '0' && f[i] <= '9')
          ++i;
      }
      if (i >= f.size()) throw UsageError("-F: incomplete format specifier at the end");
      if (conversions.find(f[i]) == std::string_view::npos) {
        throw UsageError(std::string("-F: invalid format specifier '%") + f[i] + "'");
      }
    } else if (c == '@') {
      if (++i >= f.size()) throw UsageError("-F: incomplete time specifier '@' at the end");
    } else if (c == '\\') {
      if (++i >= f.size()) throw UsageError("-F: incomplete escape '\\' at the end");
      if (escapes.find(f[i]) == std::string_view::npos) {
        throw UsageError(std::string("-F: invalid escape '\\") + f[i] + "'");
      }
    }
  }
}

std::string render(std::string_view f, const Publish& m, bool pretty, std::string* error) {
  std::string out;
  const WallClock::time_point now = WallClock::now();  // @ codes share one sample
  for (std::size_t i = 0; i < f.size(); ++i) {
    const char c = f[i];
    if (c == '@') {
      const char code = f[++i];
      if (code == '@') {
        out += '@';
      } else if (code == 'N') {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%09ld", nanoseconds_of(now));
        out += buf;
      } else {
        const char fmt[3] = {'%', code, 0};
        out += local_time(fmt, now);
      }
      continue;
    }
    if (c == '\\') {
      switch (f[++i]) {
        case '\\':
          out += '\\';
          break;
        case '0':
          out += '\0';
          break;
        case 'a':
          out += '\a';
          break;
        case 'e':
          out += '\x1b';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        default:  // 'v'
          out += '\v';
      }
      continue;
    }
    if (c != '%') {
      out += c;
      continue;
    }
    Spec sp;
    ++i;
    if (f[i] == '-') {
      sp.left = true;
      ++i;
    }
    if (f[i] == '0') {
      sp.pad = '0';
      ++i;
    }
    while (f[i] >= '0' && f[i] <= '9')
      sp.width = sp.width * 10 + (f[i++] - '0');
    if (f[i] == '.') {
      sp.precision = 0;
      ++i;
      while (f[i] >= '0' && f[i] <= '9')
        sp.precision = sp.precision * 10 + (f[i++] - '0');
    }
    sp.conversion = f[i];
    const ByteView payload = m.payload.view();
    switch (sp.conversion) {
      case '%':
        out += '%';
        break;
      case 't':
        padded(out, m.topic, sp, false);
        break;
      case 'p': {
        // A width also cuts the payload short, as mosquitto_sub does.
        std::string p = text_of(payload);
        if (sp.width > 0 && p.size() > static_cast<std::size_t>(sp.width)) {
          p.resize(static_cast<std::size_t>(sp.width));
        }
        Spec s = sp;
        s.precision = -1;
        padded(out, std::move(p), s, true);
        break;
      }
      case 'x':
      case 'X':
        padded(out, hex(payload, sp.conversion == 'X'), sp, true);
        break;
      case 'l':
        padded(out, std::to_string(payload.size()), sp, true);
        break;
      case 'm':
        padded(out, std::to_string(m.packet_id), sp, true);
        break;
      case 'q':
        out += std::to_string(static_cast<int>(m.qos));
        break;
      case 'r':
        out += m.retain ? '1' : '0';
        break;
      case 'A':
        integer_property(out, m, PropertyId::topic_alias, sp);
        break;
      case 'E':
        integer_property(out, m, PropertyId::message_expiry_interval, sp);
        break;
      case 'F':
        integer_property(out, m, PropertyId::payload_format_indicator, sp);
        break;
      case 'S':
        integer_property(out, m, PropertyId::subscription_identifier, sp);
        break;
      case 'C': {
        const std::string* ct = m.properties.string(PropertyId::content_type);
        padded(out, ct ? *ct : std::string(), sp, false);
        break;
      }
      case 'R':
        if (const std::string* rt = m.properties.string(PropertyId::response_topic)) {
          padded(out, *rt, sp, false);
        }
        break;
      case 'D':
        if (const Bytes* d = m.properties.binary(PropertyId::correlation_data)) out += text_of(*d);
        break;
      case 'P': {
        bool first = true;
        for (const StringPair& up : m.properties.user_properties()) {
          if (!first) out += ' ';
          first = false;
          out += up.name + ":" + up.value;
        }
        break;
      }
      case 'I':
        padded(out, local_time("%FT%T%z", WallClock::now()), sp, false);
        break;
      case 'U': {
        const auto t = WallClock::now();
        char buf[48];
        std::snprintf(buf, sizeof buf, "%lld.%09ld",
                      static_cast<long long>(WallClock::to_time_t(t)), nanoseconds_of(t));
        out += buf;
        break;
      }
      case 'j':
      case 'J': {
        const auto j = mosquitto_json(m, sp.conversion == 'J', pretty, WallClock::now());
        if (j) {
          out += *j;
        } else if (error != nullptr) {
          *error = "the payload of a message on " + m.topic + " is not valid JSON";
        }
        break;
      }
    }
  }
  return out;
}

std::optional<std::string> mosquitto_json(const Publish& m, bool payload_is_json, bool pretty,
                                          WallClock::time_point t) {
  json j;
  char micro[24];
  std::snprintf(micro, sizeof micro, ".%06ld", nanoseconds_of(t) / 1000 % 1000000);
  // mosquitto_sub 2.0.13 and later: local time, microseconds, offset.
  j["tst"] = local_time("%Y-%m-%dT%H:%M:%S", t) + micro + local_time("%z", t);
  j["topic"] = m.topic;
  j["qos"] = static_cast<int>(m.qos);
  j["retain"] = m.retain ? 1 : 0;
  j["payloadlen"] = m.payload.size();
  if (m.qos != QoS::at_most_once) j["mid"] = m.packet_id;
  if (!m.properties.empty()) {
    json props = json::object();
    json users = json::object();
    bool users_placed = false;
    for (const Property& p : m.properties) {
      switch (p.id) {
        case PropertyId::payload_format_indicator:
          props["payload-format-indicator"] = std::get<std::uint32_t>(p.value);
          break;
        case PropertyId::message_expiry_interval:
          props["message-expiry-interval"] = std::get<std::uint32_t>(p.value);
          break;
        case PropertyId::content_type:
          props["content-type"] = std::get<std::string>(p.value);
          break;
        case PropertyId::response_topic:
          props["response-topic"] = std::get<std::string>(p.value);
          break;
        case PropertyId::correlation_data:
          props["correlation-data"] = text_of(std::get<Bytes>(p.value));
          break;
        case PropertyId::subscription_identifier:
          props["subscription-identifier"] = std::get<std::uint32_t>(p.value);
          break;
        case PropertyId::topic_alias:
          props["topic-alias"] = std::get<std::uint32_t>(p.value);
          break;
        case PropertyId::user_property: {
          const auto& pair = std::get<StringPair>(p.value);
          users[pair.name] = pair.value;
          if (!users_placed) {
            props["user-properties"] = nullptr;  // keeps its place, filled below
            users_placed = true;
          }
          break;
        }
        default:
          break;
      }
    }
    if (users_placed) props["user-properties"] = std::move(users);
    j["properties"] = std::move(props);
  }
  if (m.payload.empty()) {
    j["payload"] = nullptr;
  } else if (payload_is_json) {
    try {
      j["payload"] = json::parse(m.payload.as_chars());
    } catch (const json::parse_error&) {
      return std::nullopt;
    }
  } else {
    j["payload"] = std::string(m.payload.as_chars());
  }
  return dump(j, pretty);
}

json message_json(const Publish& m, Version version, WallClock::time_point t) {
  json j;
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(
          t.time_since_epoch() - std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()))
          .count();
  const std::time_t secs = WallClock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char full[80];
  std::snprintf(full, sizeof full, "%.*s.%03lldZ", static_cast<int>(n), buf,
                static_cast<long long>(ms));
  j["received_at"] = full;
  const json packet = packet_json::to_json(Packet{m}, version);
  for (auto it = packet.begin(); it != packet.end(); ++it)
    j[it.key()] = it.value();
  return j;
}

}  // namespace assay::tools
