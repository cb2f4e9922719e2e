// The HTTPS receiver (RFC 8460 §5.4) end to end: a real server on 127.0.0.1, TLS with the
// test CA, a real store on a scratch database, and real clients (curl, Poco, raw TLS sockets).
#include "tlsrpt/decode.hpp"
#include "collector/https_receiver.hpp"
#include "store/report_store.hpp"
#include "common/time.hpp"
#include "tests/support/sample_reports.hpp"
#include "tests/support/scratch.hpp"
#include "tests/support/test_support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>

#include <pqxx/pqxx>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace stswatch;
using steady = std::chrono::steady_clock;
using stswatch::test::google_report;
using stswatch::test::microsoft_fetch_error_report;
using stswatch::test::temp_file;

namespace {

const std::string report_path = "/v1/tlsrpt";

Poco::Net::Context::Ptr client_tls()
{
    static Poco::Net::Context::Ptr context = [] {
        Poco::Net::Context::Params params;
        params.caLocation = test::tls_file("ca.pem");
        params.verificationMode = Poco::Net::Context::VERIFY_RELAXED;
        params.loadDefaultCAs = false;
        return Poco::Net::Context::Ptr(new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params));
    }();
    return context;
}

https_receiver_options server_options()
{
    https_receiver_options o;
    o.listen = {"127.0.0.1", 0};
    o.cert_file = test::tls_file("server.pem");
    o.key_file = test::tls_file("server.key");
    o.path = report_path;
    o.accept_domains = {"example.com", "example.org"};
    o.max_body_bytes = 256 * 1024;
    o.max_report_bytes = 1024 * 1024;
    o.threads = 48;
    o.max_queued = 64;
    o.max_connections = o.threads + o.max_queued;
    o.max_per_address = 64;   // every test client is 127.0.0.1
    o.request_timeout = 3;
    o.idle_timeout = 2;
    o.max_header_fields = 32;
    return o;
}

// A receiver and its store on a database of its own.
struct test_server {
    explicit test_server(https_receiver_options options = server_options(), std::string db_url = {})
    {
        if (db_url.empty()) {
            database = std::make_unique<test::scratch_database>();
            db_url = database->url();
        }
        store_options so;
        so.db_url = db_url;
        so.enqueue_timeout = std::chrono::milliseconds(3000);
        store = std::make_unique<report_store>(so);
        receiver = std::make_unique<https_receiver>(std::move(options), *store);
        receiver->start();
        port = receiver->port();
    }

    long long count(const std::string& sql) const { return test::query_count(database->url(), sql); }

    std::unique_ptr<test::scratch_database> database;
    std::unique_ptr<report_store> store;
    std::unique_ptr<https_receiver> receiver;
    std::uint16_t port = 0;
};

