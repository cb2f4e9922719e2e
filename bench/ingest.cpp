// ingest: how fast the collector's HTTPS intake (RFC 8460 §5.4) makes reports durable with
// K concurrent keep-alive senders, at what latency and memory; and, in the same run, the
// floor: the same rows COPYed straight into scratch tables shaped like the real ones.
//
//   ingest --url https://127.0.0.1:PORT/v1/tlsrpt --ca-file CA.pem [--reports N] [--clients K]
//          [--collector-pid PID] [--db CONNINFO] [--floor-connections C] [--seed S] [--label TEXT]
//          [--summary FILE]
//
// Prints figures, never a verdict: the exit status is 0 whenever the run completed, whatever
// the figures (2 for a usage error, 1 when the run itself could not be made).

#include "bench/bench_support.hpp"
#include "bench/copy_floor.hpp"
#include "bench/poco_error.hpp"
#include "bench/report_gen.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/RejectCertificateHandler.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/URI.h>

#include <pqxx/pqxx>

#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <ctime>
#include <iostream>
#include <latch>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <thread>

namespace {

using namespace stswatch;
using namespace stswatch::bench;

// Targets for the durable HTTPS intake (the figure that matters) on this class of machine.
constexpr double target_reports_per_second = 5000;   // at 64 clients, durable
constexpr double target_p99_ms = 50;
constexpr double target_rss_mb = 100;

struct ingest_options {
    std::size_t reports = 20000;
    unsigned clients = 64;
    std::string url;
    std::string ca_file;
    long collector_pid = 0;
    std::string db_url;          // where the COPY floor runs: a migrated stswatch database
    unsigned floor_connections = 2;   // the collector's default store writers
    std::uint64_t seed = 1;
    std::string label;
    std::string summary_file;    // a tab-separated line is appended for run.sh's table
};

ingest_options read_options(int argc, char** argv)
{
    const option_reader args(argc, argv,
                             {"--reports", "--clients", "--url", "--ca-file", "--collector-pid", "--db",
                              "--seed", "--label", "--summary", "--floor-connections"});
    ingest_options o;
    o.reports = args.number("--reports", o.reports, 1);
    o.clients = static_cast<unsigned>(args.number("--clients", o.clients, 1));
    o.url = args.required("--url");
    o.ca_file = args.text("--ca-file", "");
    o.collector_pid = static_cast<long>(args.number("--collector-pid", 0));
    o.db_url = args.text("--db", "");
    o.seed = args.number("--seed", o.seed);
    o.floor_connections = static_cast<unsigned>(args.number("--floor-connections", o.floor_connections, 1));
    o.label = args.text("--label", std::to_string(o.clients) + " clients");
    o.summary_file = args.text("--summary", "");
    if (o.clients > 1024) throw usage_error("--clients: at most 1024");
    return o;
}

struct client_result : sender_tally {
    std::map<int, std::size_t> statuses;
    std::size_t closed_by_server = 0;                  // answers without keep-alive

    void merge(const client_result& other)
    {
        merge_tally(other);
        for (const auto& [status, count] : other.statuses) statuses[status] += count;
        closed_by_server += other.closed_by_server;
    }
};

// One sender: a thread with its own connection, reused for every report it posts.
void run_client(const Poco::URI& uri, Poco::Net::Context::Ptr context, const std::vector<std::string>& bodies,
                std::atomic<std::size_t>& next, std::latch& start, client_result& out)
{
    Poco::Net::HTTPSClientSession session(uri.getHost(), uri.getPort(), context);
    session.setKeepAlive(true);
    session.setTimeout(Poco::Timespan(120, 0));
    const std::string path = uri.getPathAndQuery();

    // The TLS handshake is not part of the figures: connect before the clock starts.
    try {
        Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, "/healthz", Poco::Net::HTTPMessage::HTTP_1_1);
        request.setKeepAlive(true);
        session.sendRequest(request);
        Poco::Net::HTTPResponse response;
        session.receiveResponse(response).ignore(std::numeric_limits<std::streamsize>::max());
    } catch (const Poco::Exception& e) {
        ++out.connect_errors[e.displayText()];
        session.reset();
    }
    // Poco writes the request head and body separately: with Nagle's algorithm the body
    // would wait for the server's delayed ACK (40 ms) and the figures would show that.
    auto no_delay = [&session] {
        if (session.connected()) session.socket().setNoDelay(true);
    };
    no_delay();
    start.arrive_and_wait();

