// Storing reports from files: report files (.json, .json.gz, RFC 8460 §5.1 names), email
// messages (.eml), mbox files and maildir folders, and directories of them, recursively.
//
// One thread walks the paths, streaming: directory listings are read entry by entry, and an
// mbox is split as it is read (collector/mbox.hpp), so the walk holds one entry and one
// message at a time whatever the size of the tree. Worker threads read, parse and store
// what the walk hands them through a queue bounded in items and bytes; many of them store
// at once so that the report store's group commit batches their reports into few
// transactions. Storing is idempotent: importing the same files again gives duplicates.
#pragma once

#include "collector/dkim_keys.hpp"   // caching_dkim_lookup, for the callers of the importer
#include "mail/dkim.hpp"
#include "collector/mail_intake.hpp"
#include "store/report_store.hpp"
#include "common/settings.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace stswatch {

struct import_options {
    mail_intake_options mail;                  // limits, accepted domains, DKIM lookup
    std::uint64_t max_body_bytes = 10485760;   // a report file or a message, as stored on disk
    unsigned workers = 128;                    // concurrent parse + store
    std::size_t max_queued_bytes = 64 << 20;   // messages read ahead of the workers
    std::size_t max_listed_rejections = 1000;  // kept for the summary; the rest are counted
    transport via = transport::import;

    // Limits and accepted domains from the configuration; no DKIM lookup (set it from a
    // resolver: caching_dkim_lookup). collector.smtp.require_dkim is not applied: archived
    // mail is often signed by keys since rotated away.
    static import_options from(const settings& s);
};

// What a path is, for the walk.
enum class import_kind {
    report_file,   // .json, .json.gz, .gz, or JSON / gzip by its first bytes
    message,       // .eml, a maildir entry, or a file that begins like a mail header
    mbox,          // begins with "From " (RFC 4155)
    maildir,       // a directory holding cur/, new/ and tmp/
    directory,
    other,         // none of these: skipped inside directories
};

// By name and first bytes (a few hundred are enough).
import_kind classify_file(const std::filesystem::path& path, std::string_view first_bytes);
bool is_maildir(const std::filesystem::path& directory);

struct import_counts {
    std::uint64_t files = 0;       // files read (report files, messages, mbox files)
    std::uint64_t messages = 0;    // email messages among them and in mbox files
    std::uint64_t stored = 0;      // reports newly stored
    std::uint64_t duplicates = 0;  // reports already stored
    std::uint64_t rejected = 0;    // files, messages or report parts not taken
    std::uint64_t skipped = 0;     // files in directories that are neither reports nor mail
};

struct import_rejection {
    std::string source;   // "dir/report.json", "maildir/cur/1234:2,S: part 2", "box.mbox: message 7"
    std::string reason;
};

struct import_summary {
    import_counts counts;
    std::vector<import_rejection> rejections;   // sorted by source; at most max_listed_rejections
    std::uint64_t unlisted_rejections = 0;
    bool database_unavailable = false;          // the import stopped early
    std::string unavailable_reason;
};

class importer {
public:
    importer(import_options options, report_store& store);
    ~importer();   // stops the workers (what is queued and not yet stored is dropped)
    importer(const importer&) = delete;
    importer& operator=(const importer&) = delete;

    // Walks path (a file or a directory) and hands its inputs to the workers; returns when
    // all are handed over or the import has stopped. Throws std::filesystem::filesystem_error
    // when path itself cannot be read; problems below it are rejections.
    void add_path(const std::filesystem::path& path);

    // Waits for the workers to finish what was handed over.
    import_summary finish();

    // Progress so far (any thread).
    import_counts counts() const;
    // The database became unavailable: nothing more is imported.
    bool stopped() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace stswatch