struct reply {
    int status = 0;
    std::string body;
    std::map<std::string, std::string> headers;
    std::string header(const std::string& name) const
    {
        const auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

// A client session to the test server: connects to 127.0.0.1 and checks the name localhost.
std::unique_ptr<Poco::Net::HTTPSClientSession> open_session(std::uint16_t port)
{
    Poco::Net::SecureStreamSocket socket(client_tls());
    socket.setPeerHostName("localhost");
    auto session = std::make_unique<Poco::Net::HTTPSClientSession>(socket);
    session->setHost("127.0.0.1");
    session->setPort(port);
    session->setKeepAlive(true);
    session->setTimeout(Poco::Timespan(20, 0));
    return session;
}

reply exchange(Poco::Net::HTTPSClientSession& session, const std::string& method, const std::string& path,
               const std::string& content_type, const std::string& body,
               const std::vector<std::pair<std::string, std::string>>& headers = {}, bool chunked = false)
{
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    request.setKeepAlive(true);
    if (!content_type.empty()) request.setContentType(content_type);
    for (const auto& [name, value] : headers) request.set(name, value);
    if (chunked)
        request.setChunkedTransferEncoding(true);
    else if (method != Poco::Net::HTTPRequest::HTTP_GET && method != Poco::Net::HTTPRequest::HTTP_HEAD)
        request.setContentLength(static_cast<std::streamsize>(body.size()));
    auto& out = session.sendRequest(request);
    out.write(body.data(), static_cast<std::streamsize>(body.size()));
    Poco::Net::HTTPResponse response;
    auto& in = session.receiveResponse(response);
    reply r;
    r.status = response.getStatus();
    Poco::StreamCopier::copyToString(in, r.body);
    for (const auto& [name, value] : response) r.headers[name] = value;
    return r;
}

reply post(std::uint16_t port, const std::string& content_type, const std::string& body,
           const std::vector<std::pair<std::string, std::string>>& headers = {})
{
    auto session = open_session(port);
    return exchange(*session, Poco::Net::HTTPRequest::HTTP_POST, report_path, content_type, body, headers);
}

struct curl_reply {
    int status = 0;
    std::string body;
};

// curl as a sender would run it; the last three bytes of its output are the status (-w).
curl_reply curl_post(std::uint16_t port, const std::string& file, const std::vector<std::string>& headers)
{
    std::vector<std::string> argv{"curl", "--cacert", test::tls_file("ca.pem"), "-sS", "-o", "-",
                                  "-w", "%{http_code}", "--max-time", "20",
                                  "--resolve", "localhost:" + std::to_string(port) + ":127.0.0.1",
                                  "--data-binary", "@" + file};
    for (const auto& h : headers) {
        argv.push_back("-H");
        argv.push_back(h);
    }
    argv.push_back("https://localhost:" + std::to_string(port) + report_path);
    const auto run = test::run_program(argv);
    INFO("curl stderr: " << run.err);
    REQUIRE(run.exit_code == 0);
    REQUIRE(run.out.size() >= 3);
    curl_reply r;
    r.status = std::stoi(run.out.substr(run.out.size() - 3));
    r.body = run.out.substr(0, run.out.size() - 3);
    return r;
}

// A raw TLS connection, for clients that misbehave on purpose.
Poco::Net::SecureStreamSocket raw_connection(std::uint16_t port)
{
    Poco::Net::SecureStreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", port), "localhost", client_tls());
    socket.setReceiveTimeout(Poco::Timespan(10, 0));
    return socket;
}

// Reads what the server sends until it closes (or 10 s pass).
std::string read_until_closed(Poco::Net::SecureStreamSocket& socket)
{
    std::string received;
    char buffer[4096];
    try {
        for (;;) {
            const int n = socket.receiveBytes(buffer, sizeof buffer);
            if (n <= 0) break;
            received.append(buffer, static_cast<std::size_t>(n));
        }
    } catch (const Poco::Exception&) {
        // a reset ends the exchange too
    }
    return received;
}

double seconds_since(steady::time_point t)
{
    return std::chrono::duration<double>(steady::now() - t).count();
}

} // namespace

TEST_CASE("a report posted twice is stored once: 201, then 200")
{
    test_server server;
    const auto gz = gzip_compress(google_report("2025-07-08T00:00:00Z_example.com"));

    const auto first = post(server.port, "application/tlsrpt+gzip", gz);
    INFO(first.body);
    CHECK(first.status == 201);
    CHECK(first.header("Content-Type").rfind("text/plain", 0) == 0);
    const auto second = post(server.port, "application/tlsrpt+gzip", gz);
    INFO(second.body);
    CHECK(second.status == 200);
    CHECK(second.body.find("2025-07-08T00:00:00Z_example.com") != std::string::npos);

    CHECK(server.count("SELECT count(*) FROM reports") == 1);

    pqxx::connection conn(server.database->url());
    const auto rows = list_reports(conn, report_query{});
    REQUIRE(rows.size() == 1);
    const auto& row = rows[0];
    CHECK(row.organization_name == "Google Inc.");
    CHECK(row.report_id == "2025-07-08T00:00:00Z_example.com");
    CHECK(format_rfc3339(row.start_datetime) == "2025-07-08T00:00:00Z");
    CHECK(format_rfc3339(row.end_datetime) == "2025-07-08T23:59:59Z");
    CHECK(row.policy_domains == std::vector<std::string>{"example.com"});
    CHECK(row.successful_sessions == 120);
    CHECK(row.failed_sessions == 0);
    CHECK(std::find(row.transports.begin(), row.transports.end(), "https") != row.transports.end());
}

TEST_CASE("reports without a policy-domain over HTTPS are stored and say where the domain came from")
{
    test_server server;   // collector.accept_domains: example.com and example.org
    // Postfix with the sys4 reporter: no policy-domain, no header, no file name; the
    // report-id names the domain.
    const auto sys4 = post(server.port, "application/tlsrpt+json", test::data_file("reports/postfix-sys4.json"));
    INFO(sys4.body);
    CHECK(sys4.status == 201);
    // Nothing names it: kept under the unknown domain, not refused.
    std::string anonymous = test::data_file("reports/postfix-sys4.json");
    const std::string id = "2025-09-20T00:00:00Z_idx1_example.org";
    anonymous.replace(anonymous.find(id), id.size(), "sys4-nameless-1");
    const auto unknown = post(server.port, "application/tlsrpt+json", anonymous);
    INFO(unknown.body);
    CHECK(unknown.status == 201);

    CHECK(server.count("SELECT count(*) FROM reports") == 2);
    CHECK(server.count("SELECT count(*) FROM report_policies WHERE policy_domain = 'example.org' AND policy_domain_filled") == 1);
    CHECK(server.count("SELECT count(*) FROM report_policies WHERE policy_domain = 'unknown.invalid' AND policy_domain_filled") == 1);
    CHECK(server.count("SELECT coalesce(sum(successful_sessions), 0) FROM daily_rollups WHERE policy_domain = 'unknown.invalid'") == 17);
    CHECK(server.count("SELECT count(*) FROM reports WHERE report_id = 'sys4-nameless-1' "
                       "AND array_to_string(warnings, ' ') LIKE '%kept under unknown.invalid%'") == 1);
    CHECK(server.count("SELECT count(*) FROM reports WHERE report_id = '" + id + "' "
                       "AND array_to_string(warnings, ' ') LIKE '%taken from the end of report-id%'") == 1);
}

TEST_CASE("curl posts reports the way real senders label them")
{
    test_server server;
    const auto google_json = google_report("curl-google");
    const auto ms_json = microsoft_fetch_error_report("133810389004212345+example.org");

    struct sent {
        const char* name;
        std::string body;
        std::vector<std::string> headers;
        int status;
    };
    const std::vector<sent> table{
        {"Google, gzip, RFC type", gzip_compress(google_json), {"Content-Type: application/tlsrpt+gzip"}, 201},
        {"Microsoft, JSON, RFC type", ms_json, {"Content-Type: application/tlsrpt+json"}, 201},
        {"gzip labelled application/octet-stream", gzip_compress(google_report("mislabel-octet")),
         {"Content-Type: application/octet-stream"}, 201},
        {"gzip labelled application/json", gzip_compress(google_report("mislabel-json")),
         {"Content-Type: application/json"}, 201},
        {"JSON with Content-Encoding: gzip", gzip_compress(google_report("coded-json")),
         {"Content-Type: application/tlsrpt+json", "Content-Encoding: gzip"}, 201},
        {"gzip report with Content-Encoding: gzip", gzip_compress(gzip_compress(google_report("coded-gzip"))),
         {"Content-Type: application/tlsrpt+gzip", "Content-Encoding: gzip"}, 201},
        {"the first again", gzip_compress(google_json), {"Content-Type: application/tlsrpt+gzip"}, 200},
        {"HTML", ms_json, {"Content-Type: text/html"}, 415},
        {"body over max_body_bytes", std::string(300 * 1024, ' '), {"Content-Type: application/tlsrpt+json"}, 413},
    };
    for (const auto& s : table) {
        INFO(s.name);
        temp_file file(s.body);
        const auto r = curl_post(server.port, file.path(), s.headers);
        INFO(r.body);
        CHECK(r.status == s.status);
    }
    CHECK(server.count("SELECT count(*) FROM reports") == 6);

    pqxx::connection conn(server.database->url());
    report_query q;
    q.domain = "example.org";
    const auto rows = list_reports(conn, q);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].organization_name == "Microsoft Corporation");
    // Microsoft (2023): no zone, read as UTC.
    CHECK(format_rfc3339(rows[0].start_datetime) == "2023-01-10T00:00:00Z");
    CHECK(rows[0].failed_sessions == 4);
}

