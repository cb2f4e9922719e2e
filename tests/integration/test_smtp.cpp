// The SMTP receiver end to end: a real server on 127.0.0.1 with STARTTLS from the test CA,
// a real store on a scratch database, and real clients (swaks, Poco's SMTPClientSession,
// raw sockets for what clients should not do).
#include "tlsrpt/decode.hpp"
#include "collector/https_receiver.hpp"
#include "store/report_store.hpp"
#include "collector/smtp_receiver.hpp"
#include "collector/spool.hpp"
#include "tests/support/sample_reports.hpp"
#include "tests/support/scratch.hpp"
#include "tests/support/scratch_store.hpp"
#include "tests/support/test_support.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SMTPClientSession.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include <pqxx/pqxx>

using namespace stswatch;
using steady = std::chrono::steady_clock;
using stswatch::test::google_report;
using stswatch::test::temp_file;

namespace {

const std::string report_address = "tlsrpt@example.com";

std::string base64_76(const std::string& data)
{
    const std::string text = test::base64_lines(data);
    // CRLF line ends for the SMTP wire (RFC 5321 §2.3.8), whatever the encoder wrote.
    std::string crlf;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) crlf += '\r';
        crlf += text[i];
    }
    return crlf;
}

// A report mail as Google sends one (RFC 8460 §5.3): multipart/report; report-type=tlsrpt,
// a text part, the report gzipped and base64-wrapped at 76 columns.
std::string report_mail(const std::string& report_json, const std::string& domain = "example.com",
                        const std::string& message_id = "<r1@google.com>")
{
    const std::string file = "google.com!" + domain + "!1751932800!1752019199!001.json.gz";
    return "From: Google <noreply-smtp-tls-reporting@google.com>\r\n"
           "To: " + report_address + "\r\n"
           "Subject: Report Domain: " + domain + "\r\n"
           " Submitter: google.com Report-ID: <2025.07.08T00.00.00Z+" + domain + "@google.com>\r\n"
           "TLS-Report-Domain: " + domain + "\r\n"
           "TLS-Report-Submitter: google.com\r\n"
           "Message-ID: " + message_id + "\r\n"
           "MIME-Version: 1.0\r\n"
           "Content-Type: multipart/report; boundary=\"0000b1\"; report-type=tlsrpt\r\n"
           "\r\n"
           "--0000b1\r\n"
           "Content-Type: text/plain; charset=\"UTF-8\"\r\n"
           "\r\n"
           "This is an aggregate TLS report from google.com\r\n"
           ".A line that starts with a dot, stuffed on the wire\r\n"
           "--0000b1\r\n"
           "Content-Type: application/tlsrpt+gzip; \r\n"
           "\tname=\"" + file + "\"\r\n"
           "Content-Disposition: attachment; filename=\"" + file + "\"\r\n"
           "Content-Transfer-Encoding: base64\r\n"
           "\r\n" + base64_76(gzip_compress(report_json)) + "\r\n"
           "--0000b1--\r\n";
}

std::string plain_mail()
{
    return "From: someone@example.net\r\nTo: " + report_address + "\r\nSubject: hello\r\n\r\nNo report here.\r\n";
}

smtp_receiver_options server_options()
{
    smtp_receiver_options o;
    o.listen = {"127.0.0.1", 0};
    o.hostname = "mx.test.example";
    o.recipients = {report_address, "reports@example.org"};
    o.cert_file = test::tls_file("server.pem");
    o.key_file = test::tls_file("server.key");
    o.max_message_bytes = 64 * 1024;
    o.max_recipients = 3;
    o.max_sessions = 16;
    o.idle_timeout = 5;
    o.session_timeout = 60;
    o.intake.accept_domains = {"example.com", "example.org"};
    return o;
}

// A receiver and its store on a database of its own.
struct test_server : test::scratch_store {
    explicit test_server(smtp_receiver_options options = server_options(), std::string db_url = {})
        : scratch_store(std::chrono::milliseconds(3000), std::move(db_url))
    {
        receiver = std::make_unique<smtp_receiver>(std::move(options), *store);
        receiver->start();
        port = receiver->port();
    }

    std::string text(const std::string& sql) const { return test::query_text(url, sql); }

    std::unique_ptr<smtp_receiver> receiver;
    std::uint16_t port = 0;
};

// An SMTP client on a raw socket: what well-behaved clients never do is done here.
class raw_client {
public:
    explicit raw_client(std::uint16_t port) : socket_(Poco::Net::SocketAddress("127.0.0.1", port))
    {
        socket_.setReceiveTimeout(Poco::Timespan(15, 0));
        io_ = &socket_;
    }

