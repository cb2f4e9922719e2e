#include "collector/importer.hpp"

#include "tlsrpt/decode.hpp"
#include "mail/mbox.hpp"
#include "tlsrpt/report_parser.hpp"
#include "common/domain.hpp"
#include "common/text.hpp"
#include "common/worker.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>

namespace stswatch {

namespace fs = std::filesystem;

namespace {

// Enough of a file's head to tell an mbox, a report and a mail header apart.
constexpr std::size_t head_bytes = 512;

// Reasons are printed one per line: no control characters, bounded; UTF-8 in file names kept.
constexpr auto keep = text::high_bytes::keep;

// RFC 5322 §2.2: a header field name is printable US-ASCII but ':', then the colon.
bool begins_like_mail_header(std::string_view head)
{
    std::size_t i = 0;
    while (i < head.size() && head[i] > 32 && head[i] < 127 && head[i] != ':')
        ++i;
    return i > 0 && i < head.size() && head[i] == ':';
}

enum class read_status { ok, unreadable, too_large };

// Reads at most limit bytes of path (one more tells that it is over).
read_status read_file(const fs::path& path, std::uint64_t limit, std::string& out, std::string& why)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        why = std::string("cannot read: ") + std::strerror(errno);
        return read_status::unreadable;
    }
    out.clear();
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    if (!ec && size > limit) {
        why = "larger than collector.max_body_bytes (" + std::to_string(limit) + " bytes)";
        return read_status::too_large;
    }
    if (!ec)
        out.reserve(static_cast<std::size_t>(size));
    char buf[65536];
    while (in) {
        in.read(buf, sizeof buf);
        out.append(buf, static_cast<std::size_t>(in.gcount()));
        if (out.size() > limit) {
            why = "larger than collector.max_body_bytes (" + std::to_string(limit) + " bytes)";
            return read_status::too_large;
        }
    }
    if (in.bad()) {
        why = std::string("cannot read: ") + std::strerror(errno);
        return read_status::unreadable;
    }
    return read_status::ok;
}

std::string read_head(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    std::string head(head_bytes, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<std::size_t>(std::max<std::streamsize>(in.gcount(), 0)));
    return head;
}

struct work_item {
    enum class kind { report_file, message_file, message } what = kind::message;
    fs::path path;
    std::string source;   // for rejections: the path, or "path: message N"
    std::string data;     // kind::message only
};

} // namespace

import_options import_options::from(const settings& s)
{
    import_options o;
    o.max_body_bytes = s.max_body_bytes;
    o.mail.max_report_bytes = s.max_report_bytes;
    o.mail.max_json_depth = s.max_json_depth;
    o.mail.accept_domains = s.accept_domains;
    o.mail.require_dkim = false;
    return o;
}

import_kind classify_file(const fs::path& path, std::string_view first_bytes)
{
    const std::string name = text::lowered(path.filename().string());
    // RFC 8460 §5.1: sender!policy-domain!begin!end[!unique-id].json[.gz]
    if (name.ends_with(".json") || name.ends_with(".json.gz") || name.ends_with(".gz"))
        return import_kind::report_file;
    if (looks_like_mbox(first_bytes))
        return import_kind::mbox;
    if (name.ends_with(".eml"))
        return import_kind::message;
    if (sniff_body(first_bytes) != body_kind::unknown)
        return import_kind::report_file;
    if (begins_like_mail_header(first_bytes))
        return import_kind::message;
    return import_kind::other;
}

bool is_maildir(const fs::path& directory)
{
    std::error_code ec;
    for (const char* sub : {"cur", "new", "tmp"})
        if (!fs::is_directory(directory / sub, ec))
            return false;
    return true;
}

struct importer::impl {
    import_options options;
    report_store& store;

    struct atomic_counts {
        std::atomic<std::uint64_t> files{0}, messages{0}, stored{0}, duplicates{0}, rejected{0}, skipped{0};
    } counts;

    std::mutex queue_mutex;
    std::condition_variable queue_ready, queue_room;
    std::deque<work_item> queue;
    std::size_t queued_bytes = 0;
    bool closing = false;

