// stswatch parse FILE...: decode and validate reports, print canonical JSON lines.
// No database. DESIGN.md: invalid input prints nothing on stdout for that file, one line on
// stderr naming it, and the run exits 65 at the end; the other files are still processed.
#include "app/cli.hpp"

#include "collector/decode.hpp"
#include "collector/report_json.hpp"
#include "collector/report_parser.hpp"

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

bool is_email_file(const std::string& path)
{
    auto dot = path.rfind('.');
    return dot != std::string::npos && path.substr(dot) == ".eml";
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
        if (is_email_file(path)) {
            std::cerr << "stswatch: " << path << ": email messages (.eml) are read by the mail intake, "
                         "which this build does not include\n";
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
