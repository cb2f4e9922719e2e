// stswatch import [--jobs N] [--no-progress] PATH...: stores the reports in files (.json,
// .json.gz), email messages (.eml), mbox files and maildir folders; directories are read
// recursively. Idempotent: a second run finds every report already stored (duplicates).
//
// Exit codes: 0 every report stored or a duplicate; 65 some inputs rejected (the others are
// still stored, the summary names each rejected one and why); 66 a PATH does not exist
// (nothing is imported); 75 the database became unavailable (the import stops; what was
// stored stays stored, and the same command can be run again).
#include "app/cli.hpp"

#include "collector/importer.hpp"
#include "common/worker.hpp"
#include "store/report_store.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <sstream>

#include <sys/ioctl.h>
#include <unistd.h>

namespace stswatch::cli {

namespace {

std::string grouped(std::uint64_t n)
{
    std::string digits = std::to_string(n), out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0)
            out += ',';
        out += digits[i];
    }
    return out;
}

std::string counts_line(const import_counts& c, double seconds)
{
    std::ostringstream line;
    line << grouped(c.files) << (c.files == 1 ? " file" : " files");
    if (c.messages)
        line << " (" << grouped(c.messages) << (c.messages == 1 ? " message)" : " messages)");
    line << ": " << grouped(c.stored) << " stored, " << grouped(c.duplicates)
         << (c.duplicates == 1 ? " duplicate, " : " duplicates, ") << grouped(c.rejected) << " rejected";
    if (c.skipped)
        line << ", " << grouped(c.skipped) << " skipped";
    if (seconds > 0) {
        const auto rate = static_cast<std::uint64_t>(static_cast<double>(c.stored + c.duplicates) / seconds);
        line << ", " << grouped(rate) << " reports/s";
    }
    return line.str();
}

// The progress line on a terminal: rewritten in place at most ten times a second.
class progress_line {
public:
    progress_line(const importer& imp, std::chrono::steady_clock::time_point start)
        : importer_(imp), start_(start), worker_("import-progress", [this](std::stop_token stop) { run(stop); })
    {
    }
    ~progress_line()
    {
        worker_.stop();
        std::fputs("\r\033[K", stderr);
        std::fflush(stderr);
    }
    progress_line(const progress_line&) = delete;
    progress_line& operator=(const progress_line&) = delete;

private:
    void run(std::stop_token stop)
    {
        std::mutex mutex;
        std::condition_variable_any wake;   // woken only by the stop request
        std::unique_lock lock(mutex);
        while (!wake.wait_for(lock, stop, std::chrono::milliseconds(100), [] { return false; }) &&
               !stop.stop_requested()) {
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
            std::string text = "importing: " + counts_line(importer_.counts(), seconds);
            // A line wider than the terminal would wrap, and \r would then rewrite only its
            // last part: cut it to the width.
            winsize ws{};
            if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 && text.size() >= ws.ws_col)
                text.resize(ws.ws_col - 1u);
            std::fprintf(stderr, "\r%s\033[K", text.c_str());
            std::fflush(stderr);
        }
    }

    const importer& importer_;
    std::chrono::steady_clock::time_point start_;
    worker worker_;   // last: starts once the members above exist
};

unsigned jobs_option(std::vector<std::string>& args)
{
    std::string value;
    if (!take_option(args, "--jobs", value))
        return import_options{}.workers;
    unsigned long n = 0;
    std::size_t used = 0;
    try {
        n = std::stoul(value, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != value.size() || n < 1 || n > 1024)
        throw usage_error("import: --jobs takes a number from 1 to 1024, got \"" + value + "\"");
    return static_cast<unsigned>(n);
}

} // namespace

int run_import(context& ctx)
{
    std::vector<std::string> args = ctx.args;
    const unsigned jobs = jobs_option(args);
    const bool no_progress = take_flag(args, "--no-progress");
    reject_unknown_options(args, "import");
    if (!args.empty() && args.front() == "--")
        args.erase(args.begin());
    if (args.empty())
        throw usage_error("import: no PATH given (files, mbox files, maildir folders or directories)");

    // A mistyped path stops the run before anything is stored, rather than after.
    bool missing = false;
    for (const auto& path : args) {
        std::error_code ec;
        if (!std::filesystem::exists(path, ec)) {
            std::cerr << "stswatch: " << path << ": no such file or directory\n";
            missing = true;
        }
    }
    if (missing)
        return no_input;

    const auto& s = ctx.settings;
    const std::string db_url = require_db_url(ctx);
    import_options options = import_options::from(s);
    options.workers = jobs;
    options.mail.dkim_lookup = dkim_lookup_for(ctx);
    prepare_database(db_url);

    store_options so;
    so.db_url = db_url;
    // A bulk load keeps more transactions in flight than a receiver: measured on 2 cores,
    // 4 writers import about 15% faster than 2, and 8 no faster than 4.
    so.writers = std::max(4u, s.store_connections);
    so.batch_max = s.store_batch_max;
    so.batch_wait = std::chrono::milliseconds(s.store_batch_wait_ms);
    so.rejected = {s.rejected_keep, s.rejected_max_bytes};
    report_store store(so);

    const auto start = std::chrono::steady_clock::now();
    import_summary summary;
    std::vector<std::string> unreadable;   // named paths that vanished or cannot be read
    {
        importer imp(options, store);
        std::unique_ptr<progress_line> progress;
        if (!no_progress && ::isatty(STDERR_FILENO))
            progress = std::make_unique<progress_line>(imp, start);
        for (const auto& path : args) {
            if (imp.stopped())
                break;
            try {
                imp.add_path(path);
            } catch (const std::filesystem::filesystem_error& e) {
                unreadable.push_back(path + ": " + e.code().message());
            }
        }
        summary = imp.finish();
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    std::ostringstream out;
    char elapsed[32];
    std::snprintf(elapsed, sizeof elapsed, "%.1f", seconds);
    out << "imported " << counts_line(summary.counts, seconds) << " in " << elapsed << " s\n";
    for (const auto& r : summary.rejections)
        out << "rejected: " << r.source << ": " << r.reason << "\n";
    if (summary.unlisted_rejections)
        out << "rejected: " << grouped(summary.unlisted_rejections) << " more, not listed\n";
    std::cout << out.str() << std::flush;

    if (summary.database_unavailable) {
        std::cerr << "stswatch: database: unavailable, import stopped early: " << summary.unavailable_reason
                  << " (the reports counted above are stored; run the same import again later)\n";
        return temp_failure;
    }
    for (const auto& why : unreadable)
        std::cerr << "stswatch: " << why << "\n";
    if (!unreadable.empty())
        return no_input;
    if (summary.counts.rejected) {
        std::cerr << "stswatch: import: " << grouped(summary.counts.rejected) << " rejected (listed above)\n";
        return data_error;
    }
    return ok;
}

} // namespace stswatch::cli
