// import: how fast `stswatch import` stores a maildir of report mail (RFC 8460 §5.3), in
// how much memory; and, in the same run, the floor: the same reports' rows COPYed straight
// into scratch tables shaped like the real ones (bench/copy_floor.hpp).
//
//   import --stswatch BIN --db CONNINFO --dir DIR [--messages N] [--jobs J] [--seed S]
//          [--floor-connections C] [--rerun] [--summary FILE]
//
// DIR/Maildir is written first (new/ and cur/, one message per report, the report gzipped
// and base64-wrapped at 76 columns as senders send it), then `stswatch import` runs on it as
// a child process: wall time, and peak RSS from wait4's rusage and /proc sampling. With
// --rerun it runs a second time over the same maildir (every report a duplicate).
//
// Prints figures, never a verdict: the exit status is 0 whenever the run completed, whatever
// the figures (2 for a usage error, 1 when the run itself could not be made).

#include "bench/bench_support.hpp"
#include "bench/copy_floor.hpp"
#include "bench/report_gen.hpp"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <regex>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

extern char** environ;

namespace {

using namespace stswatch;
using namespace stswatch::bench;
namespace fs = std::filesystem;

// Targets for the import of a 100,000-message maildir on this class of machine.
constexpr double target_messages_per_second = 8000;
constexpr double target_rss_mb = 200;

struct import_bench_options {
    std::string stswatch, db_url, dir, summary_file;
    std::size_t messages = 100000;
    unsigned jobs = 0;                 // 0: stswatch's default
    unsigned floor_connections = 2;    // the collector's default store writers
    std::uint64_t seed = 11;
    bool rerun = false;
};

import_bench_options read_options(int argc, char** argv)
{
    option_reader args(argc, argv, {"--stswatch", "--db", "--dir", "--messages", "--jobs", "--seed",
                                    "--floor-connections", "--summary"},
                       {"--rerun"});
    import_bench_options o;
    o.stswatch = args.required("--stswatch");
    o.db_url = args.required("--db");
    o.dir = args.required("--dir");
    o.messages = static_cast<std::size_t>(args.number("--messages", o.messages, 1));
    o.jobs = static_cast<unsigned>(args.number("--jobs", 0));
    o.seed = args.number("--seed", o.seed);
    o.floor_connections = static_cast<unsigned>(args.number("--floor-connections", o.floor_connections, 1));
    o.summary_file = args.text("--summary", "");
    o.rerun = args.has("--rerun");
    return o;
}

std::string base64_wrapped(std::string_view data)
{
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t column = 0;
    auto put = [&](char c) {
        out += c;
        // RFC 2045 §6.8: lines of at most 76 characters.
        if (++column == 76) {
            out += '\n';
            column = 0;
        }
    };
    for (std::size_t i = 0; i < data.size(); i += 3) {
        const auto b0 = static_cast<unsigned char>(data[i]);
        const auto b1 = i + 1 < data.size() ? static_cast<unsigned char>(data[i + 1]) : 0u;
        const auto b2 = i + 2 < data.size() ? static_cast<unsigned char>(data[i + 2]) : 0u;
        put(alphabet[b0 >> 2]);
        put(alphabet[((b0 & 3) << 4) | (b1 >> 4)]);
        put(i + 1 < data.size() ? alphabet[((b1 & 15) << 2) | (b2 >> 6)] : '=');
        put(i + 2 < data.size() ? alphabet[b2 & 63] : '=');
    }
    if (column)
        out += '\n';
    return out;
}

// RFC 8460 §5.3: multipart/report; report-type=tlsrpt with the report as a gzip attachment.
std::string report_message(const generated_report& r, const std::string& gzip, std::size_t n)
{
    const std::string domain = r.report.policies.empty() ? "example.com" : r.report.policies.front().policy_domain;
    const std::string boundary = "=_tlsrpt_" + std::to_string(n);
    std::string m;
    m.reserve(gzip.size() * 4 / 3 + 1200);
    m += "Return-Path: <tlsrpt@sender.example>\n";
    m += "From: TLS Reports <tlsrpt@sender.example>\n";
    m += "To: tlsrpt@" + domain + "\n";
    m += "Subject: Report Domain: " + domain + " Submitter: sender.example Report-ID: <" + std::to_string(n) +
         "@sender.example>\n";
    m += "Message-ID: <bench-" + std::to_string(n) + "@sender.example>\n";
    m += "Date: Thu, 26 Nov 2026 14:31:07 +0000\n";
    m += "TLS-Report-Domain: " + domain + "\n";
    m += "TLS-Report-Submitter: sender.example\n";
    m += "MIME-Version: 1.0\n";
    m += "Content-Type: multipart/report; boundary=\"" + boundary + "\";\n report-type=tlsrpt\n\n";
    m += "--" + boundary + "\nContent-Type: text/plain; charset=us-ascii\n\n";
    m += "This is an aggregate TLS report from sender.example.\n\n";
    m += "--" + boundary + "\nContent-Type: application/tlsrpt+gzip;\n name=\"" + r.file_name + ".gz\"\n";
    m += "Content-Disposition: attachment;\n filename=\"" + r.file_name + ".gz\"\n";
    m += "Content-Transfer-Encoding: base64\n\n";
    m += base64_wrapped(gzip);
    m += "--" + boundary + "--\n";
    return m;
}

struct maildir_figures {
    double seconds = 0;
    double bytes = 0;
};

// Reports are generated in the order the floor regenerates them (the generator is
// deterministic for a seed).
maildir_figures write_maildir(const import_bench_options& o, const fs::path& maildir)
{
    const auto begin = bench_clock::now();
    fs::remove_all(maildir);
    for (const char* sub : {"cur", "new", "tmp"})
        fs::create_directories(maildir / sub);
    report_generator generator(run_generator_options(o.messages, o.seed));
    double bytes = 0;
    for (std::size_t i = 0; i < o.messages; ++i) {
        const generated_report r = generator.next();
        const std::string message = report_message(r, gzip_report(r), i);
        // Maildir: unique names; about half the mail has been seen (cur/, with flags).
        const bool seen = i % 2 == 1;
        const fs::path file = maildir / (seen ? "cur" : "new") /
                              (std::to_string(1764160000 + i / 1000) + ".M" + std::to_string(i) + "P4242.bench" +
                               (seen ? ":2,S" : ""));
        std::ofstream out(file, std::ios::binary);
        out.write(message.data(), static_cast<std::streamsize>(message.size()));
        if (!out)
            throw std::runtime_error("cannot write " + file.string());
        bytes += static_cast<double>(message.size());
    }
    return {seconds_between(begin, bench_clock::now()), bytes};
}

struct import_figures {
    int exit_code = -1;
    double seconds = 0;
    std::uint64_t peak_kb = 0;     // sampled VmRSS
    std::uint64_t maxrss_kb = 0;   // wait4 rusage
    double cpu_seconds = 0;
    std::string summary_line;      // the first line stswatch printed
    std::uint64_t stored = 0, duplicates = 0, rejected = 0;
};

import_figures run_import(const import_bench_options& o, const fs::path& maildir, const fs::path& out_file)
{
    std::vector<std::string> args{o.stswatch, "--db", o.db_url, "import", "--no-progress"};
    if (o.jobs)
        args.insert(args.end(), {"--jobs", std::to_string(o.jobs)});
    args.push_back(maildir.string());
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    import_figures f;
    const auto begin = bench_clock::now();
    pid_t pid = 0;
    const int err = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (err != 0)
        throw std::runtime_error("cannot start " + o.stswatch + ": " + std::strerror(err));

    rss_sampler sampler(pid);
    int status = 0;
    rusage usage{};
    while (wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
    }
    f.seconds = seconds_between(begin, bench_clock::now());
    sampler.stop();
    f.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    f.peak_kb = sampler.peak_kb();
    f.maxrss_kb = static_cast<std::uint64_t>(usage.ru_maxrss);
    auto secs = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
    f.cpu_seconds = secs(usage.ru_utime) + secs(usage.ru_stime);

    std::ifstream in(out_file);
    std::getline(in, f.summary_line);
    // "imported 100,000 files (100,000 messages): 100,000 stored, 0 duplicates, 0 rejected, …"
    auto number = [&](const std::string& word) -> std::uint64_t {
        const std::regex re("([0-9,]+) " + word);
        std::smatch m;
        if (!std::regex_search(f.summary_line, m, re))
            return 0;
        std::string digits = m[1];
        digits.erase(std::remove(digits.begin(), digits.end(), ','), digits.end());
        return std::stoull(digits);
    };
    f.stored = number("stored");
    f.duplicates = number("duplicate");
    f.rejected = number("rejected");
    return f;
}

// The import report's values start at column 28 (bench/README.md quotes it).
void line(const std::string& label, const std::string& value)
{
    line_at(28, label, value);
}

void print_import(const std::string& title, const import_figures& f, std::size_t messages)
{
    const double rate = static_cast<double>(messages) / f.seconds;
    std::cout << "  " << title << "\n";
    line("stswatch said", f.summary_line);
    line("exit code", std::to_string(f.exit_code));
    line("time", fixed(f.seconds, 2) + " s: " + grouped(rate) + " messages/s (target >= " +
                     grouped(target_messages_per_second) + ")");
    line("peak RSS", fixed(static_cast<double>(f.maxrss_kb) / 1024.0, 1) + " MB (wait4), " +
                         fixed(static_cast<double>(f.peak_kb) / 1024.0, 1) + " MB sampled (target < " +
                         fixed(target_rss_mb, 0) + " MB)");
    line("CPU", fixed(f.cpu_seconds, 2) + " s in stswatch (" +
                    fixed(f.cpu_seconds / (f.seconds * std::thread::hardware_concurrency()) * 100, 0) +
                    " % of the cores); PostgreSQL's is not counted");
}

int run(const import_bench_options& o)
{
    const fs::path dir = o.dir;
    const fs::path maildir = dir / "Maildir";
    fs::create_directories(dir);
    std::cout << "import: " << grouped(static_cast<double>(o.messages)) << " report messages in a maildir\n";
    const auto written = write_maildir(o, maildir);
    line("maildir written", fixed(written.seconds, 2) + " s, " + megabytes(written.bytes) + " (" +
                                fixed(written.bytes / static_cast<double>(o.messages) / 1024.0, 2) + " KB a message)");
    std::cout << std::flush;

    const import_figures first = run_import(o, maildir, dir / "import-1.out");
    print_import("first run (every report new)", first, o.messages);
    if (first.stored != o.messages)
        std::cout << "    NOTE: expected " << o.messages << " stored, see " << (dir / "import-1.out").string() << '\n';
    std::optional<import_figures> second;
    if (o.rerun) {
        second = run_import(o, maildir, dir / "import-2.out");
        print_import("second run (every report a duplicate)", *second, o.messages);
    }
    std::cout << std::flush;

    // The floor: the same reports, regenerated (deterministic for the seed), their rows
    // COPYed; the raw bytes are the gzip attachments.
    double floor_rate = NAN;
    try {
        const std::vector<generated_report> reports =
            generate_reports(o.messages, run_generator_options(o.messages, o.seed));
        std::vector<std::string> bodies;
        bodies.reserve(reports.size());
        for (const auto& r : reports)
            bodies.push_back(gzip_report(r));
        const floor_result floor = copy_floor(o.db_url, reports, bodies, o.floor_connections, "import",
                                              (maildir / "cur").string());
        floor_rate = static_cast<double>(reports.size()) / floor.seconds;
        const double import_rate = static_cast<double>(o.messages) / first.seconds;
        std::cout << "  COPY floor (the same reports' rows, pqxx::stream_to, " << floor.connections << " sessions)\n";
        line("rows", grouped(static_cast<double>(floor.rows)) + " (reports, receipts, raw, policies, failure details)");
        line("time", fixed(floor.seconds, 2) + " s: " + grouped(floor_rate) + " reports/s");
        std::cout << "  import messages/s vs COPY floor: " << fixed(import_rate / floor_rate, 3) << " ("
                  << fixed(import_rate / floor_rate * 100, 1) << " % of the floor)\n";
    } catch (const std::exception& e) {
        std::cout << "  COPY floor: failed: " << e.what() << '\n';
    }

    if (!o.summary_file.empty()) {
        std::ofstream out(o.summary_file, std::ios::app);
        const double rate = static_cast<double>(o.messages) / first.seconds;
        out << "import\t" << o.messages << '\t' << fixed(rate, 0) << '\t'
            << fixed(static_cast<double>(first.maxrss_kb) / 1024.0, 1) << '\t' << fixed(floor_rate, 0) << '\t'
            << fixed(rate / floor_rate, 3) << '\t'
            << (second ? fixed(static_cast<double>(o.messages) / second->seconds, 0) : std::string("n/a")) << '\t'
            << first.stored << '\t' << first.duplicates << '\t' << first.rejected << '\n';
    }
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    return bench_main("import",
                      "usage: import --stswatch BIN --db CONNINFO --dir DIR [--messages N] [--jobs J] [--seed S]\n"
                      "              [--floor-connections C] [--rerun] [--summary FILE]\n",
                      [&] { return run(read_options(argc, argv)); });
}
