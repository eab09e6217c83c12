#include "assay/mqtt/raw.hpp"

#include "property_codec.hpp"
#include "wire.hpp"

namespace assay::mqtt {

FrameBuilder& FrameBuilder::u8(std::uint8_t v) {
  body_.push_back(v);
  return *this;
}

FrameBuilder& FrameBuilder::u16(std::uint16_t v) {
  wire::VectorSink s{body_};
  wire::put_u16(s, v);
  return *this;
}

FrameBuilder& FrameBuilder::u32(std::uint32_t v) {
  wire::VectorSink s{body_};
  wire::put_u32(s, v);
  return *this;
}

FrameBuilder& FrameBuilder::vbi(std::uint32_t v) {
  encode_vbi(v, body_);
  return *this;
}

FrameBuilder& FrameBuilder::bytes(ByteView b) {
  body_.insert(body_.end(), b.begin(), b.end());
  return *this;
}

FrameBuilder& FrameBuilder::bytes(std::initializer_list<std::uint8_t> b) {
  body_.insert(body_.end(), b.begin(), b.end());
  return *this;
}

FrameBuilder& FrameBuilder::string(std::string_view s) {
  wire::VectorSink sink{body_};
  wire::put_string(sink, s);
  return *this;
}

FrameBuilder& FrameBuilder::binary(ByteView b) {
  wire::VectorSink sink{body_};
  wire::put_binary(sink, b);
  return *this;
}

FrameBuilder& FrameBuilder::properties(const Properties& props) {
  wire::VectorSink sink{body_};
  detail::write_properties(sink, props);
  return *this;
}

FrameBuilder& FrameBuilder::raw_properties(ByteView encoded) {
  encode_vbi(static_cast<std::uint32_t>(encoded.size()), body_);
  return bytes(encoded);
}

FrameBuilder& FrameBuilder::remaining_length(std::uint32_t declared) {
  declared_ = declared;
  return *this;
}

Bytes FrameBuilder::build() const {
  Bytes out;
  out.reserve(body_.size() + 5);
  out.push_back(first_);
  encode_vbi(declared_.value_or(static_cast<std::uint32_t>(body_.size())), out);
  out.insert(out.end(), body_.begin(), body_.end());
  return out;
}

Bytes encode_property(const Property& p) {
  Bytes out;
  wire::VectorSink sink{out};
  detail::write_property(sink, p);
  return out;
}

}  // namespace assay::mqtt
