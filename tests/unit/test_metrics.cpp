// The metrics registry and the text exposition format 0.0.4 (common/metrics.hpp,
// docs/metrics.md): families and their children, the exact text, escaping, histogram
// buckets, gauge callbacks, increments from many threads, and the intake's outcomes.
#include "common/metrics.hpp"
#include "collector/intake_metrics.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace stswatch::metrics;

TEST_CASE("a counter family renders HELP and TYPE and one line per child sorted by labels", "[metrics]")
{
    registry r;
    auto& received = r.counter("stswatch_reports_received_total", "Reports received.", {"transport", "outcome"});
    received.with({"smtp", "stored"}).inc();
    received.with({"https", "stored"}).inc(2);
    received.with({"https", "duplicate"}).inc();
    CHECK(r.render() ==
          "# HELP stswatch_reports_received_total Reports received.\n"
          "# TYPE stswatch_reports_received_total counter\n"
          "stswatch_reports_received_total{transport=\"https\",outcome=\"duplicate\"} 1\n"
          "stswatch_reports_received_total{transport=\"https\",outcome=\"stored\"} 2\n"
          "stswatch_reports_received_total{transport=\"smtp\",outcome=\"stored\"} 1\n");
}

TEST_CASE("asking for a family again returns the same one and a different shape is refused", "[metrics]")
{
    registry r;
    auto& a = r.counter("x_total", "X.", {"a"});
    auto& b = r.counter("x_total", "X.", {"a"});
    CHECK(&a == &b);
    CHECK(&a.with({"1"}) == &b.with({"1"}));
    CHECK_THROWS_AS(r.counter("x_total", "X.", {"b"}), std::logic_error);
    CHECK_THROWS_AS(r.gauge("x_total", "X.", {"a"}), std::logic_error);
    CHECK_THROWS_AS(a.with({"1", "2"}), std::invalid_argument);
    CHECK_THROWS_AS(r.counter("bad-name", "X."), std::logic_error);
    CHECK_THROWS_AS(r.counter("y_total", "X.", {"__reserved"}), std::logic_error);
    CHECK_THROWS_AS(r.histogram("z_seconds", "X.", {"le"}, {1}), std::logic_error);
    CHECK_THROWS_AS(r.histogram("w_seconds", "X.", {}, {2, 1}), std::invalid_argument);
}

