// Access control lists in Mosquitto's acl_file syntax (docs/broker.md,
// "Authorisation"):
//
//   # rules before any `user` line are for clients without a user name
//   topic read public/#
//   user alice
//   topic readwrite alice/#
//   topic deny alice/secret/#
//   pattern write devices/%c/up      # every client, %c its client id
//   pattern read users/%u/#          # %u its user name
//
// `topic` and `pattern` take an access of read, write, readwrite or deny
// (none: readwrite) and a topic filter. `clientid <id>` starts a section like
// `user` does, for one client id (our addition; Mosquitto has none).
// Evaluation, for one client and one topic: any matching deny rule denies;
// otherwise a rule granting the access allows; otherwise it is denied, so an
// empty file denies everything (CVE-2018-12550). A pattern whose %u or %c
// would put '#', '+' or '/' into a filter does not apply to that client
// (CVE-2017-7650). `#` and `+` never match `$SYS/...` or any `$` topic
// [MQTT-4.7.2-1], whatever the rules say (CVE-2018-12543).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "assay/broker/auth.hpp"

namespace assay::broker::security {

enum class Access : std::uint8_t { read = 1, write = 2, readwrite = 3, deny = 4 };

struct AclRule {
  Access access = Access::readwrite;
  std::string filter;  // for patterns, with %u and %c unexpanded
  bool pattern = false;
  std::size_t line = 0;
};

struct AclError {
  std::size_t line = 0;  // 1-based
  std::string message;
};

class Acl {
 public:
  static std::variant<Acl, AclError> parse(std::string_view text);

  // May `who` publish to `topic` (a topic name)?
  bool may_write(const Principal& who, std::string_view topic) const;
  // May `who` receive a message published to `topic`?
  bool may_read(const Principal& who, std::string_view topic) const;
  // May `who` subscribe to `filter` (a non-shared filter: the caller strips
  // "$share/{group}/", so a shared subscription is authorised exactly as
  // its filter)? Only when a read rule covers all of the filter and no deny
  // rule does; a filter that reaches into a denied part is allowed, and the
  // messages from that part are kept from it one by one (may_read).
  bool may_subscribe(const Principal& who, std::string_view filter) const;

  std::size_t rules() const;

 private:
  // Visits the rules that concern `who`, patterns expanded (acl.cpp).
  template <class Visit>
  void each_rule(const Principal& who, Visit&& visit) const;

  std::vector<AclRule> anonymous_;
  std::map<std::string, std::vector<AclRule>, std::less<>> users_;
  std::map<std::string, std::vector<AclRule>, std::less<>> client_ids_;
  std::vector<AclRule> patterns_;
};

// Does every topic that `inner` matches also match `outer` (both valid,
// non-shared filters)? "a/#" covers "a/b/+" and "a"; "+/x" does not cover
// "$SYS/x".
bool filter_covers(std::string_view outer, std::string_view inner);

}  // namespace assay::broker::security
