// The report page's parts: see html_parts.hpp.
#include "html_parts.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

namespace assay::sim::html_detail {

// --- Reading the report ------------------------------------------------

const Json& at(const Json& j, const char* key) {
  static const Json none;
  if (!j.is_object()) return none;
  const auto it = j.find(key);
  return it == j.end() ? none : *it;
}

double num(const Json& j, double fallback) {
  return j.is_number() ? j.get<double>() : fallback;
}

// Numbers as JSON writes them: a 64-bit seed keeps every digit.
std::string str(const Json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_null()) return "";
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

const Json& arr(const Json& j) {
  static const Json empty = Json::array();
  return j.is_array() ? j : empty;
}

const Json& obj(const Json& j) {
  static const Json empty = Json::object();
  return j.is_object() ? j : empty;
}

// --- Text ----------------------------------------------------------------

// Client ids, topics and details come from scenario files: every text is
// escaped, and control characters (which HTML does not allow) replaced.
std::string esc(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  constexpr std::string_view special = "&<>\"'";
  constexpr const char* entity[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"};
  for (const char c : s) {
    if (const std::size_t i = special.find(c); i != std::string_view::npos) {
      out += entity[i];
    } else if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') {
      out += "\xEF\xBF\xBD";
    } else {
      out += c;
    }
  }
  return out;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// An SVG coordinate.
std::string px(double v) {
  return fmt("%.1f", v);
}

// SVG elements; a tooltip is plain text (escaped here), `html` is markup.
std::string tooltip(const std::string& tip) {
  return tip.empty() ? std::string() : "<title>" + esc(tip) + "</title>";
}

std::string element(std::string_view tag, std::string_view cls,
                    std::initializer_list<std::pair<const char*, std::string>> attributes,
                    std::string_view content) {
  std::string o;
  put(o, "<", tag, cls.empty() ? "" : " class=\"", cls, cls.empty() ? "" : "\"");
  for (const auto& [name, value] : attributes)
    put(o, " ", name, "=\"", value, "\"");
  put(o, ">", content, "</", tag, ">");
  return o;
}

std::string line(std::string_view cls, double x1, double y1, double x2, double y2,
                 const std::string& tip) {
  return element("line", cls, {{"x1", px(x1)}, {"y1", px(y1)}, {"x2", px(x2)}, {"y2", px(y2)}},
                 tooltip(tip));
}

std::string rect(std::string_view cls, double x, double y, double w, double h,
                 const std::string& tip) {
  return element("rect", cls, {{"x", px(x)}, {"y", px(y)}, {"width", px(w)}, {"height", px(h)}},
                 tooltip(tip));
}

std::string text(double x, double y, const char* anchor, std::string_view html,
                 std::string_view cls) {
  return element("text", cls, {{"x", px(x)}, {"y", px(y)}, {"text-anchor", anchor}}, html);
}

std::string grouped(double v) {
  std::string digits = fmt("%.0f", v);
  std::string out;
  const std::size_t first = digits[0] == '-' ? 1 : 0;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > first && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string seconds(double s) {
  return fmt("%.6g", s) + " s";
}

std::string micros(double us) {
  if (us < 1000) return fmt("%.0f", us) + " µs";
  if (us < 1e6) return fmt("%.3g", us / 1e3) + " ms";
  return fmt("%.4g", us / 1e6) + " s";
}

std::string truncated(const std::string& s, std::size_t n) {
  if (s.size() <= n) return s;
  std::size_t cut = n - 1;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80)
    --cut;  // not inside a UTF-8 sequence
  return s.substr(0, cut) + "…";
}

// Axis ticks at 1, 2 or 5 times a power of ten.
double tick_step(double range, double target) {
  if (!(range > 0)) return 1;
  const double raw = range / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double n = raw / mag;
  return (n < 1.5 ? 1 : n < 3 ? 2 : n < 7 ? 5 : 10) * mag;
}

std::string tick_label(double v) {
  if (v >= 1e6) return fmt("%.3g", v / 1e6) + "M";
  if (v >= 1e4) return fmt("%.3g", v / 1e3) + "k";
  return fmt("%.6g", v);
}

// --- The run's figures ---------------------------------------------------

MarkKind kind_of(const std::string& what) {
  if (what == "heal") return MarkKind::heal;
  if (what.rfind("stage ", 0) == 0) return MarkKind::stage;
  if (what.rfind("repair", 0) == 0 || what.find(" restarts") != std::string::npos)
    return MarkKind::recovery;
  return MarkKind::fault;
}

const char* mark_class(MarkKind k) {
  return std::array{"m-stage", "m-rec", "m-fault", "m-heal"}[static_cast<std::size_t>(k)];
}

Figures read_figures(const Json& r) {
  Figures f;
  f.duration = num(at(r, "simulated_s"));
  for (const Json& c : arr(at(r, "connections")))
    f.spans.push_back(Span{str(at(c, "client")), num(at(c, "from_s")), num(at(c, "to_s"), -1)});
  for (const Json& m : arr(at(r, "faults"))) {
    const Mark& k = f.marks.emplace_back(Mark{num(at(m, "t_s")), str(at(m, "what"))});
    if (k.kind == MarkKind::heal && f.heal < 0) f.heal = k.t;
  }
  for (const Json& v : arr(at(r, "deliveries_per_s")))
    f.per_s.push_back(num(v));
  // A report without its duration still gets an axis that holds its data.
  double end = std::max(f.duration, static_cast<double>(f.per_s.size()));
  for (const Span& s : f.spans)
    end = std::max({end, s.from, s.to});
  for (const Mark& m : f.marks)
    end = std::max(end, m.t);
  f.duration = end > 0 ? end : 1;
  for (Span& s : f.spans) {
    if (s.to < s.from) s.to = f.duration;  // still open at the end
  }
  return f;
}

// A time axis under a plot: ticks, their labels and a title.
void time_axis(std::string& o, const Figures& f, double x0, double w, double y) {
  o += line("axis", x0, y, x0 + w, y);
  const double step = tick_step(f.duration, 10);
  for (double t = 0; t <= f.duration + step * 1e-9; t += step) {
    const double x = f.x(t, x0, w);
    o += line("axis", x, y, x, y + 4) + text(x, y + 15, "middle", tick_label(t));
  }
  o += text(x0 + w, y + 28, "end", "virtual time (s)", "muted");
}

}  // namespace assay::sim::html_detail
