// stswatch parse FILE...: decode and validate reports, print canonical JSON lines; an .eml
// file gives one line per report in the message.
// No database. docs/contracts.md: invalid input prints nothing on stdout for that file, one line on
// stderr naming it, and the run exits 65 at the end; the other files are still processed.
#include "app/cli.hpp"

#include "tlsrpt/decode.hpp"
#include "collector/mail_intake.hpp"
#include "mail/mbox.hpp"
#include "tlsrpt/report_json.hpp"
#include "tlsrpt/report_parser.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace stswatch::cli {

namespace {

enum class read_status { ok, missing, too_large };

// Reads at most limit bytes (+1 to detect an oversize file) from path, or stdin for "-".
read_status read_input(const std::string& path, std::uint64_t limit, std::string& out, std::string& why)
{
    std::istream* in = &std::cin;
    std::ifstream file;
    if (path != "-") {
        file.open(path, std::ios::binary);
        if (!file) {
            why = std::strerror(errno);
            return read_status::missing;
        }
        in = &file;
    }
    out.clear();
    char buf[65536];
    while (*in) {
        in->read(buf, sizeof buf);
        out.append(buf, static_cast<std::size_t>(in->gcount()));
        if (out.size() > limit) {
            why = "larger than collector.max_body_bytes (" + std::to_string(limit) + " bytes)";
            return read_status::too_large;
        }
    }
    if (in->bad()) {
        why = std::strerror(errno);
        return read_status::missing;
    }
    return read_status::ok;
}

// By name, or, for stdin and maildir entries, by content: not JSON or gzip, and beginning
// with a header field (RFC 5322 §2.2) or an mbox From_ line.
bool is_email(const std::string& path, std::string_view body)
{
    auto dot = path.rfind('.');
    if (dot != std::string::npos && path.substr(dot) == ".eml")
        return true;
    if (sniff_body(body) != body_kind::unknown)
        return false;
    if (looks_like_mbox(body))
        return true;
    std::size_t i = 0;
    while (i < body.size() && body[i] > 32 && body[i] < 127 && body[i] != ':')
        ++i;
    return i > 0 && i < body.size() && body[i] == ':';
}

// One line per report of the message (docs/contracts.md), its metadata from the headers. DKIM is
// not verified here: parse does no network I/O. False when any part is invalid or the
// message holds no report.
bool parse_one_message(const std::string& path, std::string_view message, const mail_intake_options& options)
{
    std::vector<incoming_report> reports;
    std::vector<mail_report_outcome> outcomes;
    try {
        outcomes = parse_mail_reports(message, options, reports);
    } catch (const mime_error& e) {
        std::cerr << "stswatch: " << path << ": not a readable message: " << e.what() << "\n";
        return false;
    }
    if (outcomes.empty()) {
        std::cerr << "stswatch: " << path << ": no TLS report in the message (RFC 8460 §5.3)\n";
        return false;
    }
    bool all_valid = true;
    auto next = reports.begin();
    for (const auto& outcome : outcomes) {
        if (!outcome.error.empty()) {
            std::cerr << "stswatch: " << path << ": " << outcome.part << ": " << outcome.error << "\n";
            all_valid = false;
            continue;
        }
        const incoming_report& r = *next++;
        std::cout << parse_output_line(path, r.report, r.warnings, r.metadata) << '\n';
    }
    return all_valid;
}

bool parse_email(const std::string& path, const std::string& body, const settings& s)
{
    mail_intake_options options;
    options.max_report_bytes = s.max_report_bytes;
    options.max_json_depth = s.max_json_depth;
    // procmail and formail leave the mbox From_ line at the top of a saved message.
    if (!looks_like_mbox(body))
        return parse_one_message(path, body, options);
    mbox_options mo;
    mo.max_message_bytes = static_cast<std::size_t>(s.max_body_bytes);
    bool all_valid = true;
    for (const auto& m : split_mbox(body, mo))
        all_valid = parse_one_message(path, m.data, options) && all_valid;
    return all_valid;
}

} // namespace

int run_parse(context& ctx)
{
    std::vector<std::string> files = ctx.args;
    reject_unknown_options(files, "parse");
    if (!files.empty() && files.front() == "--")
        files.erase(files.begin());
    if (files.empty())
        throw usage_error("parse: no FILE given (use - for standard input)");

    const auto& s = ctx.settings;
    parse_limits limits;
    limits.max_depth = s.max_json_depth;
    bool invalid = false, missing = false;
    std::string body, why;
    for (const auto& path : files) {
        switch (read_input(path, s.max_body_bytes, body, why)) {
        case read_status::missing:
            std::cerr << "stswatch: " << path << ": cannot read: " << why << "\n";
            missing = true;
            continue;
        case read_status::too_large:
            std::cerr << "stswatch: " << path << ": " << why << "\n";
            invalid = true;
            continue;
        case read_status::ok:
            break;
        }
        if (is_email(path, body)) {
            if (!parse_email(path, body, s))
                invalid = true;
            continue;
        }
        try {
            decoded_body decoded = decode_body(body, s.max_report_bytes);
            report_metadata metadata;
            if (path != "-")
                metadata.fields["file-name"] = path;
            parsed_report parsed = parse_report(decoded.json, metadata, limits);
            if (!decoded.warning.empty())
                parsed.warnings.insert(parsed.warnings.begin(), decoded.warning);
            std::cout << parse_output_line(path, parsed.report, parsed.warnings, metadata) << '\n';
        } catch (const decode_error& e) {
            std::cerr << "stswatch: " << path << ": " << e.what() << "\n";
            invalid = true;
        } catch (const report_error& e) {
            std::cerr << "stswatch: " << path << ": " << e.what() << "\n";
            invalid = true;
        }
    }
    std::cout.flush();
    if (invalid)
        return data_error;
    return missing ? no_input : ok;
}

} // namespace stswatch::cli