    void send(const std::string& text)
    {
        std::size_t sent = 0;
        while (sent < text.size())
            sent += static_cast<std::size_t>(io_->sendBytes(text.data() + sent, static_cast<int>(text.size() - sent)));
    }

    // One reply, all its lines ("250-…" continued up to "250 …"); "" when the peer closed.
    std::string reply()
    {
        std::string all;
        for (;;) {
            const auto line = read_line();
            if (line.empty()) return all;
            all += line + "\n";
            if (line.size() < 4 || line[3] != '-') return all;
        }
    }

    std::string command(const std::string& line)
    {
        send(line + "\r\n");
        auto r = reply();
        closing_ = r.rfind("421", 0) == 0;
        return r;
    }

    // Greeting, EHLO, one sender and one report recipient, then DATA: ready for the message.
    void begin_data()
    {
        reply();
        command("EHLO client.example");
        command("MAIL FROM:<a@example.net>");
        command("RCPT TO:<tlsrpt@example.com>");
        CHECK_THAT(command("DATA"), Catch::StartsWith("354"));
    }

    // True when a reply starts arriving within the time (the session is being served).
    bool answers_within(std::chrono::milliseconds wait)
    {
        return !buffer_.empty()
            || io_->poll(Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(wait.count()) * 1000),
                         Poco::Net::Socket::SELECT_READ);
    }

    // The last reply said the server is closing.
    bool closed_hint() const { return closing_; }

    bool closed()
    {
        return read_line().empty() && buffer_.empty();
    }

    void start_tls()
    {
        Poco::Net::Context::Params params;
        params.caLocation = test::tls_file("ca.pem");
        params.verificationMode = Poco::Net::Context::VERIFY_RELAXED;
        params.loadDefaultCAs = false;
        Poco::Net::Context::Ptr context = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
        secure_ = std::make_unique<Poco::Net::SecureStreamSocket>(
            Poco::Net::SecureStreamSocket::attach(socket_, "localhost", context));
        secure_->completeHandshake();
        io_ = secure_.get();
        REQUIRE(buffer_.empty());
    }

private:
    Poco::Net::StreamSocket socket_;
    std::unique_ptr<Poco::Net::SecureStreamSocket> secure_;
    Poco::Net::StreamSocket* io_;
    std::string buffer_;
    bool closing_ = false;

    std::string read_line()
    {
        for (;;) {
            const auto lf = buffer_.find('\n');
            if (lf != std::string::npos) {
                auto line = buffer_.substr(0, lf);
                buffer_.erase(0, lf + 1);
                if (!line.empty() && line.back() == '\r') line.pop_back();
                return line;
            }
            char chunk[4096];
            int n = 0;
            try {
                n = io_->receiveBytes(chunk, sizeof chunk);
            } catch (const Poco::Exception&) {
                n = 0;
            }
            if (n <= 0) {
                auto rest = buffer_;
                buffer_.clear();
                return rest;
            }
            buffer_.append(chunk, static_cast<std::size_t>(n));
        }
    }
};

// Dot-stuffs a message for the DATA phase (RFC 5321 §4.5.2) and ends it.
std::string data_phase(const std::string& message)
{
    std::string out;
    std::size_t begin = 0;
    while (begin < message.size()) {
        auto end = message.find("\r\n", begin);
        end = end == std::string::npos ? message.size() : end + 2;
        if (message[begin] == '.') out += '.';
        out.append(message, begin, end - begin);
        begin = end;
    }
    return out + ".\r\n";
}

test::run_result swaks(std::uint16_t port, const std::string& message_file, const std::string& to,
                       const std::vector<std::string>& extra = {})
{
    std::vector<std::string> argv{"swaks", "--server", "127.0.0.1", "--port", std::to_string(port),
                                  "--helo", "mail-sor-f41.google.com", "--from", "noreply-smtp-tls-reporting@google.com",
                                  "--to", to, "--data", "@" + message_file, "--timeout", "20"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return test::run_program(argv);
}

// A cluster of this test's own with a migrated database "stswatch".
struct migrated_cluster {
    migrated_cluster()
    {
        const auto created = test::run_program({"/usr/lib/postgresql/15/bin/createdb", "-h", "127.0.0.1", "-p",
                                                std::to_string(cluster.port()), "-U", "postgres", "stswatch"});
        INFO(created.err);
        REQUIRE(created.exit_code == 0);
        const auto migrated = test::run_program({test::required_env("STSWATCH_BIN"), "db", "migrate", "--db", url()});
        INFO(migrated.err);
        REQUIRE(migrated.exit_code == 0);
    }
    void start() { cluster.start(); }
    void stop() { cluster.stop(); }
    std::string url() const { return cluster.url("stswatch") + " connect_timeout=3"; }

    test::private_cluster cluster;
};

} // namespace

