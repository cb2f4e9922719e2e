// The dashboard's inline SVG charts (analyzer/svg_chart.hpp): stacked bars per layer,
// markers on the time axis, empty series, huge values and escaping.
#include "analyzer/svg_chart.hpp"

#include <catch2/catch.hpp>

#include <cstddef>
#include <regex>
#include <string>
#include <vector>

using namespace stswatch::web::svg;

namespace {

std::size_t count(const std::string& text, const std::string& what)
{
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size()))
        ++n;
    return n;
}

// The numeric attribute name="…" of every element matching open (e.g. "<rect class=\"bar\"").
std::vector<double> attributes(const std::string& svg, const std::string& open, const std::string& name)
{
    std::vector<double> out;
    for (auto at = svg.find(open); at != std::string::npos; at = svg.find(open, at + 1)) {
        const auto end = svg.find('>', at);
        const std::string tag = svg.substr(at, end - at);
        const std::regex re(" " + name + "=\"([-0-9.]+)\"");
        std::smatch m;
        if (std::regex_search(tag, m, re))
            out.push_back(std::stod(m[1]));
    }
    return out;
}

stacked_chart three_days()
{
    stacked_chart c;
    c.id = "t";
    c.title = "Sessions";
    c.desc = "Three days";
    c.x_min = 0;
    c.x_max = 3;
    c.bars = {{0, 1, "2026-11-01"}, {1, 2, "2026-11-02"}, {2, 3, "2026-11-03"}};
    c.layers = {{"validation-failure", "#b3261e", {10, 0, 30}}, {"starttls-not-supported", "#1565c0", {10, 5, 0}}};
    return c;
}

} // namespace

TEST_CASE("bars are stacked per layer with one rect per non-zero value", "[svg]")
{
    const auto c = three_days();
    const std::string svg = render_stacked(c);
    CHECK(svg.rfind("<svg", 0) == 0);
    CHECK(svg.find("role=\"img\"") != std::string::npos);
    CHECK(svg.find("<title id=\"t-title\">Sessions</title>") != std::string::npos);
    CHECK(svg.find("<desc id=\"t-desc\">Three days</desc>") != std::string::npos);
    CHECK(svg.find("viewBox=\"0 0 800 260\"") != std::string::npos);
    CHECK(count(svg, "data-layer=\"validation-failure\"") == 2);
    CHECK(count(svg, "data-layer=\"starttls-not-supported\"") == 2);
    CHECK(count(svg, "<rect class=\"bar\"") == 4);

    // Day 1: 10 + 10 stacked: the second rect sits on the first.
    const auto ys = attributes(svg, "<rect class=\"bar\"", "y");
    const auto heights = attributes(svg, "<rect class=\"bar\"", "height");
    REQUIRE(ys.size() == 4);
    REQUIRE(heights.size() == 4);
    CHECK(ys[1] + heights[1] == Approx(ys[0]).margin(0.02));
    // The tallest bar (30, day 3) reaches the axis maximum (a round 50 here: 0..50).
    const double plot = c.height - margin_top - margin_bottom;
    CHECK(heights[0] == Approx(plot * 10 / 50).margin(0.02));
    CHECK(heights[3] == Approx(plot * 30 / 50).margin(0.02));
    CHECK(svg.find("2026-11-03: validation-failure 30") != std::string::npos);
}

TEST_CASE("bars sit at their place on the time axis", "[svg]")
{
    const auto c = three_days();
    const auto xs = attributes(render_stacked(c), "<rect class=\"bar\"", "x");
    const double pw = c.width - margin_left - margin_right;
    REQUIRE(xs.size() == 4);
    CHECK(xs[0] >= margin_left);
    CHECK(xs[0] < margin_left + pw / 3);
    CHECK(xs[3] >= margin_left + 2 * pw / 3);
    CHECK(xs[3] < margin_left + pw);
}

