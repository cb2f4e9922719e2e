// Inline SVG charts (analyzer/svg_chart.hpp).
#include "analyzer/svg_chart.hpp"

#include "analyzer/web.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace stswatch::web::svg {

namespace {

double plot_width(const stacked_chart& c) { return std::max(1, c.width - margin_left - margin_right); }
double plot_height(const stacked_chart& c) { return std::max(1, c.height - margin_top - margin_bottom); }

double value_at(const layer& l, std::size_t i)
{
    if (i >= l.values.size())
        return 0;
    const double v = l.values[i];
    return std::isfinite(v) && v > 0 ? v : 0;
}

// A round upper bound of the axis: 1, 2 or 5 times a power of ten.
double nice_ceiling(double v)
{
    if (!(v > 0) || !std::isfinite(v))
        return 1;
    const double p = std::pow(10.0, std::floor(std::log10(v)));
    for (const double m : {1.0, 2.0, 5.0, 10.0})
        if (m * p >= v)
            return m * p;
    return 10 * p;
}

std::string attr(std::string_view text) { return html_escape(text); }

} // namespace

std::string coordinate(double v)
{
    if (!std::isfinite(v))
        v = 0;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f", v);
    std::string s = buf;
    while (!s.empty() && s.back() == '0')
        s.pop_back();
    if (!s.empty() && s.back() == '.')
        s.pop_back();
    if (s == "-0")
        s = "0";
    return s;
}

std::string compact_number(double v)
{
    if (!std::isfinite(v))
        return "0";
    const double a = std::fabs(v);
    char buf[64];
    if (a < 10000) {
        const long long n = std::llround(v);
        std::string digits = std::to_string(n < 0 ? -n : n);
        for (int at = static_cast<int>(digits.size()) - 3; at > 0; at -= 3)
            digits.insert(static_cast<std::size_t>(at), ",");
        return (n < 0 ? "-" : "") + digits;
    }
    const char* suffix = "k";
    double scaled = v / 1e3;
    if (a >= 1e12) {
        suffix = "T";
        scaled = v / 1e12;
    } else if (a >= 1e9) {
        suffix = "G";
        scaled = v / 1e9;
    } else if (a >= 1e6) {
        suffix = "M";
        scaled = v / 1e6;
    }
    std::snprintf(buf, sizeof buf, std::fabs(scaled) >= 100 ? "%.0f%s" : "%.1f%s", scaled, suffix);
    return buf;
}

double x_of(const stacked_chart& c, double x)
{
    const double span = c.x_max - c.x_min;
    double f = span > 0 ? (x - c.x_min) / span : 0;
    f = std::clamp(std::isfinite(f) ? f : 0.0, 0.0, 1.0);
    return margin_left + f * plot_width(c);
}

const std::string& palette(std::size_t i)
{
    // Dark enough on white for graphics (3:1) and distinct for common colour blindness.
    static const std::vector<std::string> colours = {"#b3261e", "#1565c0", "#8e4ec6", "#b45309", "#0f766e",
                                                     "#be185d", "#4d5b1f", "#5b5f97", "#7c4a03", "#374151"};
    return colours[i % colours.size()];
}