TEST_CASE("swaks delivers a report over plain SMTP: 250, stored with its mail metadata")
{
    test_server server;
    const temp_file mail(report_mail(google_report("2025-07-08T00:00:00Z_example.com")));
    const auto r = swaks(server.port, mail.path(), report_address);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("<-  250 2.0.0"));
    CHECK_THAT(r.out, Catch::Contains("250-PIPELINING"));
    CHECK_THAT(r.out, Catch::Contains("250-SIZE 65536"));
    CHECK_THAT(r.out, Catch::Contains("STARTTLS"));

    CHECK(server.count("SELECT count(*) FROM reports") == 1);
    CHECK(server.text("SELECT string_agg(transport, ',') FROM report_receipts") == "smtp");
    CHECK(server.text("SELECT source_address FROM report_receipts") == "127.0.0.1");
    CHECK(server.text("SELECT metadata->>'tls-report-domain' FROM reports") == "example.com");
    CHECK(server.text("SELECT metadata->>'tls-report-submitter' FROM reports") == "google.com");
    CHECK(server.text("SELECT metadata->>'message-id' FROM reports") == "<r1@google.com>");
    CHECK_THAT(server.text("SELECT metadata->>'from' FROM reports"),
               Catch::Contains("noreply-smtp-tls-reporting@google.com"));
    CHECK_THAT(server.text("SELECT metadata->>'attachment-file-name' FROM reports"),
               Catch::Equals("google.com!example.com!1751932800!1752019199!001.json.gz"));
    CHECK(server.text("SELECT metadata->>'subject-report-id' FROM reports")
          == "<2025.07.08T00.00.00Z+example.com@google.com>");
}

TEST_CASE("the DKIM state of a mailed report is stored with it (RFC 8460 §3)")
{
    test_server server;
    const temp_file mail(report_mail(google_report("dkim-state-1")));
    const auto r = swaks(server.port, mail.path(), report_address);
    REQUIRE(r.exit_code == 0);
    // Unsigned mail; without a key lookup nothing is verified either: none.
    CHECK(server.text("SELECT dkim_state FROM reports WHERE report_id = 'dkim-state-1'") == "none");
}