TEST_CASE("each refusal of the contract comes from a real request")
{
    test_server server;
    const auto gz = gzip_compress(google_report("refusals"));
    // A few KB that inflate to 8 MB, far over max_report_bytes (1 MB here).
    const auto bomb = gzip_compress("{\"organization-name\":\"" + std::string(8 * 1024 * 1024, 'A'));

    struct refused {
        const char* name;
        std::string method, path, content_type, body;
        int status;
        std::string reason;
    };
    const std::vector<refused> table{
        {"garbage JSON", "POST", report_path, "application/tlsrpt+json", "{\"organization-name\": [", 400,
         "not a valid TLS report"},
        {"truncated gzip", "POST", report_path, "application/tlsrpt+gzip", gz.substr(0, gz.size() / 2), 400,
         "cannot be inflated"},
        {"policy domain not accepted", "POST", report_path, "application/tlsrpt+json",
         google_report("foreign", "evil.example"), 403, "evil.example"},
        {"gzip bomb", "POST", report_path, "application/tlsrpt+gzip", bomb, 413, "inflates to more than"},
        {"HTML", "POST", report_path, "text/html", google_report("html"), 415, "text/html"},
        {"form upload", "POST", report_path, "multipart/form-data; boundary=x", google_report("form"), 415,
         "multipart/form-data"},
        {"no such path", "POST", "/v1/other", "application/tlsrpt+gzip", gz, 404, "no such path"},
        {"GET on the report path", "GET", report_path, "", "", 405, "POST"},
        {"PUT on the report path", "PUT", report_path, "application/tlsrpt+gzip", "", 405, "POST"},
    };
    for (const auto& c : table) {
        INFO(c.name);
        auto session = open_session(server.port);
        const auto r = exchange(*session, c.method, c.path, c.content_type, c.body);
        INFO(r.body);
        CHECK(r.status == c.status);
        CHECK(r.body.find(c.reason) != std::string::npos);
        // One line of text.
        CHECK(r.body.find('\n') == r.body.size() - 1);
        if (c.status == 405) CHECK(r.header("Allow") == "POST");
    }
    // Nothing refused left a trace, not even half a report.
    CHECK(server.count("SELECT count(*) FROM reports") == 0);
    CHECK(server.count("SELECT count(*) FROM report_receipts") == 0);
}

