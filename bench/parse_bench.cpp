// parse_bench: `stswatch parse` over a corpus of report files (.json and .json.gz named as
// RFC 8460 §5.1 names them), against a floor measured in the same run: raw zlib inflate and
// Poco::JSON parse of the same files in this process. The ratio is what the CLI costs on top
// (process start, validation, canonical output).
//
//   parse_bench --stswatch BIN [--dir DIR] [--mb 100] [--batch 1000] [--seed S] [--summary FILE]
//
// Figures only: the exit status is 0 whenever the run completed (2 usage, 1 could not run).

#include "bench/bench_support.hpp"
#include "bench/poco_error.hpp"
#include "bench/report_gen.hpp"
#include "common/handles.hpp"

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Pipe.h>
#include <Poco/Process.h>

#include <zlib.h>

#include <filesystem>
#include <iostream>
#include <sstream>
#include <thread>

namespace {

using namespace stswatch::bench;
namespace fs = std::filesystem;

struct parse_bench_options {
    std::string stswatch;
    std::string dir;
    std::uint64_t megabytes = 100;   // corpus size on disk
    std::size_t batch = 1000;        // files per `stswatch parse` invocation
    std::uint64_t seed = 3;
    std::string summary_file;
};

parse_bench_options read_options(int argc, char** argv)
{
    const option_reader args(argc, argv, {"--stswatch", "--dir", "--mb", "--batch", "--seed", "--summary"});
    parse_bench_options o;
    o.stswatch = args.required("--stswatch");
    o.dir = args.text("--dir", "");
    o.megabytes = args.number("--mb", o.megabytes, 1);
    o.batch = args.number("--batch", o.batch, 1);
    o.seed = args.number("--seed", o.seed);
    o.summary_file = args.text("--summary", "");
    return o;
}

struct corpus {
    std::vector<std::string> paths;
    double disk_bytes = 0;
    double json_bytes = 0;
    std::size_t gzip_files = 0;
};

// Half the files gzipped, as senders' mail attachments are (.json.gz), half plain.
corpus write_corpus(const fs::path& dir, std::uint64_t megabytes, std::uint64_t seed)
{
    fs::create_directories(dir);
    generator_options options;
    options.seed = seed;
    options.policy_domains = 5000;
    report_generator generator(options);
    corpus c;
    const double limit = static_cast<double>(megabytes) * 1024 * 1024;
    for (std::size_t i = 0; c.disk_bytes < limit; ++i) {
        const generated_report report = generator.next();
        const bool gzip = i % 2 == 1;
        const std::string bytes = gzip ? gzip_report(report) : report.json;
        const fs::path path = dir / (report.file_name + (gzip ? ".gz" : ""));
        std::ofstream out(path, std::ios::binary);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        if (!out.flush()) throw std::runtime_error(path.string() + ": could not write");
        c.paths.push_back(path.string());
        c.disk_bytes += static_cast<double>(bytes.size());
        c.json_bytes += static_cast<double>(report.json.size());
        c.gzip_files += gzip ? 1 : 0;
    }
    return c;
}

std::string read_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(path + ": cannot open");
    std::ostringstream content;
    content << in.rdbuf();
    return std::move(content).str();
}

// One z_stream reused for every file (reset), as a tight in-process reader would; the
// default window bits of zlib_stream take the gzip wrapper (RFC 1952).
class gzip_inflater {
public:
    // Inflates one gzip member into out (reusing its capacity).
    void inflate_member(std::string_view in, std::string& out, const std::string& path)
    {
        stream_.reset();
        // RFC 1952 §2.3.1: ISIZE, the last four bytes, is the inflated size mod 2^32.
        std::size_t hint = in.size() * 4;
        if (in.size() >= 18) {
            const auto* t = reinterpret_cast<const unsigned char*>(in.data() + in.size() - 4);
            hint = static_cast<std::size_t>(t[0]) | static_cast<std::size_t>(t[1]) << 8 |
                   static_cast<std::size_t>(t[2]) << 16 | static_cast<std::size_t>(t[3]) << 24;
        }
        out.resize(hint + 1);
        z_stream& z = stream_.get();
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
        z.avail_in = static_cast<uInt>(in.size());
        std::size_t produced = 0;
        for (;;) {
            z.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
            z.avail_out = static_cast<uInt>(out.size() - produced);
            const int rc = ::inflate(&z, Z_NO_FLUSH);
            produced = out.size() - z.avail_out;
            if (rc == Z_STREAM_END) break;
            if (rc == Z_BUF_ERROR && z.avail_in == 0) throw std::runtime_error(path + ": truncated gzip");
            if (rc != Z_OK && rc != Z_BUF_ERROR) throw std::runtime_error(path + ": corrupt gzip");
            if (z.avail_out == 0) out.resize(out.size() * 2);
        }
        out.resize(produced);
    }

private:
    stswatch::zlib_stream stream_{stswatch::zlib_stream::mode::inflate};
};

