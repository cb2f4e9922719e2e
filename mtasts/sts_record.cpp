// The _mta-sts TXT record (RFC 8461 §3.1) and the _smtp._tls TXT record (RFC 8460 §3).
// Both records share one shape: a version tag, then key=value fields separated by
// *WSP ";" *WSP. Selection among a name's TXT records comes first (records without the
// version tag are not ours), then the one record is parsed; every problem becomes a
// finding whose message names the record, what is wrong and how to fix it.
#include "mtasts/sts_record.hpp"

#include "common/text.hpp"

#include "common/domain.hpp"

#include <algorithm>

namespace stswatch {
namespace {

constexpr std::string_view sts_version_tag = "v=STSv1";
constexpr std::string_view tlsrpt_version_tag = "v=TLSRPTv1";

using text::iequals;
using text::is_alnum;
using text::is_alpha;
using text::is_digit;
using text::is_ext_name;
using text::is_hex_digit;
using text::is_wsp;
using text::istarts_with;
using text::lower;
using text::trim_wsp;

// RFC 8461 §3.1: "records that do not begin with v=STSv1;" are discarded. The ABNF lets
// WSP come before the ";" (sts-field-delim = *WSP ";" *WSP), and a record of the bare tag
// is one of ours too (it is then reported as lacking an id), so the tag must be followed by
// the end, a ";" or WSP: "v=STSv10" is not ours.
bool has_version_tag(std::string_view txt, std::string_view tag)
{
    return txt.substr(0, tag.size()) == tag &&
           (txt.size() == tag.size() || txt[tag.size()] == ';' || is_wsp(txt[tag.size()]));
}

// The version token of a record that looks like ours but lacks the exact tag: what follows
// leading WSP up to the first ";" or WSP.
std::string_view version_token(std::string_view txt)
{
    while (!txt.empty() && is_wsp(txt.front()))
        txt.remove_prefix(1);
    std::size_t end = 0;
    while (end < txt.size() && txt[end] != ';' && !is_wsp(txt[end]))
        ++end;
    return txt.substr(0, end);
}

// sts-ext-value / tlsrpt-ext-value = 1*(%x21-3A / %x3C / %x3E-7E): VCHAR but ";" and "=".
bool is_ext_value(std::string_view value)
{
    if (value.empty())
        return false;
    for (const char ch : value) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x21 || c > 0x7e || c == ';' || c == '=')
            return false;
    }
    return true;
}

struct record_field {
    std::string_view name, value, text;
};

// What follows the version tag, split into fields. Problems are added as findings of
// syntax_code; ok is false when the record is not syntactically valid (senders must then
// ignore it: RFC 8461 §3.1, RFC 8460 §3).
struct split_result {
    std::vector<record_field> fields;
    bool ok = true;
    bool broken_after_tag = false;   // nothing after the tag could be read
};

split_result split_fields(std::string_view text, std::string_view tag, const std::string& record_name,
                          const char* syntax_code, std::vector<finding>& findings)
{
    split_result out;
    const auto syntax = [&](std::string message) {
        out.ok = false;
        findings.push_back(make_finding(syntax_code, record_name, record_name + ": " + std::move(message)));
    };

    std::vector<std::string_view> pieces;
    std::string_view rest = text.substr(tag.size());
    for (;;) {
        const std::size_t semi = rest.find(';');
        pieces.push_back(rest.substr(0, semi));
        if (semi == std::string_view::npos)
            break;
        rest.remove_prefix(semi + 1);
    }
    // pieces[0] lies between the tag and the first ";": only WSP may be there.
    if (!trim_wsp(pieces[0]).empty()) {
        syntax("expected \";\" after " + std::string(tag) + " but found " + quote_untrusted(trim_wsp(pieces[0])) +
               "; separate fields with \";\", as in \"" + std::string(tag) + "; ...\"");
        out.broken_after_tag = true;
        return out;
    }
    for (std::size_t i = 1; i < pieces.size(); ++i) {
        const std::string_view field = trim_wsp(pieces[i]);
        if (field.empty()) {
            // One ";" may end the record ([sts-sep] / [field-delim]); an empty field
            // between two separators is not in the grammar.
            if (i + 1 == pieces.size())
                continue;
            // pieces are views into text: say where the empty field is.
            const auto offset = static_cast<std::size_t>(pieces[i].data() - text.data());
            syntax("empty field between two \";\" (remaining " + quote_untrusted(text.substr(offset)) +
                   "); remove the extra \";\"");
            continue;
        }
        const std::size_t eq = field.find('=');
        if (eq == std::string_view::npos) {
            syntax("the field " + quote_untrusted(field) + " is not key=value; write it as key=value or remove it");
            continue;
        }
        out.fields.push_back({field.substr(0, eq), field.substr(eq + 1), field});
    }
    return out;
}