TEST_CASE("a Content-Length over the limit is refused before the body is read")
{
    test_server server;
    auto socket = raw_connection(server.port);
    const std::string head = "POST " + report_path + " HTTP/1.1\r\nHost: localhost\r\n"
                             "Content-Type: application/tlsrpt+gzip\r\nContent-Length: 50000000\r\n\r\n";
    socket.sendBytes(head.data(), static_cast<int>(head.size()));
    // No body is sent: the answer must come anyway.
    const auto answer = read_until_closed(socket);
    INFO(answer);
    CHECK(answer.rfind("HTTP/1.1 413", 0) == 0);
    CHECK(answer.find("larger than 262144 bytes") != std::string::npos);
    auto lowered = answer;
    std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    CHECK(lowered.find("connection: close") != std::string::npos);
}

TEST_CASE("a POST without Content-Length or chunked coding gets 411")
{
    test_server server;
    auto socket = raw_connection(server.port);
    const std::string head = "POST " + report_path + " HTTP/1.1\r\nHost: localhost\r\n"
                             "Content-Type: application/tlsrpt+json\r\n\r\n";
    socket.sendBytes(head.data(), static_cast<int>(head.size()));
    const auto answer = read_until_closed(socket);
    INFO(answer);
    CHECK(answer.rfind("HTTP/1.1 411", 0) == 0);
}