// The corpus is removed however the run ends.
class corpus_directory {
public:
    explicit corpus_directory(fs::path dir) : dir_(std::move(dir)) {}
    ~corpus_directory()
    {
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
    }
    corpus_directory(const corpus_directory&) = delete;
    corpus_directory& operator=(const corpus_directory&) = delete;

private:
    fs::path dir_;
};

struct floor_result {
    double seconds = 0;
    std::size_t parsed = 0;
};

floor_result in_process_floor(const corpus& c)
{
    floor_result r;
    gzip_inflater inflater;
    Poco::JSON::Parser parser;
    std::string json;
    const auto begin = bench_clock::now();
    for (const auto& path : c.paths) {
        const std::string bytes = read_file(path);
        const bool gzip = bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
                          static_cast<unsigned char>(bytes[1]) == 0x8b;
        if (gzip) inflater.inflate_member(bytes, json, path);
        parser.reset();
        const Poco::Dynamic::Var document = parser.parse(gzip ? json : bytes);
        if (!document.isEmpty()) ++r.parsed;
    }
    r.seconds = seconds_between(begin, bench_clock::now());
    return r;
}

struct cli_result {
    double seconds = 0;
    std::size_t invocations = 0;
    std::size_t output_lines = 0;     // one per report parsed
    double output_bytes = 0;
    std::size_t error_lines = 0;      // one per file rejected
    std::vector<std::string> first_errors;
    std::map<int, std::size_t> exit_codes;
};

cli_result run_cli(const std::string& stswatch, const corpus& c, std::size_t batch)
{
    cli_result r;
    const auto begin = bench_clock::now();
    for (std::size_t first = 0; first < c.paths.size(); first += batch) {
        Poco::Process::Args args{"parse"};
        const std::size_t last = std::min(c.paths.size(), first + batch);
        args.insert(args.end(), c.paths.begin() + static_cast<std::ptrdiff_t>(first),
                    c.paths.begin() + static_cast<std::ptrdiff_t>(last));
        Poco::Pipe out_pipe, err_pipe;
        Poco::ProcessHandle process = Poco::Process::launch(stswatch, args, nullptr, &out_pipe, &err_pipe);
        ++r.invocations;
        // stderr is drained on its own thread: a full pipe would stall the child.
        std::string err_text;
        std::thread err_reader([&] {
            char buf[4096];
            int n;
            while ((n = err_pipe.readBytes(buf, sizeof buf)) > 0) err_text.append(buf, static_cast<std::size_t>(n));
        });
        std::vector<char> buf(1 << 16);
        int n;
        while ((n = out_pipe.readBytes(buf.data(), static_cast<int>(buf.size()))) > 0) {
            r.output_bytes += n;
            r.output_lines += static_cast<std::size_t>(std::count(buf.begin(), buf.begin() + n, '\n'));
        }
        err_reader.join();
        ++r.exit_codes[process.wait()];
        std::istringstream lines(err_text);
        for (std::string l; std::getline(lines, l);) {
            ++r.error_lines;
            if (r.first_errors.size() < 5) r.first_errors.push_back(l);
        }
    }
    r.seconds = seconds_between(begin, bench_clock::now());
    return r;
}