TEST_CASE("swaks delivers a report after STARTTLS, verifying the test CA")
{
    test_server server;
    const temp_file mail(report_mail(google_report("tls-1")));
    const auto r = swaks(server.port, mail.path(), report_address,
                         {"--tls", "--tls-verify", "--tls-ca-path", test::tls_file("ca.pem"), "--tls-sni", "localhost"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("220 2.0.0 ready to start TLS"));
    CHECK_THAT(r.out, Catch::Contains("TLS started"));
    // After TLS, EHLO again: STARTTLS is no longer offered (RFC 3207 §4.2).
    const auto after = r.out.substr(r.out.find("TLS started"));
    CHECK_THAT(after, !Catch::Contains("250-STARTTLS") && !Catch::Contains("250 STARTTLS"));
    CHECK(server.count("SELECT count(*) FROM reports WHERE report_id = 'tls-1'") == 1);
}

TEST_CASE("Poco's SMTPClientSession delivers a report, the same report again is 250 and one row")
{
    test_server server;
    const auto message = report_mail(google_report("poco-1"));
    for (int attempt = 0; attempt < 2; ++attempt) {
        Poco::Net::SMTPClientSession session("127.0.0.1", server.port);
        session.login("mail.google.com");
        session.sendAddresses("noreply-smtp-tls-reporting@google.com", {report_address});
        session.sendData();
        std::istringstream in(message);
        REQUIRE_NOTHROW(session.sendMessage(in));
        session.close();
    }
    CHECK(server.count("SELECT count(*) FROM reports WHERE report_id = 'poco-1'") == 1);
    CHECK(server.count("SELECT count(*) FROM report_receipts") == 1);
}

TEST_CASE("recipients other than the report addresses are refused: never a relay")
{
    test_server server;
    raw_client c(server.port);
    CHECK_THAT(c.reply(), Catch::StartsWith("220 mx.test.example"));
    CHECK_THAT(c.command("EHLO client.example"), Catch::StartsWith("250-mx.test.example"));
    CHECK_THAT(c.command("MAIL FROM:<spammer@example.net>"), Catch::StartsWith("250 2.1.0"));
    for (const char* to : {"victim@gmail.example", "tlsrpt@example.com.evil.example", "postmaster",
                           "TLSRPT@example.net", "tlsrpt@sub.example.com"}) {
        INFO(to);
        CHECK_THAT(c.command(std::string("RCPT TO:<") + to + ">"), Catch::StartsWith("550 5.7.1"));
    }
    CHECK_THAT(c.command("DATA"), Catch::StartsWith("503 5.5.1"));
    // The report addresses, the domain in any case.
    CHECK_THAT(c.command("RCPT TO:<tlsrpt@EXAMPLE.com>"), Catch::StartsWith("250 2.1.5"));
    CHECK_THAT(c.command("RCPT TO:<reports@example.org>"), Catch::StartsWith("250 2.1.5"));
    CHECK_THAT(c.command("QUIT"), Catch::StartsWith("221"));

    const temp_file mail(report_mail(google_report("relay-1")));
    const auto r = swaks(server.port, mail.path(), "someone@elsewhere.example");
    CHECK(r.exit_code != 0);
    CHECK_THAT(r.out, Catch::Contains("550 5.7.1"));
    CHECK(server.count("SELECT count(*) FROM reports") == 0);
}

TEST_CASE("the command set: sequence errors, VRFY, unknown commands, recipients bound")
{
    test_server server;
    raw_client c(server.port);
    c.reply();
    CHECK_THAT(c.command("MAIL FROM:<a@example.net>"), Catch::StartsWith("503 5.5.1"));   // before EHLO
    CHECK_THAT(c.command("HELO client.example"), Catch::StartsWith("250 mx.test.example"));
    CHECK_THAT(c.command("VRFY tlsrpt"), Catch::StartsWith("502 5.5.1"));
    CHECK_THAT(c.command("EXPN staff"), Catch::StartsWith("502"));
    CHECK_THAT(c.command("FROB"), Catch::StartsWith("500 5.5.2"));
    CHECK_THAT(c.command("NOOP"), Catch::StartsWith("250 2.0.0"));
    CHECK_THAT(c.command("RCPT TO:<tlsrpt@example.com>"), Catch::StartsWith("503 5.5.1"));   // before MAIL
    CHECK_THAT(c.command("MAIL FROM:<a@example.net> SMTPUTF8"), Catch::StartsWith("555 5.5.4"));
    CHECK_THAT(c.command("MAIL FROM:<a@example.net>"), Catch::StartsWith("250"));
    CHECK_THAT(c.command("MAIL FROM:<a@example.net>"), Catch::StartsWith("503 5.5.1"));   // nested
    for (int i = 0; i < 3; ++i) CHECK_THAT(c.command("RCPT TO:<tlsrpt@example.com>"), Catch::StartsWith("250"));
    CHECK_THAT(c.command("RCPT TO:<tlsrpt@example.com>"), Catch::StartsWith("452 4.5.3"));
    CHECK_THAT(c.command("RSET"), Catch::StartsWith("250"));
    CHECK_THAT(c.command("DATA"), Catch::StartsWith("503"));   // RSET ended the transaction
    CHECK_THAT(c.command(std::string(1200, 'N')), Catch::StartsWith("500 5.5.6"));
    CHECK_THAT(c.command("NOOP"), Catch::StartsWith("250"));   // the session goes on
    CHECK_THAT(c.command("QUIT"), Catch::StartsWith("221"));
    CHECK(c.closed());
}

TEST_CASE("PIPELINING: a group of commands gets its replies in order")
{
    test_server server;
    raw_client c(server.port);
    c.reply();
    c.command("EHLO client.example");
    c.send("MAIL FROM:<noreply@google.com>\r\nRCPT TO:<nobody@example.net>\r\nRCPT TO:<tlsrpt@example.com>\r\nDATA\r\n");
    CHECK_THAT(c.reply(), Catch::StartsWith("250 2.1.0"));
    CHECK_THAT(c.reply(), Catch::StartsWith("550 5.7.1"));
    CHECK_THAT(c.reply(), Catch::StartsWith("250 2.1.5"));
    CHECK_THAT(c.reply(), Catch::StartsWith("354"));
    c.send(data_phase(report_mail(google_report("pipe-1"))) + "QUIT\r\n");
    CHECK_THAT(c.reply(), Catch::StartsWith("250 2.0.0"));
    CHECK_THAT(c.reply(), Catch::StartsWith("221"));
    CHECK(server.count("SELECT count(*) FROM reports WHERE report_id = 'pipe-1'") == 1);
}

TEST_CASE("oversize mail is refused at MAIL (SIZE) and after DATA")
{
    test_server server;
    raw_client c(server.port);
    c.reply();
    const auto ehlo = c.command("EHLO client.example");
    CHECK_THAT(ehlo, Catch::Contains("250-SIZE 65536"));
    CHECK_THAT(c.command("MAIL FROM:<a@example.net> SIZE=65537"), Catch::StartsWith("552 5.3.4"));
    CHECK_THAT(c.command("MAIL FROM:<a@example.net> SIZE=1000"), Catch::StartsWith("250"));
    CHECK_THAT(c.command("RCPT TO:<tlsrpt@example.com>"), Catch::StartsWith("250"));
    CHECK_THAT(c.command("DATA"), Catch::StartsWith("354"));
    // Declared small, sent large: counted as it comes, refused after the final dot.
    std::string big = "Subject: big\r\n\r\n";
    while (big.size() < 200 * 1024) big += std::string(998, 'x') + "\r\n";
    c.send(data_phase(big));
    CHECK_THAT(c.reply(), Catch::StartsWith("552 5.3.4"));
    CHECK_THAT(c.command("NOOP"), Catch::StartsWith("250"));   // the rest was read and dropped

    // swaks sees the refusal too.
    const temp_file mail(big);
    const auto r = swaks(server.port, mail.path(), report_address);
    CHECK(r.exit_code != 0);
    CHECK_THAT(r.out, Catch::Contains("552 5.3.4"));
}

TEST_CASE("STARTTLS: commands pipelined before the handshake are discarded (CVE-2011-0411)")
{
    test_server server;
    raw_client c(server.port);
    c.reply();
    CHECK_THAT(c.command("EHLO client.example"), Catch::Contains("250 STARTTLS"));
    // The injection: the plaintext RSET rides in the same segment as STARTTLS.
    c.send("STARTTLS\r\nRSET\r\n");
    CHECK_THAT(c.reply(), Catch::StartsWith("220 2.0.0"));
    c.start_tls();
    // Had RSET been kept, its 250 would come first; HELP's 214 must be the first answer.
    CHECK_THAT(c.command("HELP"), Catch::StartsWith("214"));
    // The session starts over under TLS: EHLO again, and no STARTTLS offered.
    CHECK_THAT(c.command("MAIL FROM:<a@example.net>"), Catch::StartsWith("503 5.5.1"));
    const auto ehlo = c.command("EHLO client.example");
    CHECK_THAT(ehlo, Catch::StartsWith("250-mx.test.example"));
    CHECK_THAT(ehlo, !Catch::Contains("STARTTLS"));
    CHECK_THAT(c.command("STARTTLS"), Catch::StartsWith("503"));
    // A report delivered under TLS.
    CHECK_THAT(c.command("MAIL FROM:<noreply@google.com>"), Catch::StartsWith("250"));
    CHECK_THAT(c.command("RCPT TO:<tlsrpt@example.com>"), Catch::StartsWith("250"));
    CHECK_THAT(c.command("DATA"), Catch::StartsWith("354"));
    c.send(data_phase(report_mail(google_report("starttls-1"))));
    CHECK_THAT(c.reply(), Catch::StartsWith("250 2.0.0"));
    CHECK(server.count("SELECT count(*) FROM reports WHERE report_id = 'starttls-1'") == 1);
}

TEST_CASE("without a certificate STARTTLS is neither offered nor accepted")
{
    auto o = server_options();
    o.cert_file.clear();
    o.key_file.clear();
    test_server server(o);
    raw_client c(server.port);
    c.reply();
    CHECK_THAT(c.command("EHLO client.example"), !Catch::Contains("STARTTLS"));
    CHECK_THAT(c.command("STARTTLS"), Catch::StartsWith("502 5.5.1"));
}

TEST_CASE("a slow client is cut off at the idle timeout, a long one at the session limit")
{
    auto o = server_options();
    o.idle_timeout = 1;
    o.session_timeout = 3;
    test_server server(o);
    {
        raw_client c(server.port);
        c.reply();
        const auto began = steady::now();
        CHECK_THAT(c.reply(), Catch::StartsWith("421 4.4.2"));   // said nothing for a second
        CHECK(steady::now() - began < std::chrono::seconds(4));
        CHECK(c.closed());
    }
    {
        // Busy but endless: a NOOP every half second outlives the session limit.
        raw_client c(server.port);
        c.reply();
        const auto began = steady::now();
        std::string last;
        while (steady::now() - began < std::chrono::seconds(8)) {
            last = c.command("NOOP");
            if (last.rfind("421", 0) == 0 || last.empty()) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
        }
        CHECK_THAT(last, Catch::StartsWith("421 4.4.2"));
        CHECK(steady::now() - began < std::chrono::seconds(6));
    }
    {
        // Stalled in the middle of DATA: nothing is stored.
        raw_client c(server.port);
        c.begin_data();
        c.send("Subject: half\r\n\r\n");
        CHECK_THAT(c.reply(), Catch::StartsWith("421 4.4.2"));
    }
    CHECK(server.count("SELECT count(*) FROM reports") == 0);
}

TEST_CASE("a message without a report gets 554, reports for other domains 550")
{
    test_server server;
    const temp_file none(plain_mail());
    auto r = swaks(server.port, none.path(), report_address);
    CHECK(r.exit_code != 0);
    CHECK_THAT(r.out, Catch::Contains("554 5.6.0"));

    const temp_file foreign(report_mail(google_report("foreign-1", "elsewhere.example"), "elsewhere.example"));
    r = swaks(server.port, foreign.path(), report_address);
    CHECK(r.exit_code != 0);
    CHECK_THAT(r.out, Catch::Contains("550 5.7.1"));
    CHECK_THAT(r.out, Catch::Contains("elsewhere.example"));

    const temp_file broken(report_mail(R"({"organization-name":"x","report-id":"r"})"));
    r = swaks(server.port, broken.path(), report_address);
    CHECK(r.exit_code != 0);
    CHECK_THAT(r.out, Catch::Contains("554 5.6.0"));

    // The parser's reason names its RFC section: in ASCII words, not a byte turned to a space.
    const temp_file not_tlsrpt(report_mail(R"({"feedback":{"org_name":"x"}})"));
    r = swaks(server.port, not_tlsrpt.path(), report_address);
    CHECK(r.exit_code != 0);
    CHECK_THAT(r.out, Catch::Contains("554 5.6.0"));
    CHECK_THAT(r.out, Catch::Contains("RFC 8460 section 4.4 keys"));
    CHECK(server.count("SELECT count(*) FROM reports") == 0);
}

TEST_CASE("the database stopped mid-session: 451, and the retried message is stored")
{
    migrated_cluster cluster;
    auto o = server_options();
    test_server server(o, cluster.url());
    const auto message = report_mail(google_report("db-down-1"));

    raw_client c(server.port);
    c.reply();
    c.command("EHLO client.example");
    CHECK_THAT(c.command("MAIL FROM:<noreply@google.com>"), Catch::StartsWith("250"));
    CHECK_THAT(c.command("RCPT TO:<tlsrpt@example.com>"), Catch::StartsWith("250"));
    cluster.stop();
    CHECK_THAT(c.command("DATA"), Catch::StartsWith("354"));
    c.send(data_phase(message));
    CHECK_THAT(c.reply(), Catch::StartsWith("451 4.3.0"));
    // The session survives; the sender retries later (RFC 5321 §4.5.4.1).
    CHECK_THAT(c.command("RSET"), Catch::StartsWith("250"));

    cluster.start();
    const temp_file mail(message);
    test::run_result r;
    for (int attempt = 0; attempt < 20; ++attempt) {   // the store reconnects on its next try
        r = swaks(server.port, mail.path(), report_address);
        if (r.exit_code == 0) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    INFO(r.out);
    CHECK(r.exit_code == 0);
    CHECK(server.count("SELECT count(*) FROM reports WHERE report_id = 'db-down-1'") == 1);
}

TEST_CASE("with the database unreachable and a spool, the message is accepted and spooled")
{
    const test::temp_dir dir("stswatch-smtp-spool");
    spool waiting(dir.path, 0);
    auto o = server_options();
    o.spool = &waiting;
    test_server server(o, "host=127.0.0.1 port=1 user=postgres dbname=none connect_timeout=2");
    const temp_file mail(report_mail(google_report("spooled-1")));
    const auto r = swaks(server.port, mail.path(), report_address);
    INFO(r.out);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("1 spooled"));
    CHECK(waiting.count() == 1);

    // Without a spool: 451, try later.
    auto no_spool = server_options();
    test_server down(no_spool, "host=127.0.0.1 port=1 user=postgres dbname=none connect_timeout=2");
    const auto r2 = swaks(down.port, mail.path(), report_address);
    CHECK(r2.exit_code != 0);
    CHECK_THAT(r2.out, Catch::Contains("451 4.3.0"));
}

TEST_CASE("a report arriving by HTTPS and by SMTP is stored once with both transports")
{
    test_server server;
    https_receiver_options ho;
    ho.listen = {"127.0.0.1", 0};
    ho.cert_file = test::tls_file("server.pem");
    ho.key_file = test::tls_file("server.key");
    ho.accept_domains = {"example.com"};
    https_receiver https(ho, *server.store);
    https.start();

    const auto report = google_report("both-1");
    {
        Poco::Net::Context::Params params;
        params.caLocation = test::tls_file("ca.pem");
        params.verificationMode = Poco::Net::Context::VERIFY_RELAXED;
        params.loadDefaultCAs = false;
        Poco::Net::Context::Ptr context = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
        Poco::Net::SecureStreamSocket socket(context);
        socket.setPeerHostName("localhost");
        Poco::Net::HTTPSClientSession session(socket);
        session.setHost("127.0.0.1");
        session.setPort(https.port());
        const auto body = gzip_compress(report);
        Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, "/v1/tlsrpt", Poco::Net::HTTPMessage::HTTP_1_1);
        request.setContentType("application/tlsrpt+gzip");
        request.setContentLength(static_cast<std::streamsize>(body.size()));
        session.sendRequest(request) << body;
        Poco::Net::HTTPResponse response;
        session.receiveResponse(response);
        REQUIRE(response.getStatus() == 201);
    }
    const temp_file mail(report_mail(report));
    const auto r = swaks(server.port, mail.path(), report_address);
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("1 duplicate"));
    CHECK(server.count("SELECT count(*) FROM reports") == 1);
    CHECK(server.text("SELECT string_agg(transport, ',' ORDER BY received_at, transport) FROM report_receipts")
          == "https,smtp");
}