TEST_CASE("too many header fields get 431")
{
    test_server server;
    std::vector<std::pair<std::string, std::string>> headers;
    for (int i = 0; i < 40; ++i) headers.emplace_back("X-Field-" + std::to_string(i), "v");
    const auto r = post(server.port, "application/tlsrpt+json", google_report("headers"), headers);
    CHECK(r.status == 431);
    CHECK(server.count("SELECT count(*) FROM reports") == 0);
}

TEST_CASE("chunked bodies are read with a running cap")
{
    test_server server;
    auto session = open_session(server.port);
    const auto small = exchange(*session, "POST", report_path, "application/tlsrpt+gzip",
                                gzip_compress(google_report("chunked")), {}, true);
    INFO(small.body);
    CHECK(small.status == 201);

    auto big_session = open_session(server.port);
    const auto big = exchange(*big_session, "POST", report_path, "application/tlsrpt+json",
                              std::string(400 * 1024, ' '), {}, true);
    CHECK(big.status == 413);
    CHECK(server.count("SELECT count(*) FROM reports") == 1);
}

TEST_CASE("503 with Retry-After when the database cannot be reached")
{
    // Nothing listens on this port: the store cannot make anything durable.
    const auto closed = "host=127.0.0.1 port=" + std::to_string(test::free_port())
                        + " user=postgres dbname=postgres connect_timeout=2";
    test_server server(server_options(), closed);
    const auto r = post(server.port, "application/tlsrpt+gzip", gzip_compress(google_report("unavailable")));
    INFO(r.body);
    CHECK(r.status == 503);
    CHECK(r.header("Retry-After") == "60");
    // The database detail is not for the peer.
    CHECK(r.body.find(std::to_string(server.port)) == std::string::npos);
    CHECK(r.body.find("retry later") != std::string::npos);
}

TEST_CASE("one address posting past its rate gets 429 with Retry-After, and nothing stored")
{
    auto options = server_options();
    options.rate_limit_per_minute = 6;   // one every ten seconds
    options.rate_burst = 2;
    test_server server(options);
    CHECK(post(server.port, "application/tlsrpt+gzip", gzip_compress(google_report("rate-1"))).status == 201);
    CHECK(post(server.port, "application/tlsrpt+gzip", gzip_compress(google_report("rate-2"))).status == 201);
    const auto r = post(server.port, "application/tlsrpt+gzip", gzip_compress(google_report("rate-3")));
    INFO(r.body);
    CHECK(r.status == 429);
    const auto retry = std::stoi(r.header("Retry-After"));
    CHECK(retry >= 1);
    CHECK(retry <= 10);
    CHECK(server.count("SELECT count(*) FROM reports") == 2);
}

TEST_CASE("concurrent clients: every report is stored exactly once")
{
    test_server server;
    constexpr int clients = 40;
    constexpr int shared_reports = 5;
    std::atomic<int> created{0}, duplicates{0}, other{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < clients; ++i) {
        threads.emplace_back([&, i] {
            try {
                auto session = open_session(server.port);
                // Its own report, then one that other clients post at the same time (the same
                // report: same sender, same id).
                for (const int n : {i, clients + i % shared_reports}) {
                    const auto id = n < clients ? "own-" + std::to_string(n) : "shared-" + std::to_string(n);
                    const bool google = n % 2 == 1;
                    const auto body = google ? gzip_compress(google_report(id)) : microsoft_fetch_error_report(id);
                    const auto r = exchange(*session, "POST", report_path,
                                            google ? "application/tlsrpt+gzip" : "application/tlsrpt+json", body);
                    if (r.status == 201)
                        ++created;
                    else if (r.status == 200)
                        ++duplicates;
                    else
                        ++other;
                }
            } catch (const std::exception&) {
                ++other;
            }
        });
    }
    for (auto& t : threads) t.join();
    CHECK(other == 0);
    CHECK(created == clients + shared_reports);
    CHECK(duplicates == clients - shared_reports);
    CHECK(server.count("SELECT count(*) FROM reports") == clients + shared_reports);
}

