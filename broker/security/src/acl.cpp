#include "assay/broker/security/acl.hpp"

#include <functional>

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

// `filter` with %u and %c replaced, into `out`; false when a value would
// widen the filter or is missing (a pattern with %u does not apply to a
// client without a user name).
bool expand(std::string_view filter, const Principal& who, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < filter.size(); ++i) {
    if (filter[i] == '%' && i + 1 < filter.size() &&
        (filter[i + 1] == 'u' || filter[i + 1] == 'c')) {
      std::string_view value;
      if (filter[i + 1] == 'u') {
        if (!who.username) return false;
        value = *who.username;
      } else {
        value = who.client_id;
      }
      if (value.empty() || value.find_first_of("#+/") != std::string_view::npos) {
        return false;  // CVE-2017-7650
      }
      out += value;
      ++i;
    } else {
      out += filter[i];
    }
  }
  return true;
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

// Calls visit(access, filter) for each rule that applies to `who`, patterns
// expanded, until it returns true. No allocation: expansions go to one
// buffer per thread (a check runs for every message an ACL'd broker routes).
template <class Visit>
void Acl::each_rule(const Principal& who, Visit&& visit) const {
  const auto all = [&](const std::vector<AclRule>& rules) {
    for (const AclRule& r : rules) {
      if (visit(r.access, std::string_view(r.filter))) return true;
    }
    return false;
  };
  if (!who.username) {
    if (all(anonymous_)) return;
  } else if (const auto it = users_.find(*who.username); it != users_.end()) {
    if (all(it->second)) return;
  }
  if (const auto it = client_ids_.find(who.client_id); it != client_ids_.end()) {
    if (all(it->second)) return;
  }
  thread_local std::string expanded;
  for (const AclRule& r : patterns_) {
    if (expand(r.filter, who, expanded) && visit(r.access, std::string_view(expanded))) return;
  }
}

namespace {
// Deny wins whatever the order: the first deny that matches decides; else
// any grant that matches.
template <class Matches>
struct Decision {
  Access wanted;
  Matches matches;
  bool granted = false;
  bool denied = false;
  bool operator()(Access access, std::string_view filter) {
    if (access == Access::deny) {
      if (matches(filter)) denied = true;
      return denied;  // stop at the first deny that matches
    }
    if (!granted && grants(access, wanted) && matches(filter)) granted = true;
    return false;
  }
  bool allowed() const { return granted && !denied; }
};
template <class Matches>
Decision(Access, Matches) -> Decision<Matches>;
}  // namespace

bool Acl::may_write(const Principal& who, std::string_view topic) const {
  Decision d{Access::write, [&](std::string_view f) { return mqtt::topic_matches(f, topic); }};
  each_rule(who, std::ref(d));
  return d.allowed();
}

bool Acl::may_read(const Principal& who, std::string_view topic) const {
  Decision d{Access::read, [&](std::string_view f) { return mqtt::topic_matches(f, topic); }};
  each_rule(who, std::ref(d));
  return d.allowed();
}

bool Acl::may_subscribe(const Principal& who, std::string_view filter) const {
  Decision d{Access::read, [&](std::string_view rule) { return filter_covers(rule, filter); }};
  each_rule(who, std::ref(d));
  return d.allowed();
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
