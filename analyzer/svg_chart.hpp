// Charts of the dashboard as inline SVG (docs/dashboard.md): pure functions from numbers to
// markup, so that pages need no chart library nor JavaScript and tests can read the result.
// Every text that goes into the markup is HTML-escaped here.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace stswatch::web::svg {

// One stacked layer: a value per bar (missing values count as 0).
struct layer {
    std::string name;               // the legend's and the titles' text
    std::string colour;             // a fill, e.g. "#1565c0"
    std::vector<double> values;
};

// One bar: where it sits on the time axis (any unit, e.g. days since 1970) and its label.
struct bar {
    double x0 = 0, x1 = 1;          // x1 > x0
    std::string label;              // "2026-11-17", in the titles and below the axis
};

// A vertical marker at a point of the time axis (a change event).
struct marker {
    double x = 0;
    std::string title;              // "mx-added mx2.example.com at 2026-11-17T09:12:00Z"
};

struct stacked_chart {
    std::string id;                 // prefix of the element ids (title, desc), unique on the page
    std::string title, desc;
    double x_min = 0, x_max = 1;    // the time axis shown
    std::vector<bar> bars;
    std::vector<layer> layers;      // bottom first
    std::vector<marker> markers;
    int width = 800, height = 260;  // the viewBox; the chart scales to its container
};

// Geometry, exposed for tests.
constexpr int margin_left = 64, margin_right = 12, margin_top = 12, margin_bottom = 28;

// The x coordinate of a point of the time axis (clamped to the plot).
double x_of(const stacked_chart& c, double x);

// "1,234" below 10,000, then "12.3k", "4.5M", "6.7G".
std::string compact_number(double v);

// A number for an SVG attribute: at most two decimals, no exponent.
std::string coordinate(double v);

// <svg role="img" viewBox=…> with <title> and <desc>, axes, one <rect class="bar"> per
// non-zero layer value (data-layer=name) with a <title>, and a <g class="marker"> per
// marker with its <title>. An empty chart (no bars or only zeros) says so in the plot.
std::string render_stacked(const stacked_chart& c);

// <ul class="legend">: a swatch and the name of each layer.
std::string render_legend(const std::vector<layer>& layers);

// A fixed palette of colours with at least 3:1 contrast against white (WCAG 1.4.11).
const std::string& palette(std::size_t i);

} // namespace stswatch::web::svg