std::string render_stacked(const stacked_chart& c)
{
    const double pw = plot_width(c), ph = plot_height(c);
    const double base_y = margin_top + ph;
    double top = 0;
    for (std::size_t i = 0; i < c.bars.size(); ++i) {
        double sum = 0;
        for (const auto& l : c.layers)
            sum += value_at(l, i);
        top = std::max(top, sum);
    }
    const bool empty = !(top > 0);
    const double axis_max = nice_ceiling(top);
    const auto y_of = [&](double v) { return base_y - (v / axis_max) * ph; };

    const std::string tid = attr(c.id) + "-title", did = attr(c.id) + "-desc";
    std::string o;
    o.reserve(4096 + c.bars.size() * c.layers.size() * 160);
    o += "<svg class=\"chart\" role=\"img\" id=\"" + attr(c.id) + "\" viewBox=\"0 0 " + std::to_string(c.width) + " " +
         std::to_string(c.height) + "\" preserveAspectRatio=\"xMidYMid meet\" aria-labelledby=\"" + tid + " " + did +
         "\" xmlns=\"http://www.w3.org/2000/svg\">";
    o += "<title id=\"" + tid + "\">" + attr(c.title) + "</title>";
    o += "<desc id=\"" + did + "\">" + attr(c.desc) + "</desc>";

    // Grid lines and the y axis' labels: 0, half, max.
    o += "<g class=\"axis\" fill=\"#374151\" font-size=\"11\">";
    for (int step = 0; step <= 2; ++step) {
        const double v = axis_max * step / 2;
        const std::string y = coordinate(y_of(v));
        o += "<line x1=\"" + std::to_string(margin_left) + "\" x2=\"" + coordinate(margin_left + pw) + "\" y1=\"" + y +
             "\" y2=\"" + y + "\" stroke=\"" + (step == 0 ? "#6b7280" : "#e5e7eb") + "\"/>";
        o += "<text x=\"" + std::to_string(margin_left - 6) + "\" y=\"" + coordinate(y_of(v) + 4) +
             "\" text-anchor=\"end\">" + (empty && step > 0 ? std::string() : compact_number(v)) + "</text>";
    }
    // Labels of the first, middle and last bar below the axis.
    if (!c.bars.empty()) {
        std::vector<std::size_t> shown = {0};
        if (c.bars.size() > 2)
            shown.push_back(c.bars.size() / 2);
        if (c.bars.size() > 1)
            shown.push_back(c.bars.size() - 1);
        for (std::size_t k = 0; k < shown.size(); ++k) {
            const auto& b = c.bars[shown[k]];
            const char* anchor = k == 0 ? "start" : (k + 1 == shown.size() ? "end" : "middle");
            const double x = k == 0 ? x_of(c, b.x0) : (k + 1 == shown.size() ? x_of(c, b.x1) : x_of(c, (b.x0 + b.x1) / 2));
            o += "<text x=\"" + coordinate(x) + "\" y=\"" + coordinate(base_y + 18) + "\" text-anchor=\"" + anchor +
                 "\">" + attr(b.label) + "</text>";
        }
    }
    o += "</g>";

    if (empty) {
        o += "<text class=\"empty\" x=\"" + coordinate(margin_left + pw / 2) + "\" y=\"" +
             coordinate(margin_top + ph / 2) + "\" text-anchor=\"middle\" fill=\"#374151\" font-size=\"14\">" +
             "No sessions in this range</text>";
    } else {
        o += "<g class=\"bars\">";
        for (std::size_t i = 0; i < c.bars.size(); ++i) {
            const auto& b = c.bars[i];
            const double x0 = x_of(c, b.x0), x1 = x_of(c, b.x1);
            const double gap = std::min(2.0, (x1 - x0) * 0.15);
            const double w = std::max(0.5, x1 - x0 - gap);
            double sum = 0;
            for (const auto& l : c.layers) {
                const double v = value_at(l, i);
                if (v <= 0)
                    continue;
                const double y_bottom = y_of(sum), height = std::max(0.5, y_bottom - y_of(sum + v));
                const double y_top = y_bottom - height;   // a tiny value still shows, above the axis
                sum += v;
                o += "<rect class=\"bar\" data-layer=\"" + attr(l.name) + "\" x=\"" + coordinate(x0 + gap / 2) +
                     "\" y=\"" + coordinate(y_top) + "\" width=\"" + coordinate(w) + "\" height=\"" +
                     coordinate(height) + "\" fill=\"" + attr(l.colour) + "\"><title>" +
                     attr(b.label) + ": " + attr(l.name) + " " + compact_number(v) + "</title></rect>";
            }
        }
        o += "</g>";
    }

    if (!c.markers.empty()) {
        o += "<g class=\"markers\">";
        for (const auto& m : c.markers) {
            const std::string x = coordinate(x_of(c, m.x));
            o += "<g class=\"marker\"><title>" + attr(m.title) + "</title><line x1=\"" + x + "\" x2=\"" +
                 x + "\" y1=\"" + std::to_string(margin_top) + "\" y2=\"" + coordinate(base_y) +
                 "\" stroke=\"#111827\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/><path d=\"M" + x + " " +
                 std::to_string(margin_top) + "l-5 -8h10z\" transform=\"translate(0 8)\" fill=\"#111827\"/></g>";
        }
        o += "</g>";
    }
    o += "</svg>";
    return o;
}

std::string render_legend(const std::vector<layer>& layers)
{
    std::string o = "<ul class=\"legend\">";
    for (const auto& l : layers)
        o += "<li><svg width=\"12\" height=\"12\" viewBox=\"0 0 12 12\" aria-hidden=\"true\"><rect width=\"12\" "
             "height=\"12\" fill=\"" + attr(l.colour) + "\"/></svg>" + attr(l.name) + "</li>";
    o += "</ul>";
    return o;
}

} // namespace stswatch::web::svg