TEST_CASE("keep-alive: several reports on one connection")
{
    test_server server;
    auto session = open_session(server.port);
    std::uint16_t local_port = 0;
    for (int i = 0; i < 5; ++i) {
        const auto r = exchange(*session, "POST", report_path, "application/tlsrpt+gzip",
                                gzip_compress(google_report("keepalive-" + std::to_string(i))));
        CHECK(r.status == 201);
        const auto port = session->socket().address().port();
        if (i == 0) local_port = port;
        CHECK(port == local_port);   // the same connection each time
    }
    // A refusal that read the whole body keeps the connection too.
    const auto bad = exchange(*session, "POST", report_path, "application/tlsrpt+json", "{\"x\":");
    CHECK(bad.status == 400);
    const auto after = exchange(*session, "POST", report_path, "application/tlsrpt+json",
                                microsoft_fetch_error_report("keepalive-after"));
    CHECK(after.status == 201);
    CHECK(session->socket().address().port() == local_port);
    CHECK(server.count("SELECT count(*) FROM reports") == 6);
}

TEST_CASE("slow clients are cut off at the request deadline")
{
    auto options = server_options();
    options.request_timeout = 2;
    options.idle_timeout = 1;   // each byte comes sooner than this: only the deadline can stop them
    test_server server(options);

    // Sends head, then drip every 250 ms until the server answers, closes or resets.
    const auto trickle = [&](const std::string& head, const std::string& drip) {
        auto socket = raw_connection(server.port);
        const auto started = steady::now();
        socket.sendBytes(head.data(), static_cast<int>(head.size()));
        std::string answer;
        bool cut = false;
        while (seconds_since(started) < 10 && !cut) {
            std::this_thread::sleep_for(std::chrono::milliseconds(250));
            try {
                socket.sendBytes(drip.data(), static_cast<int>(drip.size()));
                // A short read: TLS records that carry no data (session tickets) are not an answer.
                socket.setReceiveTimeout(Poco::Timespan(0, 20000));
                char buffer[4096];
                const int n = socket.receiveBytes(buffer, sizeof buffer);
                if (n > 0) answer.append(buffer, static_cast<std::size_t>(n));
                cut = true;
            } catch (const Poco::TimeoutException&) {
                // still connected, nothing received
            } catch (const Poco::Exception&) {
                cut = true;
            }
        }
        const double elapsed = seconds_since(started);
        INFO("answer: " << answer);
        CHECK(cut);
        CHECK(elapsed >= 1.5);
        CHECK(elapsed < options.request_timeout + 1.5);
        return answer;
    };

    SECTION("trickling the body")
    {
        const auto answer = trickle("POST " + report_path + " HTTP/1.1\r\nHost: localhost\r\n"
                                    "Content-Type: application/tlsrpt+json\r\nContent-Length: 100000\r\n\r\n{",
                                    " ");
        if (!answer.empty()) CHECK(answer.rfind("HTTP/1.1 408", 0) == 0);
    }
    SECTION("trickling the headers")
    {
        trickle("POST " + report_path + " HTTP/1.1\r\nHost: localhost\r\nX-Slow: ", "a");
    }
    // The server still serves others.
    const auto r = post(server.port, "application/tlsrpt+gzip", gzip_compress(google_report("after-slow")));
    CHECK(r.status == 201);
}

TEST_CASE("a silent connection neither blocks others nor stays open")
{
    auto options = server_options();
    options.request_timeout = 2;
    options.idle_timeout = 1;
    test_server server(options);
    // Plain TCP, not even a TLS handshake.
    Poco::Net::StreamSocket silent;
    silent.connect(Poco::Net::SocketAddress("127.0.0.1", server.port));
    const auto started = steady::now();

    const auto r = post(server.port, "application/tlsrpt+gzip", gzip_compress(google_report("beside-silent")));
    CHECK(r.status == 201);
    CHECK(seconds_since(started) < 1.0);

    silent.setReceiveTimeout(Poco::Timespan(10, 0));
    char byte = 0;
    int n = -1;
    try {
        n = silent.receiveBytes(&byte, 1);
    } catch (const Poco::Exception&) {
        n = 0;   // reset: closed as well
    }
    CHECK(n == 0);
    CHECK(seconds_since(started) < options.request_timeout + 1.5);
}

