// The WebSocket layer of the broker's front end on its own: the upgrade,
// frames split at every byte, fragmented messages, control frames, and the
// frames MQTT over WebSocket must refuse (MQTT 5.0 section 6).
#include <gtest/gtest.h>

#include <string>

#include "websocket.hpp"

namespace assay::broker::front_end {
namespace {

using mqtt::Bytes;
using mqtt::ByteView;
using Result = WebSocketSession::Result;

const std::string upgrade_request =
    "GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Protocol: mqtt\r\n\r\n";

ByteView view(const std::string& s) {
  return ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}
std::string text(const Bytes& b) {
  return std::string(b.begin(), b.end());
}

// A client's frame: masked, as RFC 6455 requires of clients.
Bytes client_frame(std::uint8_t first, const std::string& payload) {
  const std::uint8_t mask[4] = {0x11, 0x22, 0x33, 0x44};
  Bytes f{first};
  if (payload.size() < 126) {
    f.push_back(static_cast<std::uint8_t>(0x80 | payload.size()));
  } else {
    f.push_back(0x80 | 126);
    f.push_back(static_cast<std::uint8_t>(payload.size() >> 8));
    f.push_back(static_cast<std::uint8_t>(payload.size()));
  }
  f.insert(f.end(), mask, mask + 4);
  for (std::size_t i = 0; i < payload.size(); ++i)
    f.push_back(static_cast<std::uint8_t>(payload[i] ^ mask[i % 4]));
  return f;
}

TEST(WebSocket, TheUpgradeIsAnsweredWithTheRfcAcceptKey) {
  WebSocketSession ws("/mqtt");
  Bytes app, reply;
  ASSERT_EQ(ws.receive(view(upgrade_request), app, reply), Result::ok);
  EXPECT_TRUE(ws.open());
  // RFC 6455 section 1.3's example key and its answer.
  EXPECT_NE(text(reply).find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
            std::string::npos)
      << text(reply);
  EXPECT_NE(text(reply).find("Sec-WebSocket-Protocol: mqtt\r\n"), std::string::npos);
  EXPECT_TRUE(app.empty());
}

// Two binary frames (the second fragmented into two) and a ping, arriving in
// pieces of every size: the same MQTT bytes come out, and one pong.
TEST(WebSocket, FramesSplitAtAnyByteGiveTheSameBytes) {
  const std::string big(300, 'z');  // a 16-bit length
  Bytes stream;
  for (const Bytes& f : {client_frame(0x82, "\x10\x02hi"), client_frame(0x02, big),
                         client_frame(0x89, "p!"), client_frame(0x80, "end")}) {
    stream.insert(stream.end(), f.begin(), f.end());
  }
  for (std::size_t piece = 1; piece <= stream.size(); ++piece) {
    WebSocketSession ws("/mqtt");
    Bytes app, reply;
    ASSERT_EQ(ws.receive(view(upgrade_request), app, reply), Result::ok);
    reply.clear();
    for (std::size_t at = 0; at < stream.size(); at += piece) {
      const std::size_t n = std::min(piece, stream.size() - at);
      ASSERT_EQ(ws.receive(ByteView(stream.data() + at, n), app, reply), Result::ok) << piece;
    }
    EXPECT_EQ(text(app), "\x10\x02hi" + big + "end") << piece;
    EXPECT_EQ(reply, (Bytes{0x8A, 2, 'p', '!'})) << piece;  // the pong
  }
}

TEST(WebSocket, WhatMqttOverWebSocketMustRefuse) {
  const auto refused = [](const Bytes& frame, std::uint16_t code) {
    WebSocketSession ws("/mqtt");
    Bytes app, reply;
    EXPECT_EQ(ws.receive(view(upgrade_request), app, reply), Result::ok);
    reply.clear();
    EXPECT_EQ(ws.receive(frame, app, reply), Result::failed);
    // A close frame with the code.
    EXPECT_EQ(reply, (Bytes{0x88, 2, static_cast<std::uint8_t>(code >> 8),
                            static_cast<std::uint8_t>(code)}))
        << ws.error();
  };
  refused(client_frame(0x81, "text"), 1003);  // [MQTT-6.0.0-1]
  Bytes unmasked{0x82, 0x01, 0x00};
  refused(unmasked, 1002);
  refused(client_frame(0x80, "continuation of nothing"), 1002);
  refused(client_frame(0xC2, "rsv1"), 1002);
  refused(client_frame(0x09, "a fragmented ping"), 1002);
}

TEST(WebSocket, AClientsCloseIsAnsweredAndEndsTheSession) {
  WebSocketSession ws("/mqtt");
  Bytes app, reply;
  ASSERT_EQ(ws.receive(view(upgrade_request), app, reply), Result::ok);
  reply.clear();
  Bytes input = client_frame(0x82, "last");
  const Bytes close = client_frame(0x88, std::string("\x03\xE8", 2));
  input.insert(input.end(), close.begin(), close.end());
  EXPECT_EQ(ws.receive(input, app, reply), Result::closed);
  EXPECT_EQ(text(app), "last");  // what came before the close is the client's
  EXPECT_EQ(reply, (Bytes{0x88, 2, 0x03, 0xE8}));
}

TEST(WebSocket, BadUpgradesGetAnHttpError) {
  const auto status = [](const std::string& request, const std::string& path = "/mqtt") {
    WebSocketSession ws(path);
    Bytes app, reply;
    EXPECT_EQ(ws.receive(view(request), app, reply), Result::failed);
    const std::string r = text(reply);
    return r.substr(0, r.find("\r\n"));
  };
  EXPECT_EQ(status(upgrade_request, "/other"), "HTTP/1.1 404 Not Found");
  std::string no_mqtt = upgrade_request;
  no_mqtt.replace(no_mqtt.find("Protocol: mqtt"), 14, "Protocol: chat");
  EXPECT_EQ(status(no_mqtt), "HTTP/1.1 400 Bad Request");
  std::string old_version = upgrade_request;
  old_version.replace(old_version.find("Version: 13"), 11, "Version: 8");
  EXPECT_EQ(status(old_version), "HTTP/1.1 426 Upgrade Required");
  EXPECT_EQ(status("GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n"), "HTTP/1.1 400 Bad Request");
  // A request header larger than 8 KiB is refused, not buffered on.
  EXPECT_EQ(status("GET /mqtt HTTP/1.1\r\nX: " + std::string(9000, 'a') + "\r\n\r\n"),
            "HTTP/1.1 400 Bad Request");
}

}  // namespace
}  // namespace assay::broker::front_end