// A field that is not the record's own (id, rua): the version field again (a syntax finding,
// the record stays usable), or an extension (RFC 8461 §3.1 sts-extension, RFC 8460 §3
// tlsrpt-extension), kept in `extensions` when well-formed. false when the field is a
// malformed extension, which makes the record unusable.
bool other_field(const record_field& f, const std::string& record_name, const char* syntax_code,
                 std::string_view version_tag, std::vector<finding>& findings,
                 std::vector<std::pair<std::string, std::string>>& extensions)
{
    if (f.name == "v") {
        findings.push_back(make_finding(syntax_code, record_name,
            record_name + ": the version field appears again in " + quote_untrusted(f.text) +
            "; remove it, the record begins with \"" + std::string(version_tag) + "\" once"));
        return true;
    }
    if (!is_ext_name(f.name)) {
        findings.push_back(make_finding(syntax_code, record_name,
            record_name + ": the field name " + quote_untrusted(f.name) + " in " + quote_untrusted(f.text) +
            " is not valid: a name is 1 to 32 letters, digits, \"_\", \"-\" or \".\", starting with a letter or digit, "
            "with no space before \"=\""));
        return false;
    }
    if (!is_ext_value(f.value)) {
        findings.push_back(make_finding(syntax_code, record_name,
            record_name + ": the value of " + quote_untrusted(f.name) + " in " + quote_untrusted(f.text) +
            " is not valid: a value is 1 or more visible ASCII characters other than \";\" and \"=\", "
            "with no space after \"=\""));
        return false;
    }
    extensions.emplace_back(std::string(f.name), std::string(f.value));
    return true;
}

// Records that were meant to be ours but lack the exact version tag.
struct selection {
    std::vector<std::string_view> tagged;      // begin with the exact tag
    std::vector<std::string_view> near_miss;   // "v=sts..." / "v=tlsrpt..." in another spelling or version
};

selection select_records(const std::vector<std::string>& txts, std::string_view tag, std::string_view family)
{
    selection s;
    for (const auto& txt : txts) {
        if (has_version_tag(txt, tag))
            s.tagged.push_back(txt);
        else if (istarts_with(version_token(txt), family))
            s.near_miss.push_back(txt);
    }
    return s;
}

std::string list_records(const std::vector<std::string_view>& records)
{
    std::string out;
    for (const auto r : records) {
        if (!out.empty())
            out += ", ";
        out += quote_untrusted(r);
    }
    return out;
}

