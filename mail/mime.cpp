// Finding TLS reports in an email message: header blocks (RFC 5322), MIME structure
// (RFC 2045, RFC 2046), parameter continuations (RFC 2231), encoded-words (RFC 2047) and
// the report's own labels (RFC 8460 §5.3, RFC 6522).
//
// Everything works on views into the message; only decoded values are copied. Recursion
// follows multipart nesting and stops at mime_limits::max_depth.
#include "mail/mime.hpp"
#include "common/text.hpp"
#include "mail/mime_codec.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <optional>
#include <utility>

namespace stswatch {
namespace {

constexpr std::size_t npos = std::string_view::npos;

using text::iequals;
using text::is_wsp;
using text::istarts_with;
using text::trim;
using mime_detail::decode_base64;
using mime_detail::decode_encoded_words;
using mime_detail::decode_quoted_printable;
using mime_detail::hex_value;
using mime_detail::line_at;
using mime_detail::line_view;
using mime_detail::base64_result;
using mime_detail::to_utf8;


bool iends_with(std::string_view s, std::string_view suffix)
{
    return s.size() >= suffix.size() && iequals(s.substr(s.size() - suffix.size()), suffix);
}

// A short, printable excerpt of untrusted text for error messages.
std::string excerpt(std::string_view s)
{
    constexpr std::size_t max = 40;
    std::string out;
    for (std::size_t i = 0; i < s.size() && i < max; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            out += static_cast<char>(c);
        } else {
            static constexpr char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        }
    }
    if (s.size() > max)
        out += "...";
    return out;
}


// ---------------------------------------------------------------------------------------
// Header blocks (RFC 5322 §2.2).

struct header_field {
    std::string_view name;
    std::string_view raw_value;   // as in the message: folds included
};

struct entity {
    std::vector<header_field> fields;
    std::string_view body;
};

// RFC 5322 §2.2.3: unfolding removes the line breaks before white space; the white space
// stays. docs/senders.md: senders fold Content-Type, its name= and filename= parameters, and the
// Subject that carries the Report-ID.
std::string unfold(std::string_view raw)
{
    std::string out;
    out.reserve(raw.size());
    for (const char c : raw) {
        if (c != '\r' && c != '\n')
            out += c;
    }
    return std::string(trim(out));
}

std::optional<std::string> field_value(const entity& e, std::string_view name)
{
    for (const auto& f : e.fields) {
        if (iequals(f.name, name))
            return unfold(f.raw_value);
    }
    return std::nullopt;
}

// RFC 5322 §3.6.8: a field name is printable US-ASCII other than ':'; the obsolete syntax
// (§4.5) allows white space before the colon. Returns the name's length and where the value
// starts, or nothing when the line is not a header field.
std::optional<std::pair<std::size_t, std::size_t>> header_field_at(std::string_view line)
{
    std::size_t i = 0;
    while (i < line.size() && line[i] > 32 && line[i] < 127 && line[i] != ':')
        ++i;
    if (i == 0)
        return std::nullopt;
    const std::size_t name_length = i;
    while (i < line.size() && is_wsp(line[i]))
        ++i;
    if (i >= line.size() || line[i] != ':')
        return std::nullopt;
    return std::make_pair(name_length, i + 1);
}

// The names header fields have in practice: letters, digits, '-', '_', '.'.
bool is_common_field_name(std::string_view name)
{
    for (const char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                        c == '_' || c == '.';
        if (!ok)
            return false;
    }
    return true;
}

// Splits a message (top) or a body part into its header fields and body.
// The message must have a header block ended by an empty line. A body part may have no
// header block at all (RFC 2046 §5.1.1: it then starts with the empty line), and one whose
// header block runs into a line that is no header field is read as starting its body there.
entity split_entity(std::string_view text, bool top, const mime_limits& limits, const std::string& where)
{
    entity e;
    std::size_t pos = 0;
    // An mbox copy starts with the "From sender date" separator line (no colon after From).
    if (top && text.substr(0, 5) == "From " && !header_field_at(line_at(text, 0).text))
        pos = line_at(text, 0).next;
    const std::size_t start = pos;
    std::size_t line_number = 0;
    std::size_t value_start = 0;
    while (true) {
        if (pos >= text.size()) {
            if (top)
                throw mime_error("not a MIME message: no empty line ends the header block");
            e.body = {};
            return e;
        }
        const line_view l = line_at(text, pos);
        ++line_number;
        const auto check_size = [&] {
            if (l.next - start > limits.max_header_bytes)
                throw mime_error("header block of " + where + " is over " + std::to_string(limits.max_header_bytes) +
                                 " bytes");
        };
        if (l.text.empty()) {
            e.body = text.substr(l.next);
            return e;
        }
        if (is_wsp(l.text.front())) {
            if (e.fields.empty()) {
                if (top)
                    throw mime_error("not a MIME message: line " + std::to_string(line_number) +
                                     " is folded but no header field precedes it (\"" + excerpt(l.text) + "\")");
                e.body = text.substr(pos);
                return e;
            }
            check_size();
            // A folded line continues the previous field (RFC 5322 §2.2.3).
            auto& last = e.fields.back();
            last.raw_value = text.substr(value_start, pos + l.text.size() - value_start);
            pos = l.next;
            continue;
        }
        auto field = header_field_at(l.text);
        // The first field decides whether there is a header block at all: RFC 5322 allows
        // any printable name, but `{"organization-name":` starts report JSON.
        if (field && e.fields.empty() && !is_common_field_name(l.text.substr(0, field->first)))
            field.reset();
        if (!field) {
            if (top) {
                if (e.fields.empty())
                    throw mime_error("not a MIME message: line " + std::to_string(line_number) +
                                     " is not a header field (\"" + excerpt(l.text) + "\")");
                throw mime_error("not a MIME message: no empty line between header and body, line " +
                                 std::to_string(line_number) + " is not a header field (\"" + excerpt(l.text) +
                                 "\")");
            }
            e.body = text.substr(pos);
            return e;
        }
        check_size();
        value_start = pos + field->second;
        e.fields.push_back({l.text.substr(0, field->first), text.substr(value_start, l.text.size() - field->second)});
        pos = l.next;
    }
}

// ---------------------------------------------------------------------------------------
// Structured values with parameters: Content-Type (RFC 2045 §5.1) and Content-Disposition
// (RFC 2183), with RFC 2231 continuations and charsets.

struct structured_value {
    std::string value;                          // lower case: "multipart/report", "attachment"
    std::map<std::string, std::string> params;  // lower-case names
};

std::string percent_decode(std::string_view s)
{
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
            out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

struct param_piece {
    std::string value;
    bool encoded = false;
};

structured_value parse_structured(std::string_view text)
{
    structured_value sv;
    std::size_t pos = text.find(';');
    std::string_view head = text.substr(0, pos);
    // A comment after the value: "text/plain (report)".
    head = trim(head.substr(0, head.find('(')));
    sv.value = text::lowered(head);

    std::map<std::string, std::string> plain;
    // RFC 2231 §3: name*0, name*1 … (each optionally '*'-encoded) joined in order.
    std::map<std::string, std::map<unsigned, param_piece>> sections;
    // RFC 2231 §4: name* = charset'language'percent-encoded.
    std::map<std::string, param_piece> extended;

    while (pos != npos && pos < text.size()) {
        ++pos;   // past ';'
        // Stray white space and empty parameters (";;", and docs/senders.md's trailing space after
        // `application/tlsrpt+gzip;`) are skipped.
        while (pos < text.size() && (text::is_space(text[pos]) || text[pos] == ';'))
            ++pos;
        if (pos >= text.size())
            break;
        const std::size_t eq = text.find_first_of("=;", pos);
        if (eq == npos || text[eq] == ';') {
            pos = eq;   // a parameter without '=': skipped
            continue;
        }
        std::string name = text::lowered(trim(text.substr(pos, eq - pos)));
        pos = eq + 1;
        while (pos < text.size() && text::is_space(text[pos]))
            ++pos;
        std::string value;
        if (pos < text.size() && text[pos] == '"') {
            // RFC 5322 §3.2.4 quoted-string: '\' quotes the next character.
            ++pos;
            while (pos < text.size() && text[pos] != '"') {
                if (text[pos] == '\\' && pos + 1 < text.size())
                    ++pos;
                value += text[pos++];
            }
            pos = text.find(';', pos);
        } else {
            // Unquoted: a token as the RFC says, or whatever runs to the next ';' as senders
            // write it (docs/senders.md: `report-type=tlsrpt` unquoted).
            const std::size_t end = text.find(';', pos);
            value = std::string(trim(text.substr(pos, end == npos ? npos : end - pos)));
            pos = end;
        }
        if (name.empty())
            continue;

        const bool encoded = name.back() == '*';
        std::string base = encoded ? name.substr(0, name.size() - 1) : name;
        const std::size_t star = base.rfind('*');
        std::optional<unsigned> section;
        if (star != std::string::npos && star + 1 < base.size() && star + 4 >= base.size()) {
            unsigned n = 0;
            bool digits = true;
            for (std::size_t i = star + 1; i < base.size(); ++i) {
                if (base[i] < '0' || base[i] > '9') {
                    digits = false;
                    break;
                }
                n = n * 10 + static_cast<unsigned>(base[i] - '0');
            }
            if (digits) {
                section = n;
                base.resize(star);
            }
        }
        if (section) {
            sections[base].emplace(*section, param_piece{std::move(value), encoded});
        } else if (encoded) {
            extended.emplace(base, param_piece{std::move(value), true});
        } else {
            plain.emplace(base, std::move(value));   // the first occurrence counts
        }
    }

    // RFC 2231 §4: the initial encoded piece carries charset'language'.
    const auto decode_first = [](const param_piece& p, std::string& charset) {
        if (!p.encoded)
            return p.value;
        const std::size_t q1 = p.value.find('\'');
        const std::size_t q2 = q1 == std::string::npos ? std::string::npos : p.value.find('\'', q1 + 1);
        if (q2 == std::string::npos)
            return percent_decode(p.value);
        charset = p.value.substr(0, q1);
        return percent_decode(std::string_view(p.value).substr(q2 + 1));
    };

    sv.params = std::move(plain);
    for (const auto& [name, pieces] : sections) {
        std::string charset, joined;
        unsigned expected = 0;
        for (const auto& [n, piece] : pieces) {
            if (n != expected)
                break;   // RFC 2231 §3: sections are consecutive from 0
            if (n == 0)
                joined += decode_first(piece, charset);
            else
                joined += piece.encoded ? percent_decode(piece.value) : piece.value;
            ++expected;
        }
        if (expected > 0)
            sv.params[name] = to_utf8(charset, std::move(joined));
    }
    for (const auto& [name, piece] : extended) {
        std::string charset;
        std::string value = decode_first(piece, charset);
        sv.params[name] = to_utf8(charset, std::move(value));
    }
    return sv;
}

// ---------------------------------------------------------------------------------------
// Multipart bodies (RFC 2046 §5.1.1).

struct multipart_split {
    std::vector<std::string_view> parts;
    bool found = false;    // at least one delimiter line
    bool closed = false;   // the close-delimiter was there
};

multipart_split split_multipart(std::string_view body, std::string_view boundary)
{
    multipart_split split;
    const std::string delimiter = "--" + std::string(boundary);
    std::size_t part_start = npos;
    // Line by line, so that the work stays linear in the body whatever the boundary: a
    // line's comparison with the delimiter ends at the line's end.
    for (std::size_t at = 0; at < body.size();) {
        const line_view l = line_at(body, at);
        const std::size_t line_start = at;
        at = l.next;
        // A delimiter starts a line …
        if (l.text.substr(0, delimiter.size()) != delimiter)
            continue;
        std::string_view rest = l.text.substr(delimiter.size());
        const bool close = rest.substr(0, 2) == "--";
        if (close)
            rest.remove_prefix(2);
        // … and only transport padding may follow it on that line: "--abc" is not the
        // delimiter of a nested "--abc-1".
        while (!rest.empty() && is_wsp(rest.front()))
            rest.remove_prefix(1);
        if (!rest.empty())
            continue;
        split.found = true;
        if (part_start != npos) {
            // The line break before the delimiter belongs to the delimiter.
            std::size_t end = line_start;
            if (end > 0 && body[end - 1] == '\n')
                --end;
            if (end > 0 && body[end - 1] == '\r')
                --end;
            split.parts.push_back(body.substr(part_start, end > part_start ? end - part_start : 0));
        }
        if (close) {
            split.closed = true;   // the epilogue after it is ignored
            return split;
        }
        part_start = l.next;
    }
    // The close-delimiter is missing: the last part runs to the end of what was sent.
    if (part_start != npos)
        split.parts.push_back(body.substr(std::min(part_start, body.size())));
    return split;
}

// ---------------------------------------------------------------------------------------
// Which parts are reports.

bool is_tlsrpt_type(std::string_view type)
{
    // RFC 8460 §5.3: application/tlsrpt+gzip or application/tlsrpt+json.
    return istarts_with(type, "application/tlsrpt+");
}

// Types real senders label reports with (docs/senders.md: octet-stream, gzip).
bool is_generic_type(std::string_view type)
{
    return type == "application/gzip" || type == "application/x-gzip" || type == "application/x-gzip-compressed" ||
           type == "application/octet-stream" || type == "application/json" || type == "text/json";
}

bool is_json_type(std::string_view type)
{
    return type == "application/json" || type == "text/json";
}

// File names of other kinds of gzip files that reach report mailboxes: DMARC aggregate
// reports (.xml.gz) and archives.
bool names_other_kind(std::string_view name)
{
    return iends_with(name, ".xml.gz") || iends_with(name, ".xml") || iends_with(name, ".tar.gz") ||
           iends_with(name, ".tgz") || iends_with(name, ".zip");
}

// RFC 8460 §5.1: sender!policy-domain!begin!end[!unique-id].json[.gz]
bool names_report(std::string_view name)
{
    return iends_with(name, ".json.gz") || iends_with(name, ".json") ||
           (iends_with(name, ".gz") && !names_other_kind(name));
}

bool starts_with_gzip_magic(std::string_view data)
{
    return data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1f &&
           static_cast<unsigned char>(data[1]) == 0x8b;
}

bool starts_like_json(std::string_view data)
{
    if (data.substr(0, 3) == "\xEF\xBB\xBF")
        data.remove_prefix(3);
    while (!data.empty() && text::is_space(data.front()))
        data.remove_prefix(1);
    return !data.empty() && data.front() == '{';
}

// Cheap test on labels alone: parts that can never be reports are not decoded.
bool may_be_report(std::string_view type, std::string_view name)
{
    if (is_tlsrpt_type(type) || is_generic_type(type) || names_report(name))
        return true;
    return istarts_with(type, "application/") && !names_other_kind(name);
}

bool is_report(std::string_view type, std::string_view name, std::string_view data)
{
    if (is_tlsrpt_type(type))
        return true;
    if (names_other_kind(name))
        return false;
    if (is_generic_type(type)) {
        // docs/senders.md: generic labels; the file name or the gzip magic tells. JSON is sniffed
        // only where the label or the name says JSON: a human-readable text part, with or
        // without a gateway's banner in it, is no report.
        return names_report(name) || starts_with_gzip_magic(data) ||
               ((is_json_type(type) || iends_with(name, ".json")) && starts_like_json(data));
    }
    // Any other label (text/plain; name=….json, application/x-compressed …): the name and
    // the content must agree.
    if (names_report(name))
        return starts_with_gzip_magic(data) || starts_like_json(data);
    return istarts_with(type, "application/") && starts_with_gzip_magic(data);
}

// ---------------------------------------------------------------------------------------

class message_reader {
public:
    message_reader(const mime_limits& limits, mail_message_info& info) : limits_(limits), info_(info) {}

    void read_entity(const entity& e, unsigned depth, const std::string& where)
    {
        const auto content_type_text = field_value(e, "content-type");
        // RFC 2045 §5.2: no Content-Type means text/plain.
        structured_value content_type =
            content_type_text ? parse_structured(*content_type_text) : structured_value{"text/plain", {}};
        // RFC 2045 §5.2: a syntactically invalid Content-Type is read as the default too.
        if (content_type.value.empty())
            content_type.value = "text/plain";
        const std::string& type = content_type.value;

        if (istarts_with(type, "multipart/")) {
            read_multipart(e, content_type, depth + 1, where);
            return;
        }
        if (type == "message/rfc822" || type == "message/global") {
            // A forwarded report message: its reports count, its headers do not replace ours.
            if (depth + 1 > limits_.max_depth)
                throw mime_error("MIME nesting deeper than " + std::to_string(limits_.max_depth) + " levels at " +
                                 where);
            const std::string inner = where + " (forwarded message)";
            read_entity(split_entity(e.body, false, limits_, inner), depth + 1, inner);
            return;
        }

        std::string file_name;
        if (const auto disposition = field_value(e, "content-disposition")) {
            const auto parsed = parse_structured(*disposition);
            if (const auto it = parsed.params.find("filename"); it != parsed.params.end())
                file_name = it->second;
        }
        if (file_name.empty()) {
            if (const auto it = content_type.params.find("name"); it != content_type.params.end())
                file_name = it->second;
        }
        // Some mailers put encoded-words in file names although RFC 2047 §5 does not allow it.
        file_name = std::string(trim(decode_encoded_words(file_name)));

        if (!may_be_report(type, file_name))
            return;
        std::string data = decode_transfer(e, where, file_name);
        if (!is_report(type, file_name, data))
            return;
        info_.reports.push_back({type, std::move(file_name), std::move(data)});
    }

private:
    void read_multipart(const entity& e, const structured_value& content_type, unsigned level,
                        const std::string& where)
    {
        if (level > limits_.max_depth)
            throw mime_error("multipart nesting deeper than " + std::to_string(limits_.max_depth) + " levels at " +
                             where);
        if (content_type.value == "multipart/report") {
            // RFC 6522 §3, RFC 8460 §5.3: report-type=tlsrpt, quoted or not, in any case.
            const auto it = content_type.params.find("report-type");
            if (it != content_type.params.end() && iequals(trim(it->second), "tlsrpt"))
                info_.declared_tlsrpt = true;
        }
        const auto boundary = content_type.params.find("boundary");
        if (boundary == content_type.params.end() || boundary->second.empty()) {
            info_.warnings.push_back(where + ": " + content_type.value + " without a boundary parameter, body ignored");
            return;
        }
        const multipart_split split = split_multipart(e.body, boundary->second);
        if (!split.found) {
            info_.warnings.push_back(where + ": boundary \"" + excerpt(boundary->second) +
                                     "\" never occurs, body ignored");
            return;
        }
        if (!split.closed)
            info_.warnings.push_back(where + ": the closing boundary is missing, the last part runs to the end");
        std::size_t index = 0;
        for (const std::string_view part : split.parts) {
            if (++parts_ > limits_.max_parts)
                throw mime_error("more than " + std::to_string(limits_.max_parts) + " MIME parts (at " + where + ")");
            const std::string part_where =
                (where == "the message" ? std::string("part ") : where + ".") + std::to_string(++index);
            read_entity(split_entity(part, false, limits_, part_where), level, part_where);
        }
    }

    std::string decode_transfer(const entity& e, const std::string& where, const std::string& file_name)
    {
        const std::string encoding = text::lowered(field_value(e, "content-transfer-encoding").value_or(""));
        const std::string named = file_name.empty() ? where : where + " (" + excerpt(file_name) + ")";
        if (encoding == "base64") {
            base64_result r = decode_base64(e.body);
            if (r.skipped > 0)
                info_.warnings.push_back(named + ": skipped " + std::to_string(r.skipped) +
                                         " characters that are not base64");
            if (r.after_padding > 0)
                info_.warnings.push_back(named + ": ignored " + std::to_string(r.after_padding) +
                                         " characters after the base64 padding");
            if (r.dangling)
                info_.warnings.push_back(named + ": base64 ends with an incomplete group, dropped");
            return std::move(r.data);
        }
        if (encoding == "quoted-printable")
            return decode_quoted_printable(e.body);
        // 7bit, 8bit, binary (RFC 2045 §6.2), none, or an encoding we do not know: as sent.
        return std::string(e.body);
    }

    const mime_limits& limits_;
    mail_message_info& info_;
    std::size_t parts_ = 0;
};

// RFC 8460 §5.3: Subject: Report Domain: … Submitter: … Report-ID: <…>
std::optional<std::string> subject_report_id(std::string_view subject)
{
    const std::string lowered = text::lowered(subject);
    const std::size_t label = lowered.find("report-id:");
    if (label == std::string::npos)
        return std::nullopt;
    std::string_view rest = subject.substr(label + 10);
    while (!rest.empty() && text::is_space(rest.front()))
        rest.remove_prefix(1);
    if (rest.empty())
        return std::nullopt;
    if (rest.front() == '<') {
        const std::size_t close = rest.find('>');
        if (close != npos)
            return std::string(rest.substr(0, close + 1));
    }
    std::size_t end = 0;
    while (end < rest.size() && !text::is_space(rest[end]))
        ++end;
    return std::string(rest.substr(0, end));
}

void keep_metadata(const entity& message, mail_message_info& info)
{
    std::size_t dkim_signatures = 0;
    for (const auto& f : message.fields) {
        if (iequals(f.name, "dkim-signature"))
            ++dkim_signatures;
    }
    info.headers["dkim-signature-count"] = std::to_string(dkim_signatures);

    for (const char* name : {"message-id", "date", "tls-report-domain", "tls-report-submitter"}) {
        if (auto value = field_value(message, name))
            info.headers[name] = std::move(*value);
    }
    for (const char* name : {"from", "subject"}) {
        if (auto value = field_value(message, name))
            info.headers[name] = std::string(trim(decode_encoded_words(*value)));
    }
    if (const auto subject = info.headers.find("subject"); subject != info.headers.end()) {
        if (auto id = subject_report_id(subject->second))
            info.headers["subject-report-id"] = std::move(*id);
    }
}

} // namespace

mail_message_info read_report_message(std::string_view message, const mime_limits& limits)
{
    mail_message_info info;
    const entity top = split_entity(message, true, limits, "the message");
    keep_metadata(top, info);
    message_reader(limits, info).read_entity(top, 0, "the message");
    return info;
}

} // namespace stswatch
