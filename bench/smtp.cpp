// smtp: how fast the collector's SMTP intake (RFC 8460 §5.3) takes report mail from K
// concurrent sessions, at what latency per message and with what collector memory.
//
//   smtp --host 127.0.0.1 --port PORT --to ADDRESS [--reports N] [--sessions K]
//        [--collector-pid PID] [--seed S] [--label TEXT] [--summary FILE]
//
// Prints figures, never a verdict: the exit status is 0 whenever the run completed, whatever
// the figures (2 for a usage error, 1 when the run itself could not be made).

#include "bench/bench_support.hpp"
#include "bench/poco_error.hpp"
#include "bench/report_gen.hpp"

#include <Poco/Base64Encoder.h>
#include <Poco/Exception.h>
#include <Poco/Net/SMTPClientSession.h>

#include <atomic>
#include <iostream>
#include <latch>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

namespace {

using namespace stswatch;
using namespace stswatch::bench;

constexpr const char* sender_address = "tlsrpt-sender@bench.example";

struct smtp_options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    std::string to;
    std::size_t reports = 20000;
    unsigned sessions = 16;
    long collector_pid = 0;
    std::uint64_t seed = 101;   // the HTTPS runs use 1 and 2: these reports are not duplicates
    std::string label;
    std::string summary_file;   // a tab-separated line is appended for run.sh's table
};

smtp_options read_options(int argc, char** argv)
{
    const option_reader args(argc, argv,
                             {"--host", "--port", "--to", "--reports", "--sessions", "--collector-pid", "--seed",
                              "--label", "--summary"});
    smtp_options o;
    o.host = args.text("--host", o.host);
    const auto port = args.number("--port", 0, 1);
    if (port == 0 || port > 65535) throw usage_error("--port: 1 to 65535 is required");
    o.port = static_cast<std::uint16_t>(port);
    o.to = args.required("--to");
    o.reports = args.number("--reports", o.reports, 1);
    o.sessions = static_cast<unsigned>(args.number("--sessions", o.sessions, 1));
    o.collector_pid = static_cast<long>(args.number("--collector-pid", 0));
    o.seed = args.number("--seed", o.seed);
    o.label = args.text("--label", std::to_string(o.sessions) + " sessions");
    o.summary_file = args.text("--summary", "");
    if (o.sessions > 1024) throw usage_error("--sessions: at most 1024");
    return o;
}

// The DATA payload of one report mail, CRLF line ends, dot-stuffed, without the final ".".
std::string report_mail(const generated_report& r, const std::string& gzip, const std::string& to, std::size_t n)
{
    const std::string domain = r.report.policies.empty() ? "bench.example" : r.report.policies.front().policy_domain;
    // RFC 8460 §5.1: the attachment's file name, ".json.gz" when compressed.
    std::string file_name = r.file_name;
    if (file_name.size() >= 5 && file_name.compare(file_name.size() - 5, 5, ".json") == 0) file_name += ".gz";
    const std::string boundary = "=_stswatch_bench_" + std::to_string(n);

    std::ostringstream encoded;
    {
        Poco::Base64Encoder b64(encoded);
        b64.rdbuf()->setLineLength(76);   // RFC 2045 §6.8: at most 76 characters a line, CRLF between
        b64.write(gzip.data(), static_cast<std::streamsize>(gzip.size()));
        b64.close();
    }

    std::string m;
    m.reserve(encoded.str().size() + 1024);
    auto header = [&m](const std::string& line) { m += line; m += "\r\n"; };
    header("From: <" + std::string(sender_address) + ">");
    header("To: <" + to + ">");
    header("Date: Thu, 26 Nov 2026 00:00:00 +0000");
    header("Message-ID: <bench-" + std::to_string(n) + "@bench.example>");
    // RFC 8460 §5.3: Subject names the policy domain, the submitter and the Report-ID.
    header("Subject: Report Domain: " + domain + " Submitter: " + r.report.organization_name + " Report-ID: <" +
           r.report.report_id + ">");
    // RFC 8460 §5.3: TLS-Report-Domain and TLS-Report-Submitter header fields.
    header("TLS-Report-Domain: " + domain);
    header("TLS-Report-Submitter: " + r.report.organization_name);
    header("MIME-Version: 1.0");
    // RFC 8460 §5.3: multipart/report with report-type "tlsrpt".
    header("Content-Type: multipart/report; report-type=\"tlsrpt\"; boundary=\"" + boundary + "\"");
    header("");
    header("--" + boundary);
    header("Content-Type: text/plain; charset=us-ascii");
    header("Content-Transfer-Encoding: 7bit");
    header("");
    header("This is an aggregate TLS report from " + r.report.organization_name + " for " + domain + ".");
    header("");
    header("--" + boundary);
    // RFC 8460 §5.3: the report itself, gzip-compressed, as application/tlsrpt+gzip.
    header("Content-Type: application/tlsrpt+gzip; name=\"" + file_name + "\"");
    header("Content-Transfer-Encoding: base64");
    header("Content-Disposition: attachment; filename=\"" + file_name + "\"");
    header("");
    m += encoded.str();
    m += "\r\n";
    header("--" + boundary + "--");

    // RFC 5321 §4.5.2: a line that begins with "." gets one more.
    std::string stuffed;
    stuffed.reserve(m.size() + 16);
    for (std::size_t i = 0; i < m.size(); ++i) {
        if (m[i] == '.' && (i == 0 || m[i - 1] == '\n')) stuffed += '.';
        stuffed += m[i];
    }
    return stuffed;
}

