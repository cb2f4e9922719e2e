// The dashboard's CSS and JS (analyzer/dashboard_assets.hpp). The pages work without the
// script; it only asks before a domain is removed.
#include "analyzer/dashboard_assets.hpp"

#include <cstdint>
#include <cstdio>
#include <vector>

namespace stswatch::web {

namespace {

constexpr std::string_view app_css = R"CSS(:root {
  --fg: #111827; --muted: #4b5563; --bg: #ffffff; --panel: #f3f4f6; --line: #d1d5db;
  --link: #1d4ed8; --focus: #c2410c; --ok: #166534; --warn: #92400e; --bad: #b91c1c;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--fg); background: var(--bg); line-height: 1.45;
}
* { box-sizing: border-box; }
body { margin: 0; }
a { color: var(--link); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, summary:focus-visible {
  outline: 3px solid var(--focus); outline-offset: 2px; }
header.site :focus-visible { outline-color: #fbbf24; }
.skip { position: absolute; left: -9999px; top: 0; background: var(--fg); color: #fff; padding: .5rem 1rem; z-index: 10; }
.skip:focus { left: .5rem; top: .5rem; }
header.site { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.5rem; padding: .6rem 1rem;
  background: #1f2937; color: #fff; }
header.site a { color: #fff; text-decoration: none; font-weight: 600; }
header.site nav { display: flex; gap: 1rem; flex: 1; }
header.site form { margin: 0; }
header.site button { background: transparent; color: #fff; border: 1px solid #9ca3af; }
main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.6rem; margin: .5rem 0 1rem; overflow-wrap: anywhere; }
h2 { font-size: 1.25rem; margin: 2rem 0 .6rem; border-bottom: 1px solid var(--line); padding-bottom: .2rem; }
h3 { font-size: 1.05rem; margin: 1.2rem 0 .4rem; }
.note, .muted { color: var(--muted); }
.table-wrap { overflow-x: auto; -webkit-overflow-scrolling: touch; max-width: 100%; }
table { border-collapse: collapse; width: 100%; font-size: .92rem; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--panel); white-space: nowrap; }
tbody th { background: transparent; }
td, tbody th { white-space: nowrap; }
td .mono, td.mono, th .mono { overflow-wrap: normal; }
td.wrap { white-space: normal; overflow-wrap: anywhere; min-width: 12rem; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .88em; overflow-wrap: anywhere; }
.badge { display: inline-block; padding: .05rem .5rem; border-radius: 1rem; font-size: .8rem; font-weight: 600;
  border: 1px solid currentColor; white-space: nowrap; }
.state-ok { color: var(--ok); } .state-failing, .state-check-errors, .sev-warning { color: var(--warn); }
.state-incident, .sev-error { color: var(--bad); } .state-no-reports, .sev-info { color: var(--muted); }
form.inline { display: inline; margin: 0; }
form.stack { display: grid; gap: .6rem; max-width: 28rem; }
form.row { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; }
form.stack input, form.stack select { width: 100%; max-width: 18rem; }
form.stack .note { display: block; font-size: .88rem; }
label { font-weight: 600; display: block; font-size: .92rem; }
input, select, button { font: inherit; padding: .4rem .6rem; border: 1px solid #6b7280; border-radius: .3rem;
  background: #fff; color: var(--fg); }
button { background: #1d4ed8; color: #fff; border-color: #1d4ed8; cursor: pointer; }
button.secondary { background: #fff; color: #1d4ed8; }
button.danger { background: #b91c1c; border-color: #b91c1c; }
.switch { display: flex; flex-wrap: wrap; gap: .3rem; margin: .4rem 0; padding: 0; list-style: none; align-items: center; }
.switch a { padding: .2rem .6rem; border: 1px solid var(--line); border-radius: .3rem; text-decoration: none; }
.switch a[aria-current] { background: #1d4ed8; color: #fff; border-color: #1d4ed8; }
.switch .form.stack input, form.stack select { width: 100%; max-width: 18rem; }
form.stack .note { display: block; font-size: .88rem; }
label { font-weight: 600; margin-right: .3rem; }
figure { margin: 1rem 0; }
figcaption { font-weight: 600; margin-bottom: .3rem; }
svg.chart { width: 100%; height: auto; display: block; background: #fff; border: 1px solid var(--line); border-radius: .3rem; }
.legend { display: flex; flex-wrap: wrap; gap: .3rem 1rem; list-style: none; padding: 0; margin: .4rem 0; font-size: .9rem; }
.legend li { display: flex; align-items: center; gap: .35rem; }
details { margin: .5rem 0; }
summary { cursor: pointer; color: var(--link); }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(11rem, 1fr)); gap: .6rem; margin: 0 0 1rem; padding: 0; list-style: none; }
.cards li { background: var(--panel); padding: .6rem .8rem; border-radius: .4rem; }
.cards .k { display: block; color: var(--muted); font-size: .82rem; }
.cards .v { font-size: 1.15rem; font-weight: 600; overflow-wrap: anywhere; }
.incident { border: 1px solid var(--line); border-left: 4px solid var(--bad); border-radius: .3rem; padding: .4rem .9rem .8rem; margin: .8rem 0; }
.incident.ended { border-left-color: var(--muted); }
.incident h3 { margin-top: .4rem; overflow-wrap: anywhere; }
ol.causes { padding-left: 1.4rem; } ol.causes > li { margin: .4rem 0; }
ul.evidence { margin: .2rem 0; padding-left: 1.2rem; color: var(--muted); font-size: .92rem; }
.finding { margin: .6rem 0; padding: .4rem .8rem; background: var(--panel); border-radius: .3rem; }
.finding p { margin: .2rem 0; overflow-wrap: anywhere; }
.alert { padding: .6rem .9rem; border-radius: .3rem; background: #fef3c7; color: #78350f; border: 1px solid #f59e0b; }
.alert.error { background: #fee2e2; color: #7f1d1d; border-color: #b91c1c; }
.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 0 2rem; }
@media (max-width: 40rem) {
  main { padding: .6rem; }
  h1 { font-size: 1.35rem; }
  .grid2 { grid-template-columns: 1fr; }
  th, td { padding: .3rem .45rem; }
  /* The chart shrinks to half its size: its text (in viewBox units) grows to stay legible. */
  svg.chart .axis text { font-size: 20px; }
  svg.chart text.empty { font-size: 24px; }
}
@media print { header.site, form, .skip { display: none; } }
)CSS";

constexpr std::string_view app_js = R"JS('use strict';
// Asks before a form marked data-confirm is sent (removing a domain). The pages work without it.
document.addEventListener('submit', function (e) {
  var f = e.target;
  if (f && f.dataset && f.dataset.confirm && !window.confirm(f.dataset.confirm)) e.preventDefault();
});
)JS";

std::string etag_of(std::string_view body)
{
    std::uint64_t h = 1469598103934665603ULL;   // FNV-1a, 64 bits
    for (unsigned char c : body) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    char buf[24];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
}

const std::vector<asset>& assets()
{
    static const std::vector<asset> all = {
        {"app.css", "text/css; charset=utf-8", app_css, "\"" + etag_of(app_css) + "\""},
        {"app.js", "text/javascript; charset=utf-8", app_js, "\"" + etag_of(app_js) + "\""},
    };
    return all;
}

} // namespace

const asset* find_asset(std::string_view name)
{
    for (const auto& a : assets())
        if (a.name == name)
            return &a;
    return nullptr;
}

std::string asset_url(std::string_view name)
{
    const asset* a = find_asset(name);
    std::string url = "/assets/" + std::string(name);
    if (a)
        url += "?v=" + a->etag.substr(1, a->etag.size() - 2);
    return url;
}

} // namespace stswatch::web