TEST_CASE("concurrent sessions each store their report once")
{
    test_server server;
    std::vector<std::thread> clients;
    std::atomic<int> accepted{0};
    for (int i = 0; i < 8; ++i) {
        clients.emplace_back([&, i] {
            try {
                Poco::Net::SMTPClientSession session("127.0.0.1", server.port);
                session.login("mail.google.com");
                session.sendAddresses("noreply@google.com", {report_address});
                session.sendData();
                std::istringstream in(report_mail(google_report("conc-" + std::to_string(i))));
                session.sendMessage(in);
                session.close();
                ++accepted;
            } catch (const Poco::Exception&) {
            }
        });
    }
    for (auto& t : clients) t.join();
    CHECK(accepted == 8);
    CHECK(server.count("SELECT count(*) FROM reports WHERE report_id LIKE 'conc-%'") == 8);
}

TEST_CASE("sessions beyond collector.smtp.max_sessions wait for a free one")
{
    auto o = server_options();
    o.max_sessions = 1;
    test_server server(o);
    raw_client first(server.port);
    CHECK_THAT(first.reply(), Catch::StartsWith("220"));
    raw_client second(server.port);
    // Connected, but not served: no greeting while the first session lasts.
    CHECK_FALSE(second.answers_within(std::chrono::milliseconds(800)));
    CHECK_THAT(first.command("QUIT"), Catch::StartsWith("221"));
    CHECK(second.answers_within(std::chrono::milliseconds(3000)));
    CHECK_THAT(second.reply(), Catch::StartsWith("220"));
    CHECK_THAT(second.command("QUIT"), Catch::StartsWith("221"));
}

