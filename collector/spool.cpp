#include "collector/spool.hpp"

#include "tlsrpt/decode.hpp"
#include "tlsrpt/report_parser.hpp"
#include "common/handles.hpp"
#include "common/log.hpp"

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cstdio>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fcntl.h>
#include <fstream>
#include <random>
#include <stdexcept>
#include <unistd.h>

namespace fs = std::filesystem;

namespace stswatch {

namespace {

constexpr std::string_view magic = "stswatch-spool 1";
constexpr std::string_view suffix = ".report";
constexpr std::size_t max_header_bytes = 64 * 1024;

std::string escape_value(std::string_view v)
{
    std::string out;
    for (char c : v) {
        switch (c) {
        case '%': out += "%25"; break;
        case '\n': out += "%0A"; break;
        case '\r': out += "%0D"; break;
        default: out += c;
        }
    }
    return out;
}

std::string unescape_value(std::string_view v)
{
    std::string out;
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '%' && i + 2 < v.size()) {
            auto hex = v.substr(i + 1, 2);
            if (hex == "25") { out += '%'; i += 2; continue; }
            if (hex == "0A") { out += '\n'; i += 2; continue; }
            if (hex == "0D") { out += '\r'; i += 2; continue; }
        }
        out += v[i];
    }
    return out;
}

std::optional<stswatch::transport> transport_from_string(std::string_view s)
{
    for (auto t : {transport::https, transport::smtp, transport::import, transport::pipe})
        if (s == to_string(t))
            return t;
    return std::nullopt;
}

[[noreturn]] void fail(const std::string& what, const std::string& path)
{
    throw std::runtime_error("spool: " + what + " " + path + ": " + std::strerror(errno));
}

void write_all(int fd, std::string_view data, const std::string& path)
{
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fail("cannot write", path);
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

void fsync_dir(const std::string& dir)
{
    unique_fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (d.get() < 0 || ::fsync(d.get()) != 0)
        fail("cannot fsync directory", dir);
}

std::string unique_name()
{
    static std::mutex m;
    static std::mt19937_64 rng{std::random_device{}()};
    std::lock_guard lock(m);
    auto now = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::system_clock::now().time_since_epoch()).count();
    char buf[64];
    std::snprintf(buf, sizeof buf, "%020lld-%016llx", static_cast<long long>(now),
                  static_cast<unsigned long long>(rng()));
    return buf;
}

} // namespace

void set_received_now(spool_entry& e)
{
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::system_clock::now().time_since_epoch()).count();
    e.received_at = us / 1000000;
    e.received_micros = static_cast<std::int32_t>(us % 1000000);
}

std::string spool::write_entry(const spool_entry& e)
{
    std::string out(magic);
    out += "\ntransport: ";
    out += to_string(e.via);
    out += "\nsource: " + escape_value(e.source_address);
    // Seconds, then a fraction of six digits: readers that take only the seconds (stoll)
    // still read the files.
    char micros[8];
    std::snprintf(micros, sizeof micros, ".%06d", static_cast<int>(std::clamp(e.received_micros, 0, 999999)));
    out += "\nreceived-at: " + std::to_string(e.received_at) + micros;
    for (const auto& [k, v] : e.metadata)
        out += "\nmeta-" + escape_value(k) + ": " + escape_value(v);
    out += "\nraw-bytes: " + std::to_string(e.raw.size());
    out += "\n\n";
    out += e.raw;
    return out;
}