// A TXT record can hold thousands of bad fields: keep the first few findings of each code
// and say how many more there were, so that a report stays readable.
void bound_findings(std::vector<finding>& findings, const std::string& record_name)
{
    constexpr std::size_t per_code = 10;
    std::vector<finding> kept;
    std::vector<std::pair<std::string, std::size_t>> dropped;   // code, count; in order
    for (auto& f : findings) {
        const auto same = [&](const finding& k) { return k.code == f.code; };
        if (static_cast<std::size_t>(std::count_if(kept.begin(), kept.end(), same)) < per_code) {
            kept.push_back(std::move(f));
            continue;
        }
        const auto it = std::find_if(dropped.begin(), dropped.end(), [&](const auto& d) { return d.first == f.code; });
        if (it == dropped.end())
            dropped.emplace_back(f.code, 1);
        else
            ++it->second;
    }
    for (const auto& [code, count] : dropped)
        kept.push_back(make_finding(code, record_name, record_name + ": " + std::to_string(count) +
                                    " more problems of this kind are not listed"));
    findings = std::move(kept);
}

// RFC 8461 §3.1: id = 1*32(ALPHA / DIGIT). Empty when valid, else what is wrong.
std::string id_problem(std::string_view id)
{
    if (id.empty())
        return "is empty";
    if (id.size() > 32)
        return "is " + std::to_string(id.size()) + " characters long";
    for (const char c : id) {
        if (!is_alnum(c))
            return "contains " + quote_untrusted(std::string_view(&c, 1));
    }
    return {};
}

// --- TLS-RPT rua (RFC 8460 §3) ---------------------------------------------------------

int hex_value(char c) { return is_digit(c) ? c - '0' : lower(c) - 'a' + 10; }

// RFC 3986 §2: the characters a URI may hold (unreserved, reserved, "%").
bool is_uri_char(char c)
{
    if (is_alnum(c))
        return true;
    static constexpr std::string_view others = "-._~:/?#[]@!$&'()*+,;=%";
    return others.find(c) != std::string_view::npos;
}

// RFC 3986 §2.1 percent-decoding; nullopt for a malformed escape.
std::optional<std::string> percent_decode(std::string_view s)
{
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out += s[i];
            continue;
        }
        if (i + 2 >= s.size() || !is_hex_digit(s[i + 1]) || !is_hex_digit(s[i + 2]))
            return std::nullopt;
        out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
        i += 2;
    }
    return out;
}

// RFC 5322 §3.2.3 atext, for a dot-atom local part.
bool is_atext(char c)
{
    static constexpr std::string_view specials = "!#$%&'*+-/=?^_`{|}~";
    return is_alnum(c) || specials.find(c) != std::string_view::npos ||
           static_cast<unsigned char>(c) >= 0x80;   // RFC 6531 UTF-8 local parts
}

bool is_address_literal(std::string_view host)
{
    if (host.size() < 3 || host.front() != '[' || host.back() != ']')
        return false;
    for (const char c : host.substr(1, host.size() - 2)) {
        if (!(is_hex_digit(c) || c == '.' || c == ':' || is_alpha(c)))
            return false;
    }
    return true;
}

// RFC 5322 §3.4.1 addr-spec, with a dot-atom or quoted-string local part.
std::string addr_spec_problem(std::string_view addr)
{
    const std::size_t at = addr.rfind('@');
    if (at == std::string_view::npos)
        return "has no \"@\"";
    const std::string_view local = addr.substr(0, at), domain = addr.substr(at + 1);
    if (local.empty())
        return "has an empty local part";
    if (local.size() >= 2 && local.front() == '"' && local.back() == '"') {
        for (const char c : local.substr(1, local.size() - 2)) {
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
                return "has a control character in its local part";
        }
    } else {
        if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos)
            return "has a misplaced \".\" in its local part";
        for (const char c : local) {
            if (!is_atext(c) && c != '.')
                return "has " + quote_untrusted(std::string_view(&c, 1)) + " in its local part";
        }
    }
    if (!is_valid_domain(domain) && !is_address_literal(domain))
        return "has " + quote_untrusted(domain) + " as its domain, which is not a host name";
    return {};
}