    std::atomic<bool> stopping{false};
    std::mutex result_mutex;             // guards the two below and the rejections
    std::string unavailable_reason;
    std::vector<import_rejection> rejections;
    std::uint64_t unlisted = 0;

    // Last: they start once the members above exist, and are joined before those go. They
    // end when the queue is closed and empty (or the import stops), not on a stop request:
    // what was handed over is stored.
    worker_group workers;

    impl(import_options o, report_store& s) : options(std::move(o)), store(s)
    {
        workers.start("import", std::max(1u, options.workers), [this](std::stop_token, unsigned) { work(); });
    }

    void join()
    {
        {
            std::lock_guard lock(queue_mutex);
            closing = true;
        }
        queue_ready.notify_all();
        queue_room.notify_all();
        workers.stop();
    }

    // ---- outcomes --------------------------------------------------------------------

    void reject(std::string source, std::string reason)
    {
        ++counts.rejected;
        std::lock_guard lock(result_mutex);
        if (rejections.size() < options.max_listed_rejections)
            rejections.push_back({text::one_line(source, 1024, keep), text::one_line(reason, 400, keep)});
        else
            ++unlisted;
    }

    void count(store_outcome outcome)
    {
        ++(outcome == store_outcome::stored ? counts.stored : counts.duplicates);
    }

    // The database cannot take reports now: stop, and say why once.
    void stop(const std::string& reason)
    {
        {
            std::lock_guard lock(result_mutex);
            if (unavailable_reason.empty())
                unavailable_reason = text::one_line(reason, 400, keep);
        }
        stopping = true;
        std::lock_guard lock(queue_mutex);
        queue_ready.notify_all();
        queue_room.notify_all();
    }

    // ---- the workers -----------------------------------------------------------------

    void work()
    {
        for (;;) {
            work_item item;
            {
                std::unique_lock lock(queue_mutex);
                queue_ready.wait(lock, [&] { return !queue.empty() || closing || stopping; });
                if (stopping || queue.empty())
                    return;
                item = std::move(queue.front());
                queue.pop_front();
                queued_bytes -= item.data.size();
            }
            queue_room.notify_one();
            try {
                switch (item.what) {
                case work_item::kind::report_file:
                    import_report_file(item.path);
                    break;
                case work_item::kind::message_file:
                    import_message_file(item.path);
                    break;
                case work_item::kind::message:
                    import_message(item.data, item.source, item.path.string());
                    break;
                }
            } catch (const std::exception& e) {
                // Out of memory, or a bug below: this input is not imported, the run goes on
                // and the summary names it.
                reject(item.source.empty() ? item.path.string() : item.source, std::string("cannot import: ") + e.what());
            }
        }
    }

    void import_report_file(const fs::path& path)
    {
        ++counts.files;
        const std::string source = path.string();
        std::string data, why;
        if (read_file(path, options.max_body_bytes, data, why) != read_status::ok)
            return reject(source, why);
        incoming_report in;
        try {
            const decoded_body decoded = decode_body(data, options.mail.max_report_bytes);
            // RFC 8460 §5.1: the file name names the policy domain when the JSON does not.
            in.metadata.fields["file-name"] = path.filename().string();
            parse_limits limits;
            limits.max_depth = options.mail.max_json_depth;
            parsed_report parsed = parse_report(decoded.json, in.metadata, limits);
            for (const auto& policy : parsed.report.policies)
                if (!policy_domain_accepted(options.mail.accept_domains, policy.policy_domain))
                    return reject(source, "policy domain not accepted here (collector.accept_domains): " +
                                              (policy.policy_domain.empty() ? "(none)" : policy.policy_domain));
            in.report = std::move(parsed.report);
            if (!decoded.warning.empty())
                in.warnings.push_back(decoded.warning);
            in.warnings.insert(in.warnings.end(), parsed.warnings.begin(), parsed.warnings.end());
            in.raw_is_gzip = decoded.was_gzip;
        } catch (const decode_error& e) {
            return reject(source, e.what());
        } catch (const report_error& e) {
            // Kept with its bytes: a newer version may read it (`stswatch reports retry`).
            rejected_input kept;
            kept.raw = data;
            kept.via = options.via;
            kept.source_address = source;
            kept.reason = std::string("not a valid TLS report: ") + e.what();
            kept.metadata = in.metadata.fields;
            store.keep_rejected(kept);
            return reject(source, e.what());
        }
        in.raw = std::move(data);
        in.via = options.via;
        in.source_address = source;
        try {
            count(store.store(std::move(in)).outcome);
        } catch (const store_unavailable& e) {
            stop(e.what());
        } catch (const store_rejected& e) {
            reject(source, e.what());
        }
    }