spool_entry spool::read_entry(std::string_view bytes)
{
    auto header_end = bytes.find("\n\n");
    if (header_end == std::string_view::npos || header_end > max_header_bytes)
        throw std::runtime_error("no header end");
    std::string_view header = bytes.substr(0, header_end);
    std::string_view raw = bytes.substr(header_end + 2);
    spool_entry e;
    bool first = true, have_transport = false, have_size = false;
    while (!header.empty()) {
        auto nl = header.find('\n');
        std::string_view line = header.substr(0, nl);
        header = nl == std::string_view::npos ? std::string_view{} : header.substr(nl + 1);
        if (first) {
            if (line != magic)
                throw std::runtime_error("not a spool file (bad first line)");
            first = false;
            continue;
        }
        auto colon = line.find(": ");
        if (colon == std::string_view::npos)
            throw std::runtime_error("malformed header line");
        std::string_view key = line.substr(0, colon), value = line.substr(colon + 2);
        if (key == "transport") {
            auto t = transport_from_string(value);
            if (!t)
                throw std::runtime_error("unknown transport \"" + std::string(value) + "\"");
            e.via = *t;
            have_transport = true;
        } else if (key == "source") {
            e.source_address = unescape_value(value);
        } else if (key == "received-at") {
            // "<seconds>" or "<seconds>.<six digits>".
            const auto dot = value.find('.');
            const std::string_view seconds = value.substr(0, dot);
            const std::string_view fraction = dot == std::string_view::npos ? std::string_view() : value.substr(dot + 1);
            const auto digits = [](std::string_view s) {
                return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
            };
            const bool negative = !seconds.empty() && seconds.front() == '-';
            if (!digits(negative ? seconds.substr(1) : seconds) || seconds.size() > 19 ||
                (dot != std::string_view::npos && (fraction.size() != 6 || !digits(fraction))))
                throw std::runtime_error("bad received-at");
            e.received_at = std::stoll(std::string(seconds));
            e.received_micros = fraction.empty() ? 0 : std::stoi(std::string(fraction));
        } else if (key.substr(0, 5) == "meta-") {
            e.metadata[unescape_value(key.substr(5))] = unescape_value(value);
        } else if (key == "raw-bytes") {
            std::size_t n = 0;
            try {
                n = std::stoull(std::string(value));
            } catch (const std::exception&) {
                throw std::runtime_error("bad raw-bytes");
            }
            if (n != raw.size())
                throw std::runtime_error("truncated: " + std::to_string(raw.size()) + " of " + std::to_string(n) + " bytes");
            have_size = true;
        }
    }
    if (first || !have_transport || !have_size)
        throw std::runtime_error("incomplete header");
    e.raw = std::string(raw);
    return e;
}

spool::spool(std::string dir, std::uint64_t max_bytes) : dir_(std::move(dir)), max_bytes_(max_bytes)
{
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec)
        throw std::runtime_error("spool: cannot create " + dir_ + ": " + ec.message());
    rescan();
    auto& r = metrics::global();
    reports_gauge_ = r.gauge_callback("stswatch_spool_reports", "Reports waiting in the spool for the database.",
                                      [this] { return static_cast<double>(count()); });
    bytes_gauge_ = r.gauge_callback("stswatch_spool_bytes", "Size of the reports waiting in the spool.",
                                    [this] { return static_cast<double>(bytes()); });
    age_gauge_ = r.gauge_callback("stswatch_spool_oldest_age_seconds",
                                  "Age of the oldest report waiting in the spool; 0 when none waits.",
                                  [this] { return oldest_age_seconds(); });
}

double spool::oldest_age_seconds() const
{
    if (count() == 0)
        return 0;
    std::string oldest;
    std::error_code ec;
    for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
        const auto& p = it->path();
        if (p.extension() != suffix)
            continue;
        auto name = p.filename().string();
        if (oldest.empty() || name < oldest)
            oldest = std::move(name);
    }
    // unique_name(): microseconds since the epoch, 20 digits, then "-".
    long long micros = 0;
    const auto r = std::from_chars(oldest.data(), oldest.data() + oldest.size(), micros);
    if (oldest.empty() || r.ec != std::errc() || micros <= 0)
        return 0;
    const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::system_clock::now().time_since_epoch()).count();
    return now > micros ? static_cast<double>(now - micros) / 1e6 : 0.0;
}

std::size_t spool::remove_orphans(std::chrono::seconds grace)
{
    // put() writes ".<name>.tmp" and renames it; one left behind belongs to a report whose
    // writer died before the rename (kill -9, a crash, power loss), which was therefore never
    // acknowledged: the sender still has it and will send it again. Younger ones may be a
    // put() of another process sharing the directory, still at work.
    const auto cutoff = fs::file_time_type::clock::now() - grace;
    std::size_t removed = 0;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
        const auto name = entry.path().filename().string();
        if (name.size() < 5 || name.front() != '.' || !name.ends_with(".tmp") || !entry.is_regular_file(ec))
            continue;
        const auto written = entry.last_write_time(ec);
        if (ec || written > cutoff)
            continue;
        if (fs::remove(entry.path(), ec)) {
            ++removed;
            log::info("spool", "removed an unfinished spool file (its report was never acknowledged)",
                      {{"file", entry.path().string()}});
        }
    }
    return removed;
}

