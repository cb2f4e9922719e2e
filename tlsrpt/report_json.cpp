// Canonical report JSON (docs/contracts.md, "stswatch parse output"), written by hand so that the
// key order is RFC 8460 §4.4's and the output is byte-for-byte stable.
#include "tlsrpt/report_json.hpp"

#include "common/utf8.hpp"

namespace stswatch {

namespace {

// Small writer for one JSON object or array: inserts the commas.
class json_writer {
public:
    explicit json_writer(std::string& out) : out_(out) {}

    void begin_object() { value_prefix(); out_ += '{'; first_ = true; }
    void end_object() { out_ += '}'; first_ = false; }
    void begin_array() { value_prefix(); out_ += '['; first_ = true; }
    void end_array() { out_ += ']'; first_ = false; }

    void key(std::string_view k)
    {
        if (!first_)
            out_ += ',';
        append_json_string(out_, k);
        out_ += ':';
        after_key_ = true;
    }

    void string(std::string_view s) { value_prefix(); append_json_string(out_, s); first_ = false; }
    void integer(std::int64_t n) { value_prefix(); out_ += std::to_string(n); first_ = false; }

    void member(std::string_view k, std::string_view s) { key(k); string(s); }
    void member(std::string_view k, const std::string& s) { key(k); string(s); }
    void member(std::string_view k, std::int64_t n) { key(k); integer(n); }
    void member(std::string_view k, const std::optional<std::string>& s)
    {
        // docs/contracts.md: absent optional fields are left out, never written as null or "".
        if (s)
            member(k, *s);
    }
    void string_array(std::string_view k, const std::vector<std::string>& items)
    {
        key(k);
        begin_array();
        for (const auto& item : items)
            string(item);
        end_array();
    }

private:
    void value_prefix()
    {
        if (after_key_) {
            after_key_ = false;
            return;
        }
        if (!first_)
            out_ += ',';
    }

    std::string& out_;
    bool first_ = true;
    bool after_key_ = false;
};

void write_failure_detail(json_writer& w, const failure_detail& d)
{
    w.begin_object();
    w.member("result-type", d.result_type);
    w.member("sending-mta-ip", d.sending_mta_ip);
    w.member("receiving-mx-hostname", d.receiving_mx_hostname);
    w.member("receiving-mx-helo", d.receiving_mx_helo);
    w.member("receiving-ip", d.receiving_ip);
    w.member("failed-session-count", d.failed_session_count);
    w.member("additional-information", d.additional_information);
    w.member("failure-reason-code", d.failure_reason_code);
    w.end_object();
}

void write_policy(json_writer& w, const report_policy& p)
{
    w.begin_object();
    w.key("policy");
    w.begin_object();
    w.member("policy-type", std::string_view(to_string(p.type)));
    // RFC 8460 §4.4 as corrected by erratum 6241: policy-string and mx-host are arrays;
    // docs/contracts.md: always written, empty when the sender left them out.
    w.string_array("policy-string", p.policy_string);
    w.member("policy-domain", p.policy_domain);
    w.string_array("mx-host", p.mx_host);
    w.end_object();
    w.key("summary");
    w.begin_object();
    w.member("total-successful-session-count", p.total_successful_session_count);
    w.member("total-failure-session-count", p.total_failure_session_count);
    w.end_object();
    w.key("failure-details");
    w.begin_array();
    for (const auto& d : p.failure_details)
        write_failure_detail(w, d);
    w.end_array();
    w.end_object();
}

void write_report(json_writer& w, const tls_report& report)
{
    w.begin_object();
    w.member("organization-name", report.organization_name);
    w.key("date-range");
    w.begin_object();
    w.member("start-datetime", format_rfc3339(report.start_datetime));
    w.member("end-datetime", format_rfc3339(report.end_datetime));
    w.end_object();
    w.member("contact-info", report.contact_info);
    w.member("report-id", report.report_id);
    w.key("policies");
    w.begin_array();
    for (const auto& p : report.policies)
        write_policy(w, p);
    w.end_array();
    w.end_object();
}

std::size_t estimated_size(const tls_report& report)
{
    std::size_t n = 256;
    for (const auto& p : report.policies) {
        n += 256 + p.failure_details.size() * 256;
        for (const auto& line : p.policy_string)
            n += line.size() + 4;
    }
    return n;
}

} // namespace

void append_json_string(std::string& out, std::string_view s)
{
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x80) {
            const std::size_t n = utf8_sequence_length(s, i);
            if (n == 0) {
                out += "\xEF\xBF\xBD";   // U+FFFD REPLACEMENT CHARACTER
                ++i;
            } else {
                out.append(s.substr(i, n));
                i += n;
            }
            continue;
        }
        // RFC 8259 §7: quotation mark, reverse solidus and U+0000..U+001F must be escaped.
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c < 0x20) {
                out += "\\u00";
                out += hex[c >> 4];
                out += hex[c & 0xF];
            } else {
                out += static_cast<char>(c);
            }
        }
        ++i;
    }
    out += '"';
}

std::string to_canonical_json(const tls_report& report)
{
    std::string out;
    out.reserve(estimated_size(report));
    json_writer w(out);
    write_report(w, report);
    return out;
}

std::string parse_output_line(std::string_view source, const tls_report& report,
                              const std::vector<std::string>& warnings,
                              const report_metadata& metadata)
{
    std::string out;
    out.reserve(estimated_size(report) + 256);
    json_writer w(out);
    w.begin_object();
    w.member("source", source);
    w.key("report");
    write_report(w, report);
    w.string_array("warnings", warnings);
    w.key("metadata");
    w.begin_object();
    const bool has_filled = !metadata.filled.empty();
    for (const auto& [name, value] : metadata.fields) {
        // "filled" is this object's own list of notes; a field of that name cannot shadow it.
        if (has_filled && name == "filled")
            continue;
        w.member(name, value);
    }
    if (has_filled)
        w.string_array("filled", metadata.filled);
    w.end_object();
    w.end_object();
    return out;
}

} // namespace stswatch