TEST_CASE("the end of DATA is <CRLF>.<CRLF> only: a bare-LF dot smuggles nothing")
{
    test_server server;
    raw_client c(server.port);
    c.begin_data();
    // Had "\n.\n" ended the message, HELP would run as a command and answer 214.
    c.send("Subject: smuggle\r\n\r\nfirst\n.\nHELP\r\nstill the body\r\n.\r\nNOOP\r\n");
    CHECK_THAT(c.reply(), Catch::StartsWith("554 5.6.0"));   // one message, and no report in it
    CHECK_THAT(c.reply(), Catch::StartsWith("250 2.0.0 OK"));   // NOOP's answer comes next
}

TEST_CASE("a client sending nothing but errors is disconnected")
{
    test_server server;
    raw_client c(server.port);
    c.reply();
    std::string last;
    for (int i = 0; i < 25 && !c.closed_hint(); ++i) last = c.command("GET / HTTP/1.1");
    CHECK_THAT(last, Catch::Contains("421 4.7.0"));
    CHECK(c.closed());
}

TEST_CASE("stop() ends idle sessions with 421 and the receiver can be stopped twice")
{
    test_server server;
    raw_client c(server.port);
    CHECK_THAT(c.reply(), Catch::StartsWith("220"));
    const auto began = steady::now();
    server.receiver->stop();
    CHECK(steady::now() - began < std::chrono::seconds(3));
    CHECK_THAT(c.reply(), Catch::StartsWith("421 4.3.2"));
    CHECK(c.closed());
    server.receiver->stop();
}