struct session_result : sender_tally {
    std::map<std::string, std::size_t> replies;       // "250", or "RCPT 550" when refused before DATA
    std::size_t reconnects = 0;

    void merge(const session_result& other)
    {
        merge_tally(other);
        for (const auto& [code, count] : other.replies) replies[code] += count;
        reconnects += other.reconnects;
    }
};

// The message goes to the socket as prepared (already dot-stuffed, CRLF), and the reply after
// DATA is read as a code instead of an exception: sendMessage() offers neither.
class report_session : public Poco::Net::SMTPClientSession {
public:
    using SMTPClientSession::SMTPClientSession;
    using SMTPClientSession::socket;
    using SMTPClientSession::isPositiveCompletion;
    using SMTPClientSession::isPositiveIntermediate;
};

std::unique_ptr<report_session> open_session(const smtp_options& o)
{
    auto session = std::make_unique<report_session>(o.host, o.port);
    session->setTimeout(Poco::Timespan(120, 0));
    session->login("bench.example");   // EHLO, once per session
    session->socket().setNoDelay(true);
    return session;
}

// One sender: a thread with one SMTP session, reused for every message it sends.
void run_session(const smtp_options& o, const std::vector<std::string>& mails, std::atomic<std::size_t>& next,
                 std::latch& start, session_result& out)
{
    std::unique_ptr<report_session> session;
    // The connection and EHLO are not part of the figures: made before the clock starts.
    try {
        session = open_session(o);
    } catch (const Poco::Exception& e) {
        ++out.connect_errors[e.displayText()];
    }
    start.arrive_and_wait();

    const std::string mail_from = "MAIL FROM:<" + std::string(sender_address) + ">";
    const std::string rcpt_to = "RCPT TO:<" + o.to + ">";
    out.latencies_ms.reserve(mails.size() / o.sessions + 1);
    for (;;) {
        const std::size_t i = next.fetch_add(1);
        if (i >= mails.size()) break;
        try {
            if (!session) {
                ++out.reconnects;
                session = open_session(o);
            }
            std::string reply;
            const auto begin = bench_clock::now();
            int code = session->sendCommand(mail_from, reply);
            std::string refused = report_session::isPositiveCompletion(code) ? "" : "MAIL ";
            if (refused.empty()) {
                code = session->sendCommand(rcpt_to, reply);
                if (!report_session::isPositiveCompletion(code)) refused = "RCPT ";
            }
            if (refused.empty()) {
                code = session->sendCommand("DATA", reply);
                if (!report_session::isPositiveIntermediate(code)) refused = "DATA ";
            }
            if (!refused.empty()) {
                ++out.replies[refused + std::to_string(code)];
                if (code == 421) session.reset();   // RFC 5321 §3.8: the server is closing
                else session->sendCommand("RSET", reply);
                continue;
            }
            const std::string& mail = mails[i];
            session->socket().sendBytes(mail.data(), static_cast<int>(mail.size()));
            session->socket().sendBytes("\r\n.\r\n", 5);
            code = session->socket().receiveStatusMessage(reply);
            out.latencies_ms.push_back(seconds_between(begin, bench_clock::now()) * 1000.0);
            ++out.replies[std::to_string(code)];
            if (code == 421) session.reset();
        } catch (const Poco::Exception& e) {
            ++out.errors[e.displayText()];
            session.reset();
        } catch (const std::exception& e) {
            ++out.errors[e.what()];
            session.reset();
        }
    }
    if (session) {
        try {
            session->close();   // QUIT
        } catch (const Poco::Exception&) {
            // the figures are taken; a failed QUIT changes none of them
        }
    }
}