void spool::rescan()
{
    remove_orphans(orphan_grace);
    std::lock_guard lock(mutex_);
    bytes_ = 0;
    count_ = 0;
    for (const auto& entry : fs::directory_iterator(dir_)) {
        if (entry.is_regular_file() && entry.path().extension() == suffix) {
            bytes_ += entry.file_size();
            ++count_;
        }
    }
}

bool spool::put(const spool_entry& entry)
{
    std::string data = write_entry(entry);
    {
        std::lock_guard lock(mutex_);
        if (max_bytes_ && bytes_ + data.size() > max_bytes_)
            return false;
        bytes_ += data.size();
        ++count_;
    }
    std::string name = unique_name();
    std::string tmp = dir_ + "/." + name + ".tmp";
    std::string final_path = dir_ + "/" + name + std::string(suffix);
    try {
        unique_fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
        if (fd.get() < 0)
            fail("cannot create", tmp);
        write_all(fd.get(), data, tmp);
        if (::fsync(fd.get()) != 0)
            fail("cannot fsync", tmp);
        if (::close(fd.release()) != 0)
            fail("cannot close", tmp);
        if (::rename(tmp.c_str(), final_path.c_str()) != 0)
            fail("cannot rename", tmp);
        fsync_dir(dir_);
    } catch (...) {
        ::unlink(tmp.c_str());
        std::lock_guard lock(mutex_);
        bytes_ -= data.size();
        --count_;
        throw;
    }
    return true;
}

std::size_t spool::count() const
{
    std::lock_guard lock(mutex_);
    return count_;
}

std::uint64_t spool::bytes() const
{
    std::lock_guard lock(mutex_);
    return bytes_;
}