    out.latencies_ms.reserve(bodies.size() / 16);
    for (;;) {
        const std::size_t i = next.fetch_add(1);
        if (i >= bodies.size()) break;
        const auto begin = bench_clock::now();
        try {
            Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, path, Poco::Net::HTTPMessage::HTTP_1_1);
            // RFC 8460 §5.4: the gzip media type senders use for compressed reports.
            request.setContentType("application/tlsrpt+gzip");
            request.setContentLength(static_cast<std::streamsize>(bodies[i].size()));
            request.setKeepAlive(true);
            session.sendRequest(request).write(bodies[i].data(), static_cast<std::streamsize>(bodies[i].size()));
            Poco::Net::HTTPResponse response;
            // Read the whole answer, or the connection could not be reused.
            session.receiveResponse(response).ignore(std::numeric_limits<std::streamsize>::max());
            out.latencies_ms.push_back(seconds_between(begin, bench_clock::now()) * 1000.0);
            ++out.statuses[static_cast<int>(response.getStatus())];
            if (!response.getKeepAlive()) ++out.closed_by_server;
            else no_delay();   // a new connection if Poco had to reconnect
        } catch (const Poco::Exception& e) {
            ++out.errors[e.displayText()];
            session.reset();
        } catch (const std::exception& e) {
            ++out.errors[e.what()];
            session.reset();
        }
    }
}

// The COPY floor (bench/copy_floor.hpp) is shared with the import bench.

// ---- the run --------------------------------------------------------------------------------

using https_figures = sender_figures<client_result>;   // delivered: 200 + 201

https_figures post_reports(const ingest_options& o, const Poco::URI& uri, Poco::Net::Context::Ptr context,
                           const std::vector<std::string>& bodies)
{
    return measure_senders<client_result>(
        o.collector_pid, o.clients,
        [&](std::atomic<std::size_t>& next, std::latch& start, client_result& out) {
            run_client(uri, context, bodies, next, start, out);
        },
        [](const client_result& all) {
            std::size_t durable = 0;
            for (const auto& [status, count] : all.statuses)
                if (status == 200 || status == 201) durable += count;
            return durable;
        });
}

void print_https(const https_figures& f)
{
    std::cout << "  HTTPS intake (2xx = committed in PostgreSQL)\n";
    line("wall time", fixed(f.wall_seconds, 2) + " s");
    line("reports/s (200+201)", grouped(f.reports_per_second),
         "target >= " + grouped(target_reports_per_second) + " at 64 clients");
    line("latency p50 / p95 / p99 / max", latency_text(f.latency) + " ms", "target p99 < " + fixed(target_p99_ms, 0) + " ms");
    line("status codes", counts_text(f.all.statuses));
    if (f.all.closed_by_server > 0)
        line("connections closed by the server", grouped(static_cast<double>(f.all.closed_by_server)));
    line("requests without an answer", grouped(static_cast<double>(f.unanswered)));
    print_reasons("", f.all.errors, 5);
    print_reasons("clients that could not connect", f.all.connect_errors);

    print_collector(f.collector, f.wall_seconds, "target < " + fixed(target_rss_mb, 0) + " MB");
}

void print_floor(const floor_result& floor, double reports, double https_reports_per_second)
{
    const double floor_reports_per_second = reports / floor.seconds;
    const double ratio = https_reports_per_second / floor_reports_per_second;
    std::cout << "  COPY floor (the same reports' rows, pqxx::stream_to, " << floor.connections
              << " connections, one transaction each, durable commits)\n";
    line("rows", grouped(static_cast<double>(floor.rows)) + " (reports, receipts, raw, policies, failure details)");
    line("time", fixed(floor.seconds, 2) + " s: " + grouped(static_cast<double>(floor.rows) / floor.seconds) +
                     " rows/s, " + grouped(floor_reports_per_second) + " reports/s (" +
                     fixed(floor.client_cpu_seconds, 2) + " s CPU in this program)");
    std::string split;
    for (const auto& [what, secs] : floor.table_seconds) split += (split.empty() ? "" : ", ") + what + ' ' + fixed(secs, 2);
    line("seconds by table, connection 1", split);
    std::cout << "  HTTPS ingest reports/s vs COPY floor: " << fixed(ratio, 3) << " (" << fixed(ratio * 100, 1)
              << " % of the floor)\n";
}