using smtp_figures = sender_figures<session_result>;   // delivered: 250 after DATA

smtp_figures send_reports(const smtp_options& o, const std::vector<std::string>& mails)
{
    return measure_senders<session_result>(
        o.collector_pid, o.sessions,
        [&](std::atomic<std::size_t>& next, std::latch& start, session_result& out) {
            run_session(o, mails, next, start, out);
        },
        [](const session_result& all) {
            const auto ok = all.replies.find("250");
            return ok == all.replies.end() ? std::size_t{0} : ok->second;
        });
}

void print_smtp(const smtp_figures& f)
{
    std::cout << "  SMTP intake (250 after DATA = the report is stored)\n";
    line("wall time", fixed(f.wall_seconds, 2) + " s");
    line("reports/s (250 after DATA)", grouped(f.reports_per_second));
    line("latency p50 / p95 / p99 / max", latency_text(f.latency) + " ms (MAIL to the reply after DATA)");
    line("reply codes", counts_text(f.all.replies));
    line("messages without a reply", grouped(static_cast<double>(f.unanswered)));
    print_reasons("", f.all.errors, 5);
    if (f.all.reconnects > 0) line("reconnects", grouped(static_cast<double>(f.all.reconnects)));
    print_reasons("sessions that could not connect", f.all.connect_errors);

    print_collector(f.collector, f.wall_seconds);
}

// One tab-separated line for run.sh's summary table.
void append_summary(const smtp_options& o, const smtp_figures& f)
{
    const auto peak_kb = f.collector.rss_samples > 0 ? f.collector.peak_kb : std::nullopt;
    std::ofstream summary(o.summary_file, std::ios::app);
    summary << "smtp\t" << o.label << '\t' << o.sessions << '\t' << o.reports << '\t' << fixed(f.reports_per_second, 0)
            << '\t' << latency_columns(f.latency) << '\t' << mb_column(peak_kb) << '\t' << mb_column(f.collector.hwm_kb)
            << '\t' << counts_text(f.all.replies) << '\t' << f.unanswered << '\n';
    if (!summary) throw std::runtime_error(o.summary_file + ": could not append the summary");
}

int run(const smtp_options& o)
{
    std::cout << "smtp, " << o.label << ": " << grouped(static_cast<double>(o.reports)) << " report mails, "
              << o.sessions << " sessions -> " << o.host << ':' << o.port << ", RCPT TO:<" << o.to << ">\n";

    const auto gen_begin = bench_clock::now();
    const std::vector<generated_report> reports = generate_reports(o.reports, run_generator_options(o.reports, o.seed));
    std::vector<std::string> mails;
    mails.reserve(reports.size());
    double mail_bytes = 0;
    for (std::size_t i = 0; i < reports.size(); ++i) {
        mails.push_back(report_mail(reports[i], gzip_report(reports[i]), o.to, i));
        mail_bytes += static_cast<double>(mails.back().size());
    }
    line("generated", fixed(seconds_between(gen_begin, bench_clock::now()), 2) + " s (seed " + std::to_string(o.seed) +
                          "): " + fixed(mail_bytes / static_cast<double>(mails.size()) / 1024, 2) +
                          " KB per message");
    std::cout << std::flush;   // progress, when stdout is a file or a pipe

    const smtp_figures figures = send_reports(o, mails);
    print_smtp(figures);
    if (!o.summary_file.empty()) append_summary(o, figures);
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    return bench_main(
        "smtp",
        "usage: smtp --host HOST --port PORT --to ADDRESS [--reports N] [--sessions K]\n"
        "            [--collector-pid PID] [--seed S] [--label TEXT] [--summary FILE]\n",
        [&] { return run(read_options(argc, argv)); }, poco_aware_text);
}
