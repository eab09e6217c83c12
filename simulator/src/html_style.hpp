// The report page's stylesheet (html.cpp), inlined into every page: plain
// and neutral, readable in a narrow window (the figures scroll sideways
// there rather than shrink their text), and nothing in it fetches.
#pragma once

#include <string_view>

namespace assay::sim {

inline constexpr std::string_view html_style = R"(
:root{color-scheme:light;--ok:#1a7f37;--bad:#c62828;--warn:#d9730d;--line:#d8dbe0;--muted:#5f6673;--blue:#5b8def;--rec:#2f7fc1}
*{box-sizing:border-box}body{margin:0;background:#f5f6f8;color:#1d2330;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1080px;margin:0 auto;padding:16px}
header,section{background:#fff;border:1px solid var(--line);border-radius:6px;padding:12px 16px;margin:0 0 14px}
h1{font-size:1.3em;margin:0 0 10px;word-break:break-word}h2{font-size:1.12em;margin:0 0 8px}h3{font-size:1em;margin:14px 0 6px}
.verdict{display:flex;flex-wrap:wrap;align-items:center;gap:8px 14px;margin-bottom:8px}
.badge{display:inline-block;padding:7px 16px;border-radius:6px;color:#fff;font-size:1.45em;font-weight:700}
.v-ok{background:var(--ok)}.v-bad{background:var(--bad)}.v-warn{background:var(--warn)}.v-crash{background:#111}.v-unknown{background:#6b7280}
.replay code{display:inline-block;background:#eef0f3;padding:3px 8px;border-radius:4px;user-select:all;word-break:break-all}
dl.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:6px 18px;margin:8px 0}
dt{color:var(--muted);font-size:.8em}dd{margin:0;font-weight:600}nav{margin-top:8px;font-size:.9em}a{color:#2457a6}
code,pre{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{background:#f3f4f6;padding:8px;overflow-x:auto;border-radius:4px;margin:6px 0}pre.crash{background:#111;color:#fff}b.hit{background:#ffe08a}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:.85em;color:var(--muted);font-weight:600}.scroll{overflow-x:auto}
.st-ok{color:var(--ok);font-weight:600}.st-bad{color:var(--bad);font-weight:700}.st-warn{color:var(--warn);font-weight:700}
.chip{display:inline-block;border:1px solid var(--line);border-radius:10px;padding:0 8px;margin:1px 0;font-size:.88em;white-space:nowrap}
.chip.bad{border-color:var(--bad);color:var(--bad);font-weight:600}
.finding{border-left:4px solid var(--bad);padding:4px 10px;margin:10px 0;background:#fcfcfd}.finding.live{border-color:var(--warn)}
.detail{margin:4px 0;word-break:break-word}summary{cursor:pointer;color:var(--muted);font-size:.9em}
.muted{color:var(--muted)}.small{font-size:.88em}td.num{font-family:ui-monospace,monospace;white-space:nowrap}
.fig{overflow-x:auto}.fig svg{display:block;width:100%;min-width:660px;height:auto}
.hists{display:flex;flex-wrap:wrap;gap:10px 24px}.hist{flex:1 1 300px;max-width:420px}.hist svg{width:100%;height:auto}
svg text{font:10px system-ui,sans-serif;fill:#333}svg text.muted{fill:var(--muted)}
.axis{stroke:#888}.grid{stroke:#e5e7eb}.stripe{fill:#f6f7f9}.lphase{fill:#2e9e4f;fill-opacity:.1}.drop{fill:#7a1f1f}
.conn,.bar{fill:var(--blue)}.band{fill:var(--blue);stroke:#2f5fb3;stroke-width:.6}.area{fill:#5b8def55;stroke:#2f5fb3}
.hover{fill:transparent}.hover:hover{fill:#0000000d}.mark line{stroke-width:1.2}.mark line.hit{stroke:transparent;stroke-width:7}
.m-fault line,line.fault{stroke:var(--bad)}.m-rec line{stroke:var(--rec)}.m-stage line,line.stage{stroke:#9aa0a8;stroke-dasharray:3 2}
.m-heal line,line.heal{stroke:var(--ok);stroke-width:2.2}.m-heal text{fill:var(--ok);font-weight:700}
td.m-fault{color:var(--bad)}td.m-rec{color:var(--rec)}td.m-heal{color:var(--ok);font-weight:700}
.legend .sw{display:inline-block;width:12px;height:10px;margin:0 4px 0 10px;vertical-align:-1px}.legend .sw-drop{background:#7a1f1f;width:3px}
.sw-conn,.sw-band{background:var(--blue)}.sw-fault{background:var(--bad)}.sw-rec{background:var(--rec)}
.sw-stage{background:#9aa0a8}.sw-heal{background:var(--ok)}.sw-live{background:#e9f6ec;border:1px solid #cde8d3}
@media (max-width:640px){body{font-size:14px}main{padding:6px}header,section{padding:10px}.badge{font-size:1.25em}}
)";

}  // namespace assay::sim
