#include "assay/broker/security/acl.hpp"

#include "lines.hpp"

#include "assay/mqtt/topic.hpp"

namespace assay::broker::security {

namespace {

std::vector<std::string_view> levels(std::string_view filter) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = filter.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(filter.substr(start));
      return out;
    }
    out.push_back(filter.substr(start, slash - start));
    start = slash + 1;
  }
}

// Splits a line into words at spaces and tabs; the last word of a rule (its
// filter) may hold spaces, as topic names may, so `rest` keeps the line
// after the first `words` words.
std::vector<std::string_view> split(std::string_view line, std::size_t words,
                                    std::string_view* rest) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  const auto blank = [](char ch) { return ch == ' ' || ch == '\t'; };
  while (out.size() < words) {
    while (i < line.size() && blank(line[i]))
      ++i;
    if (i == line.size()) break;
    std::size_t j = i;
    while (j < line.size() && !blank(line[j]))
      ++j;
    out.push_back(line.substr(i, j - i));
    i = j;
  }
  while (i < line.size() && blank(line[i]))
    ++i;
  std::string_view tail = line.substr(i);
  while (!tail.empty() && blank(tail.back()))
    tail.remove_suffix(1);
  *rest = tail;
  return out;
}

std::optional<Access> access_named(std::string_view word) {
  if (word == "read") return Access::read;
  if (word == "write") return Access::write;
  if (word == "readwrite") return Access::readwrite;
  if (word == "deny") return Access::deny;
  return std::nullopt;
}

bool grants(Access rule, Access wanted) {
  return (static_cast<unsigned>(rule) & static_cast<unsigned>(wanted)) != 0;
}

// %u and %c replaced; nullopt when a value would widen the filter or is
// missing (a pattern with %u does not apply to a client without a user name).
std::optional<std::string> expand(std::string_view filter, const Principal& who) {
  std::string out;
  for (std::size_t i = 0; i < filter.size(); ++i) {
    if (filter[i] == '%' && i + 1 < filter.size() &&
        (filter[i + 1] == 'u' || filter[i + 1] == 'c')) {
      std::string_view value;
      if (filter[i + 1] == 'u') {
        if (!who.username) return std::nullopt;
        value = *who.username;
      } else {
        value = who.client_id;
      }
      if (value.empty() || value.find_first_of("#+/") != std::string_view::npos) {
        return std::nullopt;  // CVE-2017-7650
      }
      out += value;
      ++i;
    } else {
      out += filter[i];
    }
  }
  return out;
}

}  // namespace

bool filter_covers(std::string_view outer, std::string_view inner) {
  const std::vector<std::string_view> o = levels(outer);
  const std::vector<std::string_view> n = levels(inner);
  const bool dollar = !n.empty() && !n[0].empty() && n[0][0] == '$';
  for (std::size_t i = 0; i < o.size(); ++i) {
    if (o[i] == "#") return !(i == 0 && dollar);  // "a/#" covers "a" too
    if (i >= n.size() || n[i] == "#") return false;
    if (o[i] == "+") {
      if (i == 0 && dollar) return false;  // [MQTT-4.7.2-1]
    } else if (o[i] != n[i]) {
      return false;  // a literal covers only itself, never a '+'
    }
  }
  return o.size() == n.size();
}

namespace {

// Builds `before"word"after` by appending; GCC 12 misreads the equivalent
// chain of operator+ as overlapping copies (-Wrestrict).
std::string quoted(std::string_view before, std::string_view word, std::string_view after) {
  std::string out;
  out.reserve(before.size() + word.size() + after.size() + 2);
  out.append(before).append(1, '"').append(word).append(1, '"').append(after);
  return out;
}

}  // namespace

std::variant<Acl, AclError> Acl::parse(std::string_view text) {
  Acl acl;
  std::vector<AclRule>* section = &acl.anonymous_;
  std::size_t number = 0;
  while (!text.empty()) {
    ++number;
    const std::string_view line = take_line(text);
    std::string_view rest;
    const std::vector<std::string_view> first = split(line, 1, &rest);
    if (first.empty() || first[0].front() == '#') continue;
    const std::string_view keyword = first[0];
    if (keyword == "user" || keyword == "clientid") {
      if (rest.empty()) return AclError{number, quoted("", keyword, " needs a name")};
      auto& table = keyword == "user" ? acl.users_ : acl.client_ids_;
      section = &table[std::string(rest)];
      continue;
    }
    if (keyword != "topic" && keyword != "pattern") {
      return AclError{number, quoted("unknown keyword ", keyword,
                                     " (expected topic, pattern, user or clientid)")};
    }
    AclRule rule;
    rule.line = number;
    rule.pattern = keyword == "pattern";
    std::string_view filter = rest;
    std::string_view after;
    const std::vector<std::string_view> word = split(rest, 1, &after);
    if (word.empty()) return AclError{number, quoted("", keyword, " needs a topic")};
    if (const auto a = access_named(word[0]); a && !after.empty()) {
      rule.access = *a;
      filter = after;
    }
    // Validated with the placeholders as plain characters: a filter with a
    // misplaced wildcard is an error here, not a rule that never matches.
    if (mqtt::validate_topic_filter(filter, mqtt::Version::v5) ||
        mqtt::parse_shared_filter(filter)) {
      return AclError{number, quoted("", filter, " is not a valid topic filter")};
    }
    rule.filter = std::string(filter);
    (rule.pattern ? acl.patterns_ : *section).push_back(std::move(rule));
  }
  return acl;
}

std::vector<std::pair<Access, std::string>> Acl::applicable(const Principal& who) const {
  std::vector<std::pair<Access, std::string>> out;
  const auto add = [&](const std::vector<AclRule>& rules) {
    for (const AclRule& r : rules)
      out.emplace_back(r.access, r.filter);
  };
  if (!who.username) {
    add(anonymous_);
  } else if (const auto it = users_.find(*who.username); it != users_.end()) {
    add(it->second);
  }
  if (const auto it = client_ids_.find(who.client_id); it != client_ids_.end()) add(it->second);
  for (const AclRule& r : patterns_) {
    if (auto f = expand(r.filter, who)) out.emplace_back(r.access, std::move(*f));
  }
  return out;
}

namespace {
bool decide(const std::vector<std::pair<Access, std::string>>& rules, std::string_view topic,
            Access wanted) {
  for (const auto& [access, filter] : rules) {
    if (access == Access::deny && mqtt::topic_matches(filter, topic)) return false;
  }
  for (const auto& [access, filter] : rules) {
    if (access != Access::deny && grants(access, wanted) && mqtt::topic_matches(filter, topic)) {
      return true;
    }
  }
  return false;
}
}  // namespace

bool Acl::may_write(const Principal& who, std::string_view topic) const {
  return decide(applicable(who), topic, Access::write);
}

bool Acl::may_read(const Principal& who, std::string_view topic) const {
  return decide(applicable(who), topic, Access::read);
}

bool Acl::may_subscribe(const Principal& who, std::string_view filter) const {
  const auto rules = applicable(who);
  for (const auto& [access, rule] : rules) {
    if (access == Access::deny && filter_covers(rule, filter)) return false;
  }
  for (const auto& [access, rule] : rules) {
    if (access != Access::deny && grants(access, Access::read) && filter_covers(rule, filter)) {
      return true;
    }
  }
  return false;
}

std::size_t Acl::rules() const {
  std::size_t n = anonymous_.size() + patterns_.size();
  for (const auto& [name, rules] : users_)
    n += rules.size();
  for (const auto& [name, rules] : client_ids_)
    n += rules.size();
  return n;
}

}  // namespace assay::broker::security