// Empty when uri is a usable rua destination, else why not.
std::string rua_problem(std::string_view uri)
{
    if (uri.empty())
        return "is empty";
    for (const char c : uri) {
        if (!is_uri_char(c))
            return "contains " + quote_untrusted(std::string_view(&c, 1)) + ", which a URI cannot hold (percent-encode it)";
    }
    // RFC 8460 §3: commas and exclamation points in a URI MUST be encoded (a "!" would
    // read as DMARC's size limit suffix, which TLS-RPT does not have).
    if (uri.find('!') != std::string_view::npos)
        return "contains \"!\": encode it as %21 (TLS-RPT has no size suffix)";
    const std::size_t colon = uri.find(':');
    const std::string_view scheme = colon == std::string_view::npos ? std::string_view{} : uri.substr(0, colon);
    if (iequals(scheme, "mailto")) {
        std::string_view to = uri.substr(colon + 1);
        to = to.substr(0, to.find('?'));   // RFC 6068 hfields (subject=...) do not matter here
        const auto decoded = percent_decode(to);
        if (!decoded)
            return "has a malformed %-escape";
        if (decoded->find(',') != std::string::npos)
            return "names several addresses in one mailto: URI; give each its own URI, separated by \",\"";
        if (auto problem = addr_spec_problem(*decoded); !problem.empty())
            return "is a mailto: URI whose address " + quote_untrusted(*decoded) + " " + problem;
        return {};
    }
    if (iequals(scheme, "https")) {
        std::string_view rest = uri.substr(colon + 1);
        if (rest.substr(0, 2) != "//")
            return "is an https: URI without \"//host\"";
        rest.remove_prefix(2);
        std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
        if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos)
            authority.remove_prefix(at + 1);
        std::string_view host = authority;
        if (!host.empty() && host.front() == '[') {
            const std::size_t close = host.find(']');
            if (close == std::string_view::npos)
                return "is an https: URI with an unclosed \"[\" in its host";
            const std::string_view after = host.substr(close + 1);
            host = host.substr(0, close + 1);
            if (!after.empty() && after.front() != ':')
                return "is an https: URI with text after its host " + quote_untrusted(host);
            authority = after;
        } else {
            const std::size_t port_colon = host.find(':');
            authority = port_colon == std::string_view::npos ? std::string_view{} : host.substr(port_colon);
            host = host.substr(0, port_colon);
        }
        if (!authority.empty()) {   // ":port"
            const std::string_view port = authority.substr(1);
            if (port.empty() || port.size() > 5)
                return "is an https: URI with a malformed port";
            for (const char c : port) {
                if (!is_digit(c))
                    return "is an https: URI with a malformed port";
            }
        }
        if (host.empty())
            return "is an https: URI without a host";
        if (!is_valid_domain(host) && !is_address_literal(host))
            return "is an https: URI whose host " + quote_untrusted(host) + " is not a host name";
        return {};
    }
    if (scheme.empty())
        return "has no scheme (mailto: or https:)";
    return "uses the scheme " + quote_untrusted(scheme) + ": only mailto: and https: are allowed";
}

} // namespace