int run(const parse_bench_options& o)
{
    if (!fs::exists(o.stswatch)) throw std::runtime_error(o.stswatch + ": no such program (build the stswatch target)");
    fs::path dir = o.dir;
    if (dir.empty()) dir = fs::temp_directory_path() / ("stswatch-parse-bench-" + std::to_string(::getpid()));
    if (fs::exists(dir) && !fs::is_empty(dir)) throw usage_error("--dir: " + dir.string() + " is not empty");
    const corpus_directory cleanup(dir);

    std::cout << "parse: `stswatch parse` over ~" << o.megabytes << " MB of report files, " << o.batch
              << " files per invocation\n";
    const auto gen_begin = bench_clock::now();
    const corpus c = write_corpus(dir, o.megabytes, o.seed);
    const double files = static_cast<double>(c.paths.size());
    line("corpus", grouped(files) + " files (" + grouped(static_cast<double>(c.gzip_files)) + " .json.gz), " +
                       megabytes(c.disk_bytes) + " on disk, " + megabytes(c.json_bytes) + " of JSON, written in " +
                       fixed(seconds_between(gen_begin, bench_clock::now()), 1) + " s");
    std::cout << std::flush;   // progress, when stdout is a file or a pipe

    const floor_result floor = in_process_floor(c);
    const double floor_rate = files / floor.seconds;
    std::cout << "  floor: read + zlib inflate + Poco::JSON parse, in process, one thread\n";
    line("time", fixed(floor.seconds, 2) + " s, " + grouped(static_cast<double>(floor.parsed)) + " documents");
    line("reports/s", grouped(floor_rate));
    line("MB/s on disk / of JSON", fixed(c.disk_bytes / floor.seconds / 1048576, 1) + " / " +
                                        fixed(c.json_bytes / floor.seconds / 1048576, 1));
    std::cout << std::flush;

    const cli_result cli = run_cli(o.stswatch, c, o.batch);
    const double cli_rate = static_cast<double>(cli.output_lines) / cli.seconds;
    std::cout << "  stswatch parse (validation, canonical JSON on stdout)\n";
    line("time", fixed(cli.seconds, 2) + " s in " + std::to_string(cli.invocations) + " invocations");
    line("reports/s", grouped(cli_rate));
    line("MB/s on disk / of JSON", fixed(c.disk_bytes / cli.seconds / 1048576, 1) + " / " +
                                        fixed(c.json_bytes / cli.seconds / 1048576, 1));
    line("reports out / files", grouped(static_cast<double>(cli.output_lines)) + " / " + grouped(files) + " (" +
                                    megabytes(cli.output_bytes) + " of output)");
    std::string codes;
    for (const auto& [code, count] : cli.exit_codes)
        codes += (codes.empty() ? "" : ", ") + std::to_string(code) + ": " + std::to_string(count);
    line("exit codes", codes);
    if (cli.error_lines > 0) {
        line("lines on stderr", grouped(static_cast<double>(cli.error_lines)));
        for (const auto& e : cli.first_errors) line("", e);
    }
    const double ratio = cli_rate / floor_rate;
    std::cout << "  stswatch parse reports/s vs in-process floor: " << fixed(ratio, 3) << " (" << fixed(ratio * 100, 1)
              << " % of the floor)\n";

    if (!o.summary_file.empty()) {
        std::ofstream summary(o.summary_file, std::ios::app);
        summary << "parse\t" << c.paths.size() << '\t' << fixed(c.disk_bytes / 1048576, 1) << '\t'
                << fixed(cli_rate, 0) << '\t' << fixed(c.disk_bytes / cli.seconds / 1048576, 1) << '\t'
                << fixed(floor_rate, 0) << '\t' << fixed(c.disk_bytes / floor.seconds / 1048576, 1) << '\t'
                << fixed(ratio, 3) << '\t' << cli.output_lines << '\t' << cli.error_lines << '\n';
    }
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    return bench_main(
        "parse_bench",
        "usage: parse_bench --stswatch BIN [--dir DIR] [--mb 100] [--batch 1000] [--seed S] [--summary FILE]\n",
        [&] { return run(read_options(argc, argv)); }, poco_aware_text);
}