TEST_CASE("a client that stops sending gets 408 after the idle timeout, not the request timeout")
{
    auto options = server_options();
    options.request_timeout = 20;
    options.idle_timeout = 1;
    test_server server(options);
    const std::string head = "POST " + report_path + " HTTP/1.1\r\nHost: localhost\r\n"
                             "Content-Type: application/tlsrpt+json\r\n";
    // A body shorter than its Content-Length, and a chunked body that stops mid-chunk.
    for (const std::string& stalled : {head + "Content-Length: 1000\r\n\r\n{",
                                      head + "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"org\r\n"}) {
        auto socket = raw_connection(server.port);
        const auto started = steady::now();
        socket.sendBytes(stalled.data(), static_cast<int>(stalled.size()));
        const auto answer = read_until_closed(socket);
        const double elapsed = seconds_since(started);
        INFO(stalled << "\n->\n" << answer);
        CHECK(answer.rfind("HTTP/1.1 408", 0) == 0);
        CHECK(answer.find("no data for 1 s") != std::string::npos);
        // Before, a TLS read waited twice the idle timeout, and past the request deadline.
        CHECK(elapsed >= 0.9);
        CHECK(elapsed < 3.5);
    }
}

TEST_CASE("/healthz answers with the store counters")
{
    test_server server;
    REQUIRE(post(server.port, "application/tlsrpt+gzip", gzip_compress(google_report("health"))).status == 201);
    REQUIRE(post(server.port, "application/tlsrpt+gzip", gzip_compress(google_report("health"))).status == 200);

    auto session = open_session(server.port);
    const auto r = exchange(*session, "GET", "/healthz", "", "");
    REQUIRE(r.status == 200);
    CHECK(r.header("Content-Type") == "application/json");
    Poco::JSON::Parser parser;
    const auto health = parser.parse(r.body).extract<Poco::JSON::Object::Ptr>();
    CHECK(health->getValue<std::string>("status") == "ok");
    CHECK(health->getValue<int>("stored") == 1);
    CHECK(health->getValue<int>("duplicates") == 1);

    const auto post_health = exchange(*session, "POST", "/healthz", "text/plain", "x");
    CHECK(post_health.status == 405);
}

namespace {

// A plain TCP connection from source (a loopback address of its own) that sends nothing: not
// even a TLS ClientHello. -1 when it cannot be made.
int idle_connection(const char* source, std::uint16_t port)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    sockaddr_in from{};
    from.sin_family = AF_INET;
    ::inet_pton(AF_INET, source, &from.sin_addr);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0
        || ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// Whether the server has closed fd (end of input, or a reset).
bool closed_by_server(int fd)
{
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0)
        return false;
    char byte;
    return ::recv(fd, &byte, 1, MSG_DONTWAIT) <= 0;
}

struct fds {
    std::vector<int> open;
    ~fds()
    {
        for (int fd : open)
            ::close(fd);
    }
    std::size_t closed_by_server() const
    {
        return static_cast<std::size_t>(std::count_if(open.begin(), open.end(), ::closed_by_server));
    }
};

void allow_descriptors(rlim_t wanted)
{
    rlimit limit{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &limit) == 0);
    if (limit.rlim_cur < wanted) {
        limit.rlim_cur = std::min(wanted, limit.rlim_max);
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &limit) == 0);
    REQUIRE(limit.rlim_cur >= wanted);
}

} // namespace