TEST_CASE("smtp_receiver_options::from takes the collector settings")
{
    settings s;
    s.smtp_listen = {"127.0.0.1", 2526};
    s.smtp_hostname = "mx.example.net";
    s.smtp_recipients = {"tlsrpt@example.com"};
    s.smtp_cert = "/c.pem";
    s.smtp_key = "/k.pem";
    s.max_body_bytes = 1234;
    s.max_report_bytes = 5678;
    s.max_json_depth = 9;
    s.accept_domains = {"Example.COM."};
    s.smtp_require_dkim = true;
    s.smtp_max_recipients = 7;
    s.smtp_max_sessions = 11;
    s.smtp_idle_timeout = 13;
    s.smtp_session_timeout = 17;
    s.smtp_max_line_length = 2048;
    const auto o = smtp_receiver_options::from(s);
    CHECK(o.listen.to_string() == "127.0.0.1:2526");
    CHECK(o.hostname == "mx.example.net");
    CHECK(o.recipients == std::vector<std::string>{"tlsrpt@example.com"});
    CHECK(o.cert_file == "/c.pem");
    CHECK(o.key_file == "/k.pem");
    CHECK(o.max_message_bytes == 1234);
    CHECK(o.intake.max_report_bytes == 5678);
    CHECK(o.intake.max_json_depth == 9);
    CHECK(o.intake.accept_domains == std::vector<std::string>{"example.com"});
    CHECK(o.intake.require_dkim);
    CHECK_FALSE(o.intake.dkim_lookup);
    CHECK(o.max_recipients == 7);
    CHECK(o.max_sessions == 11);
    CHECK(o.idle_timeout == 13);
    CHECK(o.session_timeout == 17);
    CHECK(o.max_line_length == 2048);
    CHECK(o.spool == nullptr);
}