// One tab-separated line for run.sh's summary table.
void append_summary(const ingest_options& o, std::size_t reports, const https_figures& f,
                    const std::optional<floor_result>& floor)
{
    const double floor_rate = floor ? static_cast<double>(reports) / floor->seconds : NAN;
    std::ofstream summary(o.summary_file, std::ios::app);
    summary << "ingest\t" << o.label << '\t' << o.clients << '\t' << reports << '\t' << fixed(f.reports_per_second, 0)
            << '\t' << latency_columns(f.latency) << '\t' << mb_column(f.collector.peak_kb) << '\t'
            << mb_column(f.collector.hwm_kb) << '\t' << fixed(floor_rate, 0)
            << '\t' << fixed(f.reports_per_second / floor_rate, 3) << '\t' << counts_text(f.all.statuses) << '\t'
            << f.unanswered << '\n';
    if (!summary) throw std::runtime_error(o.summary_file + ": could not append the summary");
}

int run(const ingest_options& o)
{
    const Poco::URI uri(o.url);
    if (uri.getScheme() != "https" || uri.getHost().empty())
        throw usage_error("--url: an https:// URL is expected, got \"" + o.url + "\"");

    std::cout << "ingest, " << o.label << ": " << grouped(static_cast<double>(o.reports)) << " reports, "
              << o.clients << " keep-alive clients -> " << o.url << '\n';

    const auto gen_begin = bench_clock::now();
    const std::vector<generated_report> reports = generate_reports(o.reports, run_generator_options(o.reports, o.seed));
    std::vector<std::string> bodies;
    bodies.reserve(reports.size());
    double json_bytes = 0, gzip_bytes = 0, details = 0;
    for (const auto& r : reports) {
        bodies.push_back(gzip_report(r));
        json_bytes += static_cast<double>(r.json.size());
        gzip_bytes += static_cast<double>(bodies.back().size());
        details += static_cast<double>(r.failure_detail_count());
    }
    const double n = static_cast<double>(reports.size());
    line("generated", fixed(seconds_between(gen_begin, bench_clock::now()), 2) + " s (seed " + std::to_string(o.seed) +
                          "): " + fixed(details / n, 1) + " failure details, " + fixed(json_bytes / n / 1024, 1) +
                          " KB JSON, " + fixed(gzip_bytes / n / 1024, 2) + " KB gzip per report");
    std::cout << std::flush;   // progress, when stdout is a file or a pipe

    Poco::Net::initializeSSL();
    https_figures figures;
    {
        Poco::Net::Context::Params params;
        params.caLocation = o.ca_file;
        params.verificationMode = Poco::Net::Context::VERIFY_RELAXED;
        params.loadDefaultCAs = o.ca_file.empty();
        Poco::Net::Context::Ptr context = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
        // An untrusted certificate is an error, never a question on the console.
        Poco::Net::SSLManager::instance().initializeClient(nullptr, new Poco::Net::RejectCertificateHandler(false),
                                                          context);
        figures = post_reports(o, uri, context, bodies);
    }
    Poco::Net::uninitializeSSL();
    print_https(figures);
    std::cout << std::flush;

    std::optional<floor_result> floor;
    if (o.db_url.empty()) {
        std::cout << "  COPY floor: skipped (no --db)\n";
    } else {
        try {
            floor = copy_floor(o.db_url, reports, bodies, o.floor_connections);
            print_floor(*floor, n, figures.reports_per_second);
        } catch (const std::exception& e) {
            std::cout << "  COPY floor: failed: " << e.what() << '\n';
        }
    }
    if (!o.summary_file.empty()) append_summary(o, reports.size(), figures, floor);
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    return bench_main(
        "ingest",
        "usage: ingest --url https://HOST:PORT/v1/tlsrpt --ca-file CA.pem [--reports N] [--clients K]\n"
        "              [--collector-pid PID] [--db CONNINFO] [--floor-connections C] [--seed S]\n"
        "              [--label TEXT] [--summary FILE]\n",
        [&] { return run(read_options(argc, argv)); }, poco_aware_text);
}