TEST_CASE("a marker is drawn at the x of its time with its title", "[svg]")
{
    auto c = three_days();
    c.markers = {{1.5, "mx-added mx2.example.com at 2026-11-02 12:00 UTC"}};
    const std::string svg = render_stacked(c);
    const double pw = c.width - margin_left - margin_right;
    CHECK(x_of(c, 1.5) == Approx(margin_left + pw / 2));
    CHECK(x_of(c, -10) == Approx(margin_left));
    CHECK(x_of(c, 99) == Approx(margin_left + pw));
    CHECK(count(svg, "<g class=\"marker\"") == 1);
    CHECK(svg.find("<title>mx-added mx2.example.com at 2026-11-02 12:00 UTC</title>") != std::string::npos);
    const auto x1 = attributes(svg, "<line x1=", "x1");
    REQUIRE_FALSE(x1.empty());
    CHECK(x1.back() == Approx(margin_left + pw / 2).margin(0.01));
}

TEST_CASE("an empty series draws no bar and says so", "[svg]")
{
    stacked_chart c;
    c.id = "e";
    c.title = "Nothing";
    c.x_min = 0;
    c.x_max = 7;
    std::string svg = render_stacked(c);
    CHECK(count(svg, "<rect class=\"bar\"") == 0);
    CHECK(svg.find("No sessions in this range") != std::string::npos);

    c.bars = {{0, 1, "a"}, {1, 2, "b"}};
    c.layers = {{"failed", "#b3261e", {0, 0}}};
    svg = render_stacked(c);
    CHECK(count(svg, "<rect class=\"bar\"") == 0);
    CHECK(svg.find("No sessions in this range") != std::string::npos);
    CHECK(svg.find("nan") == std::string::npos);
}

TEST_CASE("a huge value stays inside the plot and is labelled compactly", "[svg]")
{
    auto c = three_days();
    c.layers = {{"successful", "#166534", {4.2e12, 1, 3}}};
    const std::string svg = render_stacked(c);
    const auto ys = attributes(svg, "<rect class=\"bar\"", "y");
    const auto heights = attributes(svg, "<rect class=\"bar\"", "height");
    REQUIRE(ys.size() == 3);
    for (std::size_t i = 0; i < ys.size(); ++i) {
        CHECK(ys[i] >= margin_top - 0.01);
        CHECK(ys[i] + heights[i] <= c.height - margin_bottom + 0.01);
    }
    CHECK(svg.find("4.2T") != std::string::npos);
    CHECK(svg.find("e+") == std::string::npos);
    CHECK(compact_number(1234) == "1,234");
    CHECK(compact_number(12345) == "12.3k");
    CHECK(compact_number(4.5e6) == "4.5M");
    CHECK(coordinate(1.0 / 3) == "0.33");
    CHECK(coordinate(2) == "2");
}

TEST_CASE("titles and labels and layer names and colours are escaped", "[svg]")
{
    auto c = three_days();
    c.title = "<script>alert(1)</script>";
    c.desc = "a & b";
    c.bars[0].label = "\"><img src=x>";
    c.layers[0].name = "type\" onmouseover=\"x";
    c.layers[0].colour = "red\" onclick=\"x";
    c.markers = {{1, "<b>change</b>"}};
    const std::string svg = render_stacked(c) + render_legend(c.layers);
    CHECK(svg.find("<script>") == std::string::npos);
    CHECK(svg.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
    CHECK(svg.find("a &amp; b") != std::string::npos);
    CHECK(svg.find("<img") == std::string::npos);
    CHECK(svg.find("\" onmouseover=") == std::string::npos);
    CHECK(svg.find("\" onclick=") == std::string::npos);
    CHECK(svg.find("&lt;b&gt;change&lt;/b&gt;") != std::string::npos);
}

TEST_CASE("the legend has a swatch and the name of every layer", "[svg]")
{
    const auto c = three_days();
    const std::string html = render_legend(c.layers);
    CHECK(count(html, "<li>") == 2);
    CHECK(html.find("fill=\"#b3261e\"") != std::string::npos);
    CHECK(html.find(">validation-failure</li>") != std::string::npos);
    CHECK(palette(0) != palette(1));
    CHECK(palette(0) == palette(10));
}