TEST_CASE("2,000 idle connections from one address do not lock other senders out")
{
    allow_descriptors(8192);
    auto options = server_options();
    options.request_timeout = 30;
    options.idle_timeout = 15;
    options.handshake_timeout = 2;
    options.max_per_address = 32;
    test_server server(options);

    // One address opens 2,000 connections and sends nothing. Only 32 are kept (the rest are
    // closed at accept), and those go when their handshake time is up.
    fds attacker;
    const auto flood_started = steady::now();
    for (int i = 0; i < 2000; ++i) {
        const int fd = idle_connection("127.0.0.2", server.port);
        if (fd >= 0)
            attacker.open.push_back(fd);
        // Paced so that the accept queue (this test's listen backlog is 64) never overflows:
        // a connection the kernel drops before accept would never reach the receiver at all.
        if (i % 50 == 49)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    REQUIRE(attacker.open.size() == 2000);

    // Meanwhile a sender from another address posts report after report, each on a new
    // connection, as senders do: every one is stored, promptly.
    std::vector<double> latencies;
    for (int i = 0; i < 20; ++i) {
        const auto started = steady::now();
        const auto r = post(server.port, "application/tlsrpt+gzip", gzip_compress(google_report("flooded-" + std::to_string(i))));
        latencies.push_back(seconds_since(started));
        CHECK(r.status == 201);
    }
    std::sort(latencies.begin(), latencies.end());
    INFO("latency median " << latencies[latencies.size() / 2] << " s, max " << latencies.back() << " s");
    CHECK(latencies[latencies.size() / 2] < 0.1);
    CHECK(latencies.back() < 2.0);
    CHECK(server.count("SELECT count(*) FROM reports") == 20);

    // All but the address's 32 were closed at once; those 32 at their handshake deadline.
    const auto soon = steady::now() + std::chrono::seconds(1);
    while (attacker.closed_by_server() < 2000 - 32 && steady::now() < soon)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(attacker.closed_by_server() >= 2000 - 32);
    const auto give_up = flood_started + std::chrono::seconds(options.handshake_timeout + 5);
    while (attacker.closed_by_server() < 2000 && steady::now() < give_up)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK(attacker.closed_by_server() == 2000);
}

TEST_CASE("a full receiver closes its oldest idle connection to serve a new sender")
{
    auto options = server_options();
    options.threads = 4;
    options.max_queued = 4;
    options.max_connections = 8;
    options.max_per_address = 32;
    options.handshake_timeout = 20;   // the idle ones would hold their places that long
    options.request_timeout = 30;
    options.idle_timeout = 20;
    test_server server(options);

    // Eight connections from three addresses take every place and send nothing.
    fds idle;
    for (const char* source : {"127.0.0.2", "127.0.0.3", "127.0.0.4"})
        for (int i = 0; i < 3 && idle.open.size() < 8; ++i)
            idle.open.push_back(idle_connection(source, server.port));
    REQUIRE(idle.open.size() == 8);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(idle.closed_by_server() == 0);

    // A sender still gets through: idle connections are closed to make room for it, and to
    // free a thread while it waits for one (those that sent nothing for a second first).
    for (int i = 0; i < 3; ++i) {
        const auto started = steady::now();
        const auto r = post(server.port, "application/tlsrpt+gzip", gzip_compress(google_report("full-" + std::to_string(i))));
        CHECK(r.status == 201);
        CHECK(seconds_since(started) < 5.0);   // the idle ones would have held the threads 20 s
    }
    CHECK(idle.closed_by_server() >= 1);
    CHECK(server.count("SELECT count(*) FROM reports") == 3);
}

TEST_CASE("a connection that never starts its TLS handshake is closed at the handshake timeout")
{
    auto options = server_options();
    options.handshake_timeout = 1;
    options.idle_timeout = 10;
    options.request_timeout = 30;
    test_server server(options);
    fds silent;
    silent.open.push_back(idle_connection("127.0.0.1", server.port));
    REQUIRE(silent.open.front() >= 0);
    const auto started = steady::now();
    while (!closed_by_server(silent.open.front()) && seconds_since(started) < 10)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const double elapsed = seconds_since(started);
    CHECK(closed_by_server(silent.open.front()));
    CHECK(elapsed >= 0.9);
    CHECK(elapsed < 3.0);   // not the idle (10 s) nor the request timeout (30 s)
}
