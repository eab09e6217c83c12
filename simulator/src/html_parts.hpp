// The report page's parts (html.cpp, html_charts.cpp): reading the report
// defensively, escaping, SVG elements, and the run's figures (connections,
// fault marks, deliveries per second) with their time axis.
#pragma once

#include <array>
#include <cstddef>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace assay::sim::html_detail {

using Json = nlohmann::ordered_json;

// Beyond this many clients the timeline has one row per name prefix.
inline constexpr std::size_t max_rows = 60;
// The figures' width in SVG units; they scale to the page (and scroll
// sideways below a minimum width, where their text would be too small).
inline constexpr double fig_w = 960;

// --- Reading the report ------------------------------------------------

const Json& at(const Json& j, const char* key);

double num(const Json& j, double fallback = 0);

// Numbers as JSON writes them: a 64-bit seed keeps every digit.
std::string str(const Json& j);

const Json& arr(const Json& j);

const Json& obj(const Json& j);

// --- Text ----------------------------------------------------------------

// Client ids, topics and details come from scenario files: every text is
// escaped, and control characters (which HTML does not allow) replaced.
std::string esc(std::string_view s);

std::string fmt(const char* f, double v);

// Appends its parts: GCC 12 at -O3 warns falsely (-Wrestrict) on some
// "literal" + std::string expressions.
template <typename... T>
void put(std::string& o, const T&... parts) {
  (o.append(parts), ...);
}

// An SVG coordinate.
std::string px(double v);

// SVG elements; a tooltip is plain text (escaped here), `html` is markup.
std::string tooltip(const std::string& tip);

std::string element(std::string_view tag, std::string_view cls,
                    std::initializer_list<std::pair<const char*, std::string>> attributes,
                    std::string_view content);

std::string line(std::string_view cls, double x1, double y1, double x2, double y2,
                 const std::string& tip = "");

std::string rect(std::string_view cls, double x, double y, double w, double h,
                 const std::string& tip = "");

std::string text(double x, double y, const char* anchor, std::string_view html,
                 std::string_view cls = "");

std::string grouped(double v);

std::string seconds(double s);

std::string micros(double us);

std::string truncated(const std::string& s, std::size_t n);

// Axis ticks at 1, 2 or 5 times a power of ten.
double tick_step(double range, double target);

std::string tick_label(double v);

// --- The run's figures ---------------------------------------------------

struct Span {
  std::string client;
  double from = 0;
  double to = 0;
};

// In the order of how much they tell: a line with several takes the last.
enum class MarkKind { stage, recovery, fault, heal };

MarkKind kind_of(const std::string& what);

struct Mark {
  double t = 0;
  std::string what;
  MarkKind kind = kind_of(what);
};

const char* mark_class(MarkKind k);

struct Figures {
  double duration = 0;
  double heal = -1;  // none
  std::vector<Span> spans;
  std::vector<Mark> marks;
  std::vector<double> per_s;

  double x(double t, double x0, double w) const { return x0 + w * t / duration; }
};

Figures read_figures(const Json& r);

// A time axis under a plot: ticks, their labels and a title.
void time_axis(std::string& o, const Figures& f, double x0, double w, double y);

// The figures drawn from the report (html_charts.cpp).
void timeline(std::string& o, const Figures& f);
void throughput(std::string& o, const Figures& f);
void latency(std::string& o, const Json& r);

}  // namespace assay::sim::html_detail