sts_record_evaluation evaluate_sts_records(std::string_view domain, const std::vector<std::string>& txts)
{
    sts_record_evaluation out;
    const std::string name = "_mta-sts." + normalize_domain(domain);
    auto add = [&](const char* code, const std::string& message) {
        out.findings.push_back(make_finding(code, name, name + ": " + message));
    };

    // RFC 8461 §3.1: records not beginning with the version tag are discarded.
    const selection sel = select_records(txts, sts_version_tag, "v=sts");
    if (sel.tagged.empty()) {
        if (sel.near_miss.empty()) {
            std::string others;
            if (!txts.empty())
                others = " (" + std::to_string(txts.size()) +
                         (txts.size() == 1 ? " TXT record was found, but it is not" : " TXT records were found, but none is") +
                         " an MTA-STS record)";
            add("sts-record-missing",
                "no TXT record begins with \"v=STSv1\"" + others +
                ", so senders apply no MTA-STS; publish \"v=STSv1; id=20261126T120000\" here and the policy at "
                "https://mta-sts." + normalize_domain(domain) + "/.well-known/mta-sts.txt");
            return out;
        }
        if (sel.near_miss.size() == 1)
            out.text = std::string(sel.near_miss.front());
        for (const auto txt : sel.near_miss) {
            const std::string_view token = version_token(txt);
            if (token == sts_version_tag) {
                add("sts-record-syntax", "the record " + quote_untrusted(txt) +
                    " begins with white space, so senders discard it; remove the space before \"v=STSv1\"");
            } else if (iequals(token, sts_version_tag)) {
                add("sts-record-version", "the record " + quote_untrusted(txt) + " spells the version " +
                    quote_untrusted(token) + ", and senders only accept the exact, case-sensitive \"v=STSv1\"; write v=STSv1");
            } else {
                add("sts-record-version", "the record " + quote_untrusted(txt) + " has the version " +
                    quote_untrusted(token) + ", which senders do not know, so they ignore it; publish \"v=STSv1\"");
            }
        }
        return out;
    }
    if (sel.tagged.size() > 1) {
        // RFC 8461 §3.1: if the number of records left is not one, senders assume the
        // domain has no MTA-STS policy.
        add("sts-record-multiple", std::to_string(sel.tagged.size()) + " TXT records begin with \"v=STSv1\" (" +
            list_records(sel.tagged) + "), so senders assume there is no policy; keep one and delete the others");
        return out;
    }

    const std::string_view text = sel.tagged.front();
    out.text = std::string(text);
    split_result split = split_fields(text, sts_version_tag, name, "sts-record-syntax", out.findings);
    if (split.broken_after_tag)
        return out;   // a missing id would only repeat the syntax finding
    bool usable = split.ok;
    std::optional<std::string_view> id;
    sts_record record;
    for (const auto& f : split.fields) {
        if (f.name == "id") {
            if (id) {
                // RFC 8461 §3.2: a non-repeated field given twice counts once, the first;
                // some senders take the last, so the result depends on the sender.
                add("sts-record-syntax", "id appears more than once (" + quote_untrusted(*id) + " and " +
                    quote_untrusted(f.value) + "); senders use the first or the last, so keep only one id field");
                continue;
            }
            id = f.value;
            // RFC 8461 §3.1: sts-id = %s"id=" 1*32(ALPHA / DIGIT)
            if (const std::string problem = id_problem(f.value); !problem.empty()) {
                usable = false;
                add("sts-record-id-invalid", "the id " + quote_untrusted(f.value) + " " + problem +
                    ": an id is 1 to 32 letters and digits; publish e.g. id=20261126T120000");
            }
            continue;
        }
        if (!other_field(f, name, "sts-record-syntax", sts_version_tag, out.findings, record.extensions))
            usable = false;
    }
    if (!id) {
        usable = false;
        std::string hint;
        for (const auto& f : split.fields) {
            if (iequals(f.name, "id"))
                hint = " (" + quote_untrusted(f.name) + " is not \"id\": field names are case-sensitive)";
        }
        add("sts-record-id-missing", "the record " + quote_untrusted(text) + " has no id field" + hint +
            ", so senders ignore it; add one, e.g. \"v=STSv1; id=20261126T120000\"");
    }
    if (usable) {
        record.id = std::string(*id);
        out.record = std::move(record);
    }
    bound_findings(out.findings, name);
    return out;
}

