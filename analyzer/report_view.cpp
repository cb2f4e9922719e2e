// A stored report as the API shows it (analyzer/report_view.hpp).
#include "analyzer/report_view.hpp"

#include "analyzer/json_out.hpp"
#include "tlsrpt/decode.hpp"
#include "tlsrpt/report_json.hpp"
#include "tlsrpt/report_parser.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <stdexcept>

namespace stswatch::web {

namespace {

// The fields kept at intake (reports.metadata), without the parser's "filled" notes,
// which the parse writes again.
report_metadata stored_metadata(const std::string& json)
{
    report_metadata m;
    if (json.empty())
        return m;
    Poco::JSON::Parser parser;
    const auto value = parser.parse(json);
    const auto object = value.extract<Poco::JSON::Object::Ptr>();
    if (!object)
        return m;
    for (const auto& [key, v] : *object) {
        if (key == "filled" || !v.isString())
            continue;
        m.fields[key] = v.convert<std::string>();
    }
    return m;
}

// Characters that are safe in a file name of RFC 8460 §5.1's shape.
std::string file_part(std::string_view text)
{
    std::string out;
    for (char c : text) {
        const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.'
                          || c == '-' || c == '_';
        out += safe ? c : '_';
        if (out.size() >= 100)
            break;
    }
    return out.empty() ? "unknown" : out;
}

std::string report_link(std::int64_t id) { return "/api/v1/reports/" + std::to_string(id); }

} // namespace

std::string report_item_json(const report_row& row)
{
    analysis::json_out w;
    w.begin_object();
    w.field("id", row.key);
    w.field("organization-name", row.organization_name);
    w.field("report-id", row.report_id);
    w.key("date-range").begin_object();
    w.field("start-datetime", format_rfc3339(row.start_datetime));
    w.field("end-datetime", format_rfc3339(row.end_datetime));
    w.end_object();
    w.key("policy-domains").strings(row.policy_domains);
    w.key("sessions").begin_object();
    w.field("successful", row.successful_sessions).field("failed", row.failed_sessions);
    w.end_object();
    w.key("transports").strings(row.transports);
    w.field("received_at", format_rfc3339(row.received_at));
    w.key("dkim");
    if (row.dkim_state.empty()) {
        w.null();
    } else {
        w.begin_object().field("state", row.dkim_state);
        w.key("domain");
        if (row.dkim_domain.empty())
            w.null();
        else
            w.value(row.dkim_domain);
        w.end_object();
    }
    w.key("links").begin_object();
    w.field("self", report_link(row.key)).field("raw", report_link(row.key) + "/raw");
    w.end_object();
    w.end_object();
    return w.take();
}

std::string report_view_json(const stored_report& r, std::uint64_t max_inflated, unsigned max_depth)
{
    const auto decoded = decode_body(r.raw_gzip, max_inflated);
    report_metadata metadata = stored_metadata(r.metadata_json);
    parse_limits limits;
    limits.max_depth = max_depth;
    auto parsed = parse_report(decoded.json, metadata, limits);
    std::vector<std::string> warnings = r.warnings;
    auto add = [&](const std::string& w) {
        if (!w.empty() && std::find(warnings.begin(), warnings.end(), w) == warnings.end())
            warnings.push_back(w);
    };
    // The ignored bytes of a gzip body were noted at intake; compressing a JSON body at
    // storing adds none.
    if (r.raw_encoding == "gzip")
        add(decoded.warning);
    for (const auto& w : parsed.warnings)
        add(w);
    const std::string line = parse_output_line(report_link(r.row.key) + "/raw", parsed.report, warnings, metadata);
    analysis::json_out head;
    head.begin_object();
    head.field("id", r.row.key);
    head.field("received_at", format_rfc3339(r.row.received_at));
    head.key("transports").strings(r.row.transports);
    head.field("raw_encoding", r.raw_encoding);
    head.field("raw_size", r.raw_size);
    std::string out = head.take();   // "{…" without its closing brace
    out += ',';
    out.append(line, 1, std::string::npos);
    out += '\n';
    return out;
}

raw_download report_raw_download(const stored_report& r, std::uint64_t max_inflated)
{
    raw_download d;
    const bool gzip = r.raw_encoding == "gzip";
    if (gzip) {
        d.content_type = "application/tlsrpt+gzip";
        d.body = r.raw_gzip;
    } else {
        d.content_type = "application/tlsrpt+json";
        d.body = inflate_gzip_coding(r.raw_gzip, std::max<std::uint64_t>(max_inflated, static_cast<std::uint64_t>(r.raw_size)));
    }
    // RFC 8460 §5.1: receiver "!" policy-domain "!" begin-timestamp "!" end-timestamp
    // [ "!" unique-id ] "." extension, the receiver being the report's submitter.
    std::string receiver = r.row.organization_name;
    try {
        const auto m = stored_metadata(r.metadata_json);
        if (auto it = m.fields.find("tls-report-submitter"); it != m.fields.end() && !it->second.empty())
            receiver = it->second;
    } catch (const std::exception&) {
    }
    const std::string policy_domain = r.row.policy_domains.empty() ? "unknown" : r.row.policy_domains.front();
    d.file_name = file_part(receiver) + "!" + file_part(policy_domain) + "!" + std::to_string(r.row.start_datetime.seconds)
                  + "!" + std::to_string(r.row.end_datetime.seconds) + "!" + file_part(r.row.report_id)
                  + (gzip ? ".json.gz" : ".json");
    return d;
}

} // namespace stswatch::web