spool::drain_result spool::drain(report_store& store, std::uint64_t max_report_bytes, unsigned max_json_depth)
{
    remove_orphans(orphan_grace);
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir_))
        if (entry.is_regular_file() && entry.path().extension() == suffix)
            files.push_back(entry.path());
    std::sort(files.begin(), files.end());   // names start with the time: oldest first

    drain_result result;
    parse_limits limits;
    limits.max_depth = max_json_depth;
    auto forget = [&](const fs::path& p) {
        std::error_code ec;
        auto size = fs::file_size(p, ec);
        std::lock_guard lock(mutex_);
        bytes_ -= std::min<std::uint64_t>(bytes_, ec ? 0 : size);
        if (count_)
            --count_;
    };
    auto reject = [&](const fs::path& p, const std::string& why) {
        forget(p);
        std::error_code ec;
        fs::create_directories(fs::path(dir_) / "rejected", ec);
        fs::rename(p, fs::path(dir_) / "rejected" / p.filename(), ec);
        std::ofstream(fs::path(dir_) / "rejected" / (p.filename().string() + ".why")) << why << "\n";
        log::error("spool", "spooled report rejected", {{"file", p.string()}, {"reason", why}});
        ++result.rejected;
    };
    // Reports go to the store a chunk at a time, queued together, so that the writers
    // commit them as they commit live intake, many to a transaction; a chunk is small
    // enough that live reports queued behind it wait for one transaction at most.
    constexpr std::size_t chunk_size = 64;
    std::vector<incoming_report> chunk;
    std::vector<fs::path> chunk_paths;
    bool unavailable = false;
    auto store_chunk = [&] {
        if (chunk.empty())
            return;
        auto attempts = store.store_all(std::move(chunk));
        for (std::size_t k = 0; k < attempts.size(); ++k) {
            const auto& path = chunk_paths[k];
            if (attempts[k].result) {
                (attempts[k].result->outcome == store_outcome::stored ? result.stored : result.duplicates)++;
                forget(path);
                std::error_code ec;
                fs::remove(path, ec);
                continue;
            }
            try {
                std::rethrow_exception(attempts[k].error);
            } catch (const store_unavailable&) {
                unavailable = true;
                ++result.remaining;   // stays for the next drain
            } catch (const store_rejected& e) {
                // The database refuses a value of this report: retrying cannot help.
                reject(path, e.what());
            } catch (const std::exception& e) {
                unavailable = true;
                ++result.remaining;
                log::error("spool", "cannot store a spooled report now", {{"file", path.string()}, {"error", e.what()}});
            }
        }
        chunk.clear();
        chunk_paths.clear();
    };
    std::size_t i = 0;
    for (; i < files.size() && !unavailable; ++i) {
        const auto& path = files[i];
        std::string bytes;
        {
            std::ifstream in(path, std::ios::binary);
            if (!in)
                continue;   // drained by another drain in the meantime
            bytes.assign(std::istreambuf_iterator<char>(in), {});
        }
        incoming_report incoming;
        try {
            spool_entry e = read_entry(bytes);
            decoded_body decoded = decode_body(e.raw, max_report_bytes);
            incoming.metadata.fields = e.metadata;
            parsed_report parsed = parse_report(decoded.json, incoming.metadata, limits);
            incoming.report = std::move(parsed.report);
            incoming.warnings = std::move(parsed.warnings);
            if (!decoded.warning.empty())
                incoming.warnings.insert(incoming.warnings.begin(), decoded.warning);
            incoming.raw = std::move(e.raw);
            incoming.raw_is_gzip = decoded.was_gzip;
            incoming.via = e.via;
            incoming.source_address = e.source_address;
            // The report was received when it was spooled, not now: trends and the first
            // receipt must not move to the hour the database came back. 0 is a file
            // without the time, stored as received now.
            if (e.received_at > 0)
                incoming.received_at = utc_time{e.received_at, e.received_micros};
            // The DKIM verdict was reached on the message, which the spool does not keep:
            // it travels as metadata and goes back where it belongs.
            if (auto it = incoming.metadata.fields.find("dkim-state"); it != incoming.metadata.fields.end()) {
                incoming.dkim_state = it->second;
                incoming.metadata.fields.erase(it);
            }
            if (auto it = incoming.metadata.fields.find("dkim-domain"); it != incoming.metadata.fields.end()) {
                incoming.dkim_domain = it->second;
                incoming.metadata.fields.erase(it);
            }
        } catch (const std::exception& ex) {
            reject(path, ex.what());
            continue;
        }
        chunk.push_back(std::move(incoming));
        chunk_paths.push_back(path);
        if (chunk.size() == chunk_size)
            store_chunk();
    }
    store_chunk();
    result.remaining += files.size() - i;
    static auto& drained = metrics::global().counter(
        "stswatch_spool_drained_total", "Spooled reports taken out of the spool, by outcome.", {"outcome"});
    if (result.stored) drained.with({"stored"}).inc(static_cast<double>(result.stored));
    if (result.duplicates) drained.with({"duplicate"}).inc(static_cast<double>(result.duplicates));
    if (result.rejected) drained.with({"rejected"}).inc(static_cast<double>(result.rejected));
    if (result.stored || result.duplicates || result.rejected)
        log::info("spool", "drained", {{"stored", std::to_string(result.stored)},
                                       {"duplicates", std::to_string(result.duplicates)},
                                       {"rejected", std::to_string(result.rejected)},
                                       {"remaining", std::to_string(result.remaining)}});
    return result;
}

spool_drainer::spool_drainer(spool& s, report_store& store, std::uint64_t max_report_bytes,
                             unsigned max_json_depth, std::chrono::milliseconds interval)
    : spool_(s), store_(store), max_report_bytes_(max_report_bytes), max_json_depth_(max_json_depth),
      interval_(interval), thread_("spool-drainer", [this](std::stop_token stop) { run(stop); })
{
}

// The drain at work finishes; then the thread ends.
spool_drainer::~spool_drainer() = default;

void spool_drainer::poke()
{
    {
        std::lock_guard lock(mutex_);
        poked_ = true;
    }
    wake_.notify_all();
}

void spool_drainer::run(std::stop_token stop)
{
    std::unique_lock lock(mutex_);
    while (!stop.stop_requested()) {
        wake_.wait_for(lock, stop, interval_, [this] { return poked_; });
        if (stop.stop_requested())
            break;
        poked_ = false;
        if (spool_.count() == 0)
            continue;
        lock.unlock();
        try {
            spool_.drain(store_, max_report_bytes_, max_json_depth_);
        } catch (const std::exception& e) {
            log::error("spool", "drain failed", {{"error", e.what()}});
        }
        lock.lock();
    }
}

} // namespace stswatch