TEST_CASE("label values escape backslash quote and newline and HELP escapes backslash and newline", "[metrics]")
{
    CHECK(escape_label_value("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
    CHECK(escape_label_value("plain é") == "plain é");
    CHECK(escape_help("one\\two\nthree \"quoted\"") == "one\\\\two\\nthree \"quoted\"");

    registry r;
    r.gauge("g", "Line one\nline two.", {"name"}).with({"say \"hi\"\\\n"}).set(1.5);
    CHECK(r.render() ==
          "# HELP g Line one\\nline two.\n"
          "# TYPE g gauge\n"
          "g{name=\"say \\\"hi\\\"\\\\\\n\"} 1.5\n");
}

TEST_CASE("sample values are integers without a fraction and special values by name", "[metrics]")
{
    CHECK(format_value(0) == "0");
    CHECK(format_value(42) == "42");
    CHECK(format_value(-3) == "-3");
    CHECK(format_value(0.25) == "0.25");
    CHECK(format_value(0.1) == "0.1");
    CHECK(format_value(1e300) == "1e+300");
    CHECK(format_value(std::numeric_limits<double>::infinity()) == "+Inf");
    CHECK(format_value(-std::numeric_limits<double>::infinity()) == "-Inf");
    CHECK(format_value(std::nan("")) == "NaN");
}

TEST_CASE("a histogram renders cumulative le buckets then +Inf sum and count", "[metrics]")
{
    registry r;
    auto& h = r.histogram("stswatch_ingest_duration_seconds", "Ingest.", {"transport"}, {0.125, 0.5, 1});
    auto& https = h.with({"https"});
    https.observe(0.0625);
    https.observe(0.125);   // le is "less than or equal": in the 0.125 bucket
    https.observe(0.75);
    https.observe(3);
    CHECK(r.render() ==
          "# HELP stswatch_ingest_duration_seconds Ingest.\n"
          "# TYPE stswatch_ingest_duration_seconds histogram\n"
          "stswatch_ingest_duration_seconds_bucket{transport=\"https\",le=\"0.125\"} 2\n"
          "stswatch_ingest_duration_seconds_bucket{transport=\"https\",le=\"0.5\"} 2\n"
          "stswatch_ingest_duration_seconds_bucket{transport=\"https\",le=\"1\"} 3\n"
          "stswatch_ingest_duration_seconds_bucket{transport=\"https\",le=\"+Inf\"} 4\n"
          "stswatch_ingest_duration_seconds_sum{transport=\"https\"} 3.9375\n"
          "stswatch_ingest_duration_seconds_count{transport=\"https\"} 4\n");
}

TEST_CASE("a histogram without labels has le as its only label", "[metrics]")
{
    registry r;
    r.histogram("stswatch_store_batch_reports", "Batch.", {}, {1, 2}).with({}).observe(2);
    CHECK(r.render() ==
          "# HELP stswatch_store_batch_reports Batch.\n"
          "# TYPE stswatch_store_batch_reports histogram\n"
          "stswatch_store_batch_reports_bucket{le=\"1\"} 0\n"
          "stswatch_store_batch_reports_bucket{le=\"2\"} 1\n"
          "stswatch_store_batch_reports_bucket{le=\"+Inf\"} 1\n"
          "stswatch_store_batch_reports_sum 2\n"
          "stswatch_store_batch_reports_count 1\n");
}

TEST_CASE("the bucket sets ascend and cover the expected ranges", "[metrics]")
{
    for (const auto& bounds : {latency_buckets(), check_buckets(), batch_buckets()}) {
        REQUIRE_FALSE(bounds.empty());
        for (std::size_t i = 1; i < bounds.size(); ++i)
            CHECK(bounds[i - 1] < bounds[i]);
    }
    CHECK(latency_buckets().front() == 0.001);
    CHECK(latency_buckets().back() == 30);
    CHECK(check_buckets().back() == 120);
    CHECK(batch_buckets().front() == 1);
}

TEST_CASE("families render sorted by name whatever their type", "[metrics]")
{
    registry r;
    r.gauge("b_gauge", "B.").with({}).set(2);
    r.counter("a_total", "A.").with({}).inc();
    auto reg = r.gauge_callback("c_depth", "C.", [] { return 7.0; });
    CHECK(r.render() ==
          "# HELP a_total A.\n# TYPE a_total counter\na_total 1\n"
          "# HELP b_gauge B.\n# TYPE b_gauge gauge\nb_gauge 2\n"
          "# HELP c_depth C.\n# TYPE c_depth gauge\nc_depth 7\n");
}

TEST_CASE("a gauge callback is read at render and goes away with its registration", "[metrics]")
{
    registry r;
    double depth = 1;
    {
        auto first = r.gauge_callback("stswatch_spool_reports", "Spool.", [&] { return depth; });
        CHECK(r.render() == "# HELP stswatch_spool_reports Spool.\n# TYPE stswatch_spool_reports gauge\n"
                            "stswatch_spool_reports 1\n");
        depth = 5;
        CHECK(r.render().find("stswatch_spool_reports 5\n") != std::string::npos);
        {
            // A second registration of the name takes over until it goes.
            auto second = r.gauge_callback("stswatch_spool_reports", "Spool.", [] { return 9.0; });
            CHECK(r.render().find("stswatch_spool_reports 9\n") != std::string::npos);
        }
        CHECK(r.render().find("stswatch_spool_reports 5\n") != std::string::npos);
        registration moved = std::move(first);
        CHECK(r.render().find("stswatch_spool_reports 5\n") != std::string::npos);
    }
    CHECK(r.render().empty());
    // The name is free again, for any type.
    r.counter("stswatch_spool_reports", "Now a counter.").with({}).inc();
    CHECK(r.render().find("# TYPE stswatch_spool_reports counter\n") != std::string::npos);
}

TEST_CASE("render_family writes samples given from outside the registry", "[metrics]")
{
    std::string out;
    render_family(out, "stswatch_findings", "Findings.", "gauge",
                  {{{{"severity", "error"}}, 2}, {{{"severity", "warning"}}, 0}});
    render_family(out, "stswatch_database_up", "Up.", "gauge", {{{}, 1}});
    CHECK(out == "# HELP stswatch_findings Findings.\n# TYPE stswatch_findings gauge\n"
                 "stswatch_findings{severity=\"error\"} 2\nstswatch_findings{severity=\"warning\"} 0\n"
                 "# HELP stswatch_database_up Up.\n# TYPE stswatch_database_up gauge\nstswatch_database_up 1\n");
}

TEST_CASE("increments from many threads are all counted", "[metrics]")
{
    registry r;
    auto& c = r.counter("hits_total", "Hits.", {"worker"});
    auto& h = r.histogram("work_seconds", "Work.", {}, {0.5});
    constexpr int threads = 8, per_thread = 20000;
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                c.with({t % 2 ? "odd" : "even"}).inc();
                h.with({}).observe(i % 2 ? 1.0 : 0.25);
            }
        });
    for (auto& t : pool)
        t.join();
    CHECK(c.with({"odd"}).value() == threads / 2 * per_thread);
    CHECK(c.with({"even"}).value() == threads / 2 * per_thread);
    const auto s = h.with({}).read();
    CHECK(s.count == static_cast<std::uint64_t>(threads) * per_thread);
    CHECK(s.cumulative[0] == s.count / 2);
    CHECK(s.sum == Approx(threads * per_thread * 0.625));
}

TEST_CASE("the global registry is one per process", "[metrics]")
{
    CHECK(&global() == &global());
}

TEST_CASE("the intake names the outcome of each HTTPS status from the bounded set", "[metrics]")
{
    using stswatch::outcome_of_status;
    CHECK(outcome_of_status(201) == "stored");
    CHECK(outcome_of_status(200) == "duplicate");
    CHECK(outcome_of_status(202) == "spooled");
    CHECK(outcome_of_status(400) == "rejected");
    CHECK(outcome_of_status(403) == "refused-domain");
    CHECK(outcome_of_status(408) == "timeout");
    CHECK(outcome_of_status(413) == "too-large");
    CHECK(outcome_of_status(415) == "unsupported-type");
    CHECK(outcome_of_status(429) == "rate-limited");
    CHECK(outcome_of_status(503) == "unavailable");
    CHECK(outcome_of_status(500) == "error");
    CHECK(outcome_of_status(418) == "error");   // anything else stays in the set
}

TEST_CASE("reports received are counted in the global registry by transport and outcome", "[metrics]")
{
    stswatch::count_received(stswatch::transport::smtp, "stored");
    stswatch::count_received(stswatch::transport::smtp, "stored", 2);
    stswatch::observe_ingest(stswatch::transport::smtp, std::chrono::steady_clock::now());
    const auto text = global().render();
    CHECK(text.find("stswatch_reports_received_total{transport=\"smtp\",outcome=\"stored\"} 3\n") != std::string::npos);
    CHECK(text.find("stswatch_ingest_duration_seconds_count{transport=\"smtp\"} 1\n") != std::string::npos);
}