tlsrpt_record_evaluation evaluate_tlsrpt_records(std::string_view domain, const std::vector<std::string>& txts)
{
    tlsrpt_record_evaluation out;
    const std::string name = "_smtp._tls." + normalize_domain(domain);
    auto add = [&](const char* code, const std::string& message) {
        out.findings.push_back(make_finding(code, name, name + ": " + message));
    };

    // RFC 8460 §3: records not beginning with "v=TLSRPTv1" are discarded.
    const selection sel = select_records(txts, tlsrpt_version_tag, "v=tlsrpt");
    if (sel.tagged.empty()) {
        if (sel.near_miss.empty()) {
            add("tlsrpt-record-missing", "no TXT record begins with \"v=TLSRPTv1\", so senders send no TLS reports; "
                "publish \"v=TLSRPTv1; rua=mailto:tlsrpt@" + normalize_domain(domain) + "\"");
            return out;
        }
        if (sel.near_miss.size() == 1)
            out.text = std::string(sel.near_miss.front());
        for (const auto txt : sel.near_miss) {
            const std::string_view token = version_token(txt);
            std::string why = token == tlsrpt_version_tag ? "begins with white space"
                            : iequals(token, tlsrpt_version_tag) ? "spells the version " + quote_untrusted(token) + " (it is case-sensitive)"
                                                                 : "has the version " + quote_untrusted(token);
            add("tlsrpt-record-syntax", "the record " + quote_untrusted(txt) + " " + why +
                ", so senders ignore it; begin it with exactly \"v=TLSRPTv1\"");
        }
        return out;
    }
    if (sel.tagged.size() > 1) {
        // RFC 8460 §3: if the number of records left is not one, senders assume the
        // domain does not implement TLS-RPT.
        add("tlsrpt-record-multiple", std::to_string(sel.tagged.size()) + " TXT records begin with \"v=TLSRPTv1\" (" +
            list_records(sel.tagged) + "), so senders send no reports; keep one record and list all destinations in "
            "its rua, separated by \",\"");
        return out;
    }

    const std::string_view text = sel.tagged.front();
    out.text = std::string(text);
    split_result split = split_fields(text, tlsrpt_version_tag, name, "tlsrpt-record-syntax", out.findings);
    if (split.broken_after_tag)
        return out;   // a missing rua would only repeat the syntax finding
    bool usable = split.ok;
    bool rua_seen = false;
    std::size_t rua_count = 0;
    tlsrpt_record record;
    for (const auto& f : split.fields) {
        if (f.name == "rua") {
            if (rua_seen) {
                // RFC 8461 §3.2's first-occurrence rule, applied alike: senders differ.
                add("tlsrpt-record-syntax", "rua appears more than once; senders may use only one of them, so put "
                    "every destination into one rua, separated by \",\"");
                continue;
            }
            rua_seen = true;
            // RFC 8460 §3: tlsrpt-rua = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
            std::string_view list = f.value;
            for (;;) {
                const std::size_t comma = list.find(',');
                const std::string_view uri = trim_wsp(list.substr(0, comma));
                ++rua_count;
                if (const std::string problem = rua_problem(uri); problem.empty()) {
                    record.rua.emplace_back(uri);
                } else {
                    add("tlsrpt-rua-invalid", "the rua destination " + quote_untrusted(uri) + " " + problem +
                        "; use mailto:<address> or https://<host>/<path>");
                }
                if (comma == std::string_view::npos)
                    break;
                list.remove_prefix(comma + 1);
            }
            continue;
        }
        if (!other_field(f, name, "tlsrpt-record-syntax", tlsrpt_version_tag, out.findings, record.extensions))
            usable = false;
    }
    if (!rua_seen) {
        usable = false;
        add("tlsrpt-rua-missing", "the record " + quote_untrusted(text) + " has no rua field, so senders have nowhere "
            "to send reports; add e.g. \"rua=mailto:tlsrpt@" + normalize_domain(domain) + "\"");
    } else if (record.rua.empty()) {
        usable = false;
        add("tlsrpt-rua-missing", (rua_count == 1 ? std::string("the only rua destination is not usable")
                                                  : "none of the " + std::to_string(rua_count) + " rua destinations is usable") +
            ", so senders have nowhere to send reports; fix them as the tlsrpt-rua-invalid findings say");
    }
    if (usable)
        out.record = std::move(record);
    bound_findings(out.findings, name);
    return out;
}

} // namespace stswatch