    void import_message_file(const fs::path& path)
    {
        ++counts.files;
        const std::string source = path.string();
        std::string data, why;
        if (read_file(path, options.max_body_bytes, data, why) != read_status::ok) {
            ++counts.messages;
            return reject(source, why);
        }
        // procmail, formail and some exports keep the mbox From_ line at the top of a
        // one-message file (or several messages in a file named .eml): split it as an mbox.
        if (looks_like_mbox(data)) {
            mbox_options mo;
            mo.max_message_bytes = static_cast<std::size_t>(options.max_body_bytes);
            auto messages = split_mbox(data, mo);
            std::string().swap(data);
            for (auto& m : messages) {
                if (stopping)
                    return;
                const std::string label = messages.size() == 1 ? source : source + ": message " + std::to_string(m.number);
                import_message(m.data, label, source);
            }
            return;
        }
        import_message(data, source, source);
    }

    void import_message(std::string_view data, const std::string& source, const std::string& address)
    {
        ++counts.messages;
        const mail_intake_result r = intake_mail(data, options.via, address, options.mail, store, nullptr);
        switch (r.verdict) {
        case mail_verdict::no_report:
            return reject(source, r.summary);
        case mail_verdict::try_later:
            for (const auto& o : r.reports)
                if (o.stored)
                    count(*o.stored);
            return stop(r.summary);
        case mail_verdict::stored:
        case mail_verdict::rejected:
            for (const auto& o : r.reports) {
                if (o.stored)
                    count(*o.stored);
                else if (!o.error.empty())
                    reject(source + ": " + o.part, o.error);
            }
            return;
        }
    }

    // ---- the walk --------------------------------------------------------------------

    void enqueue(work_item item)
    {
        std::unique_lock lock(queue_mutex);
        const std::size_t workers_count = workers.size();
        queue_room.wait(lock, [&] {
            if (stopping)
                return true;
            if (queue.size() >= 2 * workers_count)
                return false;
            // One message larger than the whole budget still goes, alone.
            return queue.empty() || queued_bytes + item.data.size() <= options.max_queued_bytes;
        });
        if (stopping)
            return;
        queued_bytes += item.data.size();
        queue.push_back(std::move(item));
        lock.unlock();
        queue_ready.notify_one();
    }

    void add_file(const fs::path& path, bool named)
    {
        const std::string head = read_head(path);
        switch (classify_file(path, head)) {
        case import_kind::report_file:
            return enqueue({work_item::kind::report_file, path, {}, {}});
        case import_kind::mbox:
            return add_mbox(path);
        case import_kind::message:
            return enqueue({work_item::kind::message_file, path, {}, {}});
        case import_kind::maildir:
        case import_kind::directory:
        case import_kind::other:
            break;
        }
        // A file named on the command line is read as mail, so that it is either imported
        // or rejected with a reason; inside a directory, anything else is left alone.
        if (named)
            return enqueue({work_item::kind::message_file, path, {}, {}});
        ++counts.skipped;
    }

