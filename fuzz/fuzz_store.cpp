// Fuzz target: recovery of FileStore's log (broker/store/src/log_format.hpp).
// The input is a whole log image, as a crash or damage may have left it.
//
// Oracles:
//  - parse_log never crashes or reads out of bounds (ASan, UBSan) and never
//    claims more than the image: valid_bytes <= size;
//  - a good header means at least the header is valid, and a problem is
//    reported exactly when something was left unread;
//  - the valid prefix alone (what the file holds once the tail is cut)
//    parses to the same contents and records with nothing left over, so a
//    second recovery never cuts more;
//  - the recovered contents written as a snapshot parse back to the same
//    contents, whole.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "log_format.hpp"

namespace {

namespace sl = assay::broker::store_log;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_store oracle failed: %s\n", what);
  std::abort();
}

bool same(const assay::broker::Store::Contents& a, const assay::broker::Store::Contents& b) {
  return a.sessions == b.sessions && a.retained == b.retained;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const assay::mqtt::ByteView image(data, size);
  const sl::LogImage log = sl::parse_log(image);
  if (log.valid_bytes > size) fail("valid_bytes beyond the image");
  if (log.header_ok != (log.valid_bytes >= sl::header_size)) fail("header_ok disagrees");
  if (!log.header_ok) {
    if (log.records != 0 || !log.contents.sessions.empty() || !log.contents.retained.empty())
      fail("records without a header");
    if ((size == 0) != log.problem.empty()) fail("a bad header without a problem");
    return 0;
  }
  if ((log.valid_bytes < size) != !log.problem.empty()) fail("a problem iff a tail");

  const sl::LogImage cut = sl::parse_log(image.first(log.valid_bytes));
  if (!cut.problem.empty() || cut.valid_bytes != log.valid_bytes || cut.records != log.records ||
      !same(cut.contents, log.contents)) {
    fail("the valid prefix does not recover the same");
  }

  const assay::mqtt::Bytes snapshot = sl::encode_snapshot(log.contents);
  if (snapshot.size() != sl::snapshot_size(log.contents)) fail("snapshot_size is wrong");
  const sl::LogImage again = sl::parse_log(snapshot);
  if (!again.problem.empty() || again.valid_bytes != snapshot.size() ||
      again.records != log.contents.sessions.size() + log.contents.retained.size() ||
      !same(again.contents, log.contents)) {
    fail("the snapshot of the recovered contents does not parse back to them");
  }
  return 0;
}
