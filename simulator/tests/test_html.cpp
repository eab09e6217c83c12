// The report page: it says the verdict, shows every finding, escapes what
// came from a scenario file, fetches nothing, draws its figures, and still
// renders for a report with nothing in it.
#include "assay/sim/html.hpp"

#include <gtest/gtest.h>

#include <string>

#include "assay/sim/run.hpp"

namespace assay::sim::test {
namespace {

using Json = nlohmann::ordered_json;

std::size_t occurrences(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto i = s.find(what); i != std::string::npos; i = s.find(what, i + 1))
    ++n;
  return n;
}

// Between <section id="ID"> and its end.
std::string section(const std::string& page, const std::string& id) {
  const auto a = page.find("<section id=\"" + id + "\"");
  if (a == std::string::npos) return "";
  return page.substr(a, page.find("</section>", a) - a);
}

Json broken_report() {
  Json r;
  r["seed"] = 18446744073709551615ULL;  // every digit of a 64-bit seed survives
  r["scenario"] = "fleet";
  r["scenario_file"] = "examples/scenarios/fleet.json";
  r["verdict"] = "correctness";
  r["mode"] = "volatile";
  r["trace_hash"] = 42;
  r["simulated_s"] = 30.0;
  r["counts"] = {{"ok", 100}, {"duplicated", 2}, {"lost", 1}, {"mystery", 7}};
  r["stats"] = {{"events", 1000},   {"published", 100}, {"delivered", 103},
                {"connections", 3}, {"bytes", 123456},  {"faults", 2}};
  r["findings"] = Json::array();
  r["findings"].push_back({{"checker", "delivery"},
                           {"invariant", "S4"},
                           {"statement", "MQTT-4.3.3-10"},
                           {"detail", "backend got QoS 2 m0000000000000007 2 times"},
                           {"t_s", 12.5},
                           {"liveness", false},
                           {"window", {"  12.400000  a line", "  12.500000  backend deliver"}}});
  r["findings"].push_back({{"checker", "delivery"},
                           {"invariant", "L1"},
                           {"statement", "MQTT-4.3.2-1"},
                           {"detail",
                            "backend never got m0000000000000009 (QoS 1, acknowledged "
                            "to sensor-0001) & <more>"},
                           {"t_s", 20.0},
                           {"liveness", true},
                           {"window", Json::array()}});
  r["deliveries_per_s"] = {3, 4, 5, 0, 9};
  r["latency_us"] = {{"1", {50, 150, 2000, 30000, 400000}}, {"2", {5000, 5000, 12000000}}};
  r["connections"] = {{{"client", "sensor-0001"}, {"from_s", 0.1}, {"to_s", 10.0}},
                      {{"client", "sensor-0001"}, {"from_s", 11.0}, {"to_s", 30.0}},
                      {{"client", "<script>alert(1)</script>"}, {"from_s", 0.2}, {"to_s", 30.0}},
                      {{"client", "backend"}, {"from_s", 0.3}, {"to_s", 30.0}}};
  r["faults"] = {{{"t_s", 0.0}, {"what", "stage steady"}},
                 {{"t_s", 10.0}, {"what", "broker broker crashes"}},
                 {{"t_s", 11.0}, {"what", "broker broker restarts"}},
                 {{"t_s", 20.0}, {"what", "heal"}}};
  return r;
}

TEST(Html, SaysTheVerdictAndShowsEveryFinding) {
  const std::string page = html_report(broken_report());
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(page.find("correctness violated"), std::string::npos);
  EXPECT_NE(page.find("backend got QoS 2 m0000000000000007 2 times"), std::string::npos);
  EXPECT_NE(page.find("backend never got m0000000000000009 (QoS 1, acknowledged to sensor-0001) "
                      "&amp; &lt;more&gt;"),
            std::string::npos);
  EXPECT_NE(page.find("MQTT-4.3.3-10"), std::string::npos);
  EXPECT_NE(page.find("<details open><summary>Trace: the 2 lines before it"), std::string::npos);
  EXPECT_NE(page.find("assay sim examples/scenarios/fleet.json --seed 18446744073709551615"),
            std::string::npos);
  // The invariants table: S4 and L1 from the findings, S3 from its count.
  const std::string checkers = section(page, "verdicts");
  for (const char* id : {"<b>S3</b>", "<b>S4</b>", "<b>L1</b>", "<b>L2</b>", "mystery 7"})
    EXPECT_NE(checkers.find(id), std::string::npos) << id;
  EXPECT_EQ(checkers.find("<b>S8</b>"), std::string::npos);  // neither counted nor found
}

TEST(Html, EscapesWhatComesFromTheScenario) {
  const std::string page = html_report(broken_report());
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_NE(page.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  Json r = broken_report();
  r["scenario"] = "a\"b<c>&d'";
  r["scenario_file"] = "my scenarios/it's.json";
  const std::string quoted = html_report(r);
  EXPECT_NE(quoted.find("a&quot;b&lt;c&gt;&amp;d&#39;"), std::string::npos);
  EXPECT_EQ(quoted.find("a\"b<c>"), std::string::npos);
  EXPECT_NE(quoted.find("assay sim &#39;my scenarios/it&#39;\\&#39;&#39;s.json&#39; --seed"),
            std::string::npos);
}

TEST(Html, FetchesNothing) {
  const std::string page = html_report(broken_report());
  EXPECT_EQ(page.find("http://"), std::string::npos);
  EXPECT_EQ(page.find("https://"), std::string::npos);
  EXPECT_EQ(page.find("src="), std::string::npos);
  EXPECT_EQ(page.find("url("), std::string::npos);
  EXPECT_EQ(page.find("@import"), std::string::npos);
  for (auto i = page.find("href="); i != std::string::npos; i = page.find("href=", i + 1))
    EXPECT_EQ(page.substr(i, 7), "href=\"#") << "a link that leaves the page";
  EXPECT_NE(page.find("default-src 'none'"), std::string::npos);
}

TEST(Html, DrawsTheFigures) {
  const std::string page = html_report(broken_report());
  const std::string timeline = section(page, "timeline");
  EXPECT_NE(timeline.find("<svg"), std::string::npos);
  EXPECT_EQ(occurrences(timeline, "<rect class=\"conn\""), 4u);
  EXPECT_NE(timeline.find("class=\"mark m-heal\""), std::string::npos);
  EXPECT_NE(timeline.find("broker broker crashes"), std::string::npos);
  const std::string throughput = section(page, "throughput");
  EXPECT_NE(throughput.find("<svg"), std::string::npos);
  EXPECT_NE(throughput.find("<path class=\"area\""), std::string::npos);
  const std::string latency = section(page, "latency");
  EXPECT_EQ(occurrences(latency, "<svg"), 2u);  // QoS 1 and QoS 2
  EXPECT_NE(latency.find("max <b>12 s</b>"), std::string::npos);
  EXPECT_NE(latency.find("p50 <b>2 ms</b>"), std::string::npos);
  EXPECT_EQ(occurrences(page, "<svg"), occurrences(page, "</svg>"));
}

TEST(Html, ManyClientsShareARowPerPrefix) {
  Json r = broken_report();
  r["connections"] = Json::array();
  for (int i = 0; i < 100; ++i) {
    r["connections"].push_back(
        {{"client", "sensor-" + std::to_string(i)}, {"from_s", 0.5}, {"to_s", i < 50 ? 15 : 30}});
  }
  r["connections"].push_back({{"client", "backend"}, {"from_s", 0.1}, {"to_s", 30.0}});
  const std::string timeline = section(html_report(r), "timeline");
  EXPECT_NE(timeline.find("sensor-* (100)"), std::string::npos);
  EXPECT_EQ(occurrences(timeline, "<path class=\"band\""), 2u);
  EXPECT_EQ(timeline.find("<rect class=\"conn\""), std::string::npos);
}

TEST(Html, EachVerdictHasItsBadge) {
  Json r = broken_report();
  for (const auto& [verdict, badge] : {std::pair{"ok", "v-ok\">guarantees held"},
                                       std::pair{"liveness", "v-warn\">liveness failed"},
                                       std::pair{"crash", "v-crash\">crashed"}}) {
    r["verdict"] = verdict;
    EXPECT_NE(html_report(r).find(badge), std::string::npos) << verdict;
  }
}

TEST(Html, AnEmptyReportStillRenders) {
  for (const Json& r : {Json::object(), Json(), to_json(Report{}, true)}) {
    const std::string page = html_report(r);
    EXPECT_NE(page.find("</html>"), std::string::npos);
    EXPECT_NE(page.find("No deliveries."), std::string::npos);
    EXPECT_NE(page.find("No connections and no faults."), std::string::npos);
    EXPECT_NE(page.find("No deliveries were timed."), std::string::npos);
  }
  EXPECT_NE(html_report(to_json(Report{}, true)).find("guarantees held"), std::string::npos);
}

TEST(Html, ARealRun) {
  Scenario s;
  s.name = "html";
  s.duration = 10 * ns_per_s;
  s.heal = 5 * ns_per_s;
  DeviceClass d;
  d.name = "sensor";
  d.count = 3;
  d.topic = "sensors/{id}/temp";
  d.publish.interval = ns_per_s / 2;
  s.devices.push_back(d);
  SubscriberClass b;
  b.name = "backend";
  b.filters = {"sensors/#"};
  s.subscribers.push_back(b);
  Stage cut;
  cut.kind = Stage::Kind::partition;
  cut.target = "sensor";
  cut.at = 4 * ns_per_s;
  cut.duration = 2 * ns_per_s;
  s.stages.push_back(cut);
  const Report report = run(s, 7);
  const std::string page = html_report(to_json(report, true));
  EXPECT_NE(page.find("guarantees held"), std::string::npos);
  EXPECT_NE(page.find("assay sim --seed 7"), std::string::npos);
  EXPECT_NE(section(page, "timeline").find("sensor-0000"), std::string::npos);
  EXPECT_NE(section(page, "throughput").find("<svg"), std::string::npos);
  EXPECT_NE(section(page, "latency").find("<svg"), std::string::npos);
}

}  // namespace
}  // namespace assay::sim::test