namespace {

double rss_mb()
{
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmRSS:", 0) == 0)
            return std::stod(line.substr(6)) / 1024.0;
    return 0;
}

} // namespace

TEST_CASE("a 10 MiB report mail is stored and its memory given back")
{
    auto options = server_options();
    options.max_message_bytes = 12 * 1024 * 1024;
    options.intake.max_report_bytes = 20 * 1024 * 1024;
    test_server server(options);
    {
        // Warm up: the first message makes the pools and caches that stay.
        raw_client c(server.port);
        c.begin_data();
        c.send(report_mail(google_report("warm-up")) + ".\r\n");
        CHECK_THAT(c.reply(), Catch::StartsWith("250"));
    }
    {
        // A report of 60,000 failure details (about 8 MB of JSON), attached uncompressed:
        // its parse took about 70 MB, which the allocator kept for good.
        std::string details;
        for (int i = 0; i < 60000; ++i) {
            details += i ? "," : "";
            details += R"({"result-type":"certificate-expired","sending-mta-ip":"209.85.)" + std::to_string(i / 250 % 250) +
                       "." + std::to_string(i % 250) +
                       R"(","receiving-mx-hostname":"mx1.example.com","failed-session-count":1})";
        }
        std::string json =
            R"({"organization-name":"Google Inc.","date-range":{"start-datetime":"2025-07-08T00:00:00Z",)"
            R"("end-datetime":"2025-07-08T23:59:59Z"},"contact-info":"smtp-tls-reporting@google.com",)"
            R"("report-id":"large-1","policies":[{"policy":{"policy-type":"sts","policy-domain":"example.com"},)"
            R"("summary":{"total-successful-session-count":5,"total-failure-session-count":60000},)"
            R"("failure-details":[)" + details + "]}]}";
        std::string mail = "From: Google <noreply-smtp-tls-reporting@google.com>\r\nTo: " + report_address +
                           "\r\nSubject: Report Domain: example.com\r\nTLS-Report-Domain: example.com\r\n"
                           "Message-ID: <large-1@google.com>\r\nMIME-Version: 1.0\r\n"
                           "Content-Type: multipart/report; boundary=\"b1\"; report-type=tlsrpt\r\n\r\n"
                           "--b1\r\nContent-Type: text/plain\r\n\r\nreport\r\n"
                           "--b1\r\nContent-Type: application/tlsrpt+json\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
                           base64_76(json) + "\r\n--b1--\r\n";
        REQUIRE(mail.size() > 10 * 1024 * 1024);
        mail += ".\r\n";
        json.clear();
        json.shrink_to_fit();
        details.clear();
        details.shrink_to_fit();
        // Measured with the client's copy alive on both sides: what is left is the server's.
        const double before = rss_mb();
        raw_client c(server.port);
        c.begin_data();
        c.send(mail);
        CHECK_THAT(c.reply(), Catch::StartsWith("250"));
        const double after = rss_mb();
        INFO("RSS before " << before << " MB, after " << after << " MB");
#if defined(__SANITIZE_ADDRESS__)
        // AddressSanitizer's allocator keeps freed memory in quarantine: no RSS figure here.
        (void)before;
        (void)after;
#else
        CHECK(after - before < 30);
#endif
    }
    CHECK(server.count("SELECT count(*) FROM failure_details f JOIN reports r ON r.id = f.report"
                       " WHERE r.report_id = 'large-1'") == 60000);
}