    void add_mbox(const fs::path& path)
    {
        ++counts.files;
        const std::string source = path.string();
        std::ifstream in(path, std::ios::binary);
        if (!in)
            return reject(source, std::string("cannot read: ") + std::strerror(errno));
        mbox_options mo;
        mo.max_message_bytes = static_cast<std::size_t>(options.max_body_bytes);
        try {
            mbox_reader reader(in, mo);
            mbox_message m;
            while (!stopping && reader.next(m)) {
                std::string label = source + ": message " + std::to_string(m.number);
                if (m.too_large) {
                    ++counts.messages;
                    reject(std::move(label), "larger than collector.max_body_bytes (" +
                                                 std::to_string(options.max_body_bytes) + " bytes)");
                    continue;
                }
                enqueue({work_item::kind::message, path, std::move(label), std::move(m.data)});
            }
        } catch (const std::runtime_error& e) {
            reject(source, e.what());
        }
    }

    void add_maildir_folder(const fs::path& folder)
    {
        std::error_code ec;
        fs::directory_iterator it(folder, fs::directory_options::skip_permission_denied, ec);
        if (ec)
            return reject(folder.string(), "cannot list: " + ec.message());
        for (const fs::directory_iterator end; it != end && !stopping; it.increment(ec)) {
            if (ec)
                return reject(folder.string(), "cannot list: " + ec.message());
            const auto& entry = *it;
            // Maildir: names beginning with '.' are not messages.
            if (entry.path().filename().string().rfind('.', 0) == 0)
                continue;
            std::error_code type_ec;
            if (entry.is_regular_file(type_ec))
                enqueue({work_item::kind::message_file, entry.path(), {}, {}});
        }
        if (ec)
            reject(folder.string(), "cannot list: " + ec.message());
    }

    void add_directory(const fs::path& directory)
    {
        const bool maildir = is_maildir(directory);
        if (maildir) {
            // Maildir: delivered messages are in new/ and cur/; tmp/ holds deliveries in
            // progress.
            add_maildir_folder(directory / "new");
            add_maildir_folder(directory / "cur");
        }
        std::error_code ec;
        fs::directory_iterator it(directory, fs::directory_options::skip_permission_denied, ec);
        if (ec)
            return reject(directory.string(), "cannot list: " + ec.message());
        for (const fs::directory_iterator end; it != end && !stopping; it.increment(ec)) {
            if (ec)
                break;
            const auto& entry = *it;
            const std::string name = entry.path().filename().string();
            std::error_code type_ec;
            if (entry.is_symlink(type_ec) && entry.is_directory(type_ec))
                continue;   // a link to a directory could lead back up the tree
            if (entry.is_directory(type_ec)) {
                if (name == "tmp" || (maildir && (name == "new" || name == "cur")))
                    continue;
                // Maildir++ folders (".Reports") are directories beginning with '.'.
                add_directory(entry.path());
            } else if (!maildir && entry.is_regular_file(type_ec) && name.rfind('.', 0) != 0) {
                add_file(entry.path(), false);
            }
        }
        if (ec)
            reject(directory.string(), "cannot list: " + ec.message());
    }
};

importer::importer(import_options options, report_store& store)
    : impl_(std::make_unique<impl>(std::move(options), store))
{
}

importer::~importer()
{
    impl_->join();
}

void importer::add_path(const fs::path& path)
{
    if (impl_->stopping)
        return;
    if (fs::is_directory(path))
        impl_->add_directory(path);
    else if (fs::exists(path))
        impl_->add_file(path, true);
    else
        throw fs::filesystem_error("no such file or directory", path, std::make_error_code(std::errc::no_such_file_or_directory));
}

import_summary importer::finish()
{
    impl_->join();
    import_summary s;
    s.counts = counts();
    std::lock_guard lock(impl_->result_mutex);
    s.rejections = impl_->rejections;
    std::sort(s.rejections.begin(), s.rejections.end(),
              [](const import_rejection& a, const import_rejection& b) { return a.source < b.source; });
    s.unlisted_rejections = impl_->unlisted;
    s.database_unavailable = impl_->stopping;
    s.unavailable_reason = impl_->unavailable_reason;
    return s;
}

import_counts importer::counts() const
{
    const auto& c = impl_->counts;
    return {c.files.load(), c.messages.load(), c.stored.load(), c.duplicates.load(), c.rejected.load(), c.skipped.load()};
}

bool importer::stopped() const
{
    return impl_->stopping;
}

} // namespace stswatch
