// SMTP command-line syntax (RFC 5321 §4.1), with the ESMTP parameters of RFC 1870 (SIZE)
// and RFC 6152 (BODY=8BITMIME).
#include "mail/smtp_command.hpp"
#include "common/text.hpp"

#include "common/domain.hpp"

#include <algorithm>
#include <array>

namespace stswatch {

namespace {

std::string upper(std::string_view s)
{
    std::string out(s);
    for (char& c : out) c = text::upper(c);
    return out;
}

// Echoed text in replies stays short and printable.
std::string shown(std::string_view s, std::size_t max = 64)
{
    std::string out;
    for (const char c : s.substr(0, max)) {
        const auto u = static_cast<unsigned char>(c);
        out += (u < 0x20 || u >= 0x7f) ? '?' : c;
    }
    if (s.size() > max) out += "...";
    return out;
}

smtp_parse_result refuse(int code, std::string enhanced, std::string reason)
{
    smtp_parse_result r;
    r.error = smtp_parse_error{code, std::move(enhanced), std::move(reason)};
    return r;
}

struct verb_name {
    std::string_view name;
    smtp_verb verb;
};
constexpr std::array<verb_name, 12> verbs{{
    {"EHLO", smtp_verb::ehlo}, {"HELO", smtp_verb::helo}, {"MAIL", smtp_verb::mail},
    {"RCPT", smtp_verb::rcpt}, {"DATA", smtp_verb::data}, {"RSET", smtp_verb::rset},
    {"NOOP", smtp_verb::noop}, {"QUIT", smtp_verb::quit}, {"VRFY", smtp_verb::vrfy},
    {"EXPN", smtp_verb::expn}, {"HELP", smtp_verb::help}, {"STARTTLS", smtp_verb::starttls},
}};

// RFC 5321 §4.1.2: esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
bool is_esmtp_keyword(std::string_view k)
{
    if (k.empty() || !std::isalnum(static_cast<unsigned char>(k.front()))) return false;
    return std::all_of(k.begin(), k.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-'; });
}

// RFC 5321 §4.1.2: esmtp-value = 1*(%d33-60 / %d62-126)
bool is_esmtp_value(std::string_view v)
{
    return !v.empty() && std::all_of(v.begin(), v.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u >= 33 && u <= 126 && u != '=';
    });
}

// RFC 5321 §4.1.2 Dot-string local parts, and Quoted-string ones with their quotes kept.
bool is_local_part(std::string_view l)
{
    if (l.empty()) return false;
    if (l.front() == '"') {
        if (l.size() < 2 || l.back() != '"') return false;
        for (std::size_t i = 1; i + 1 < l.size(); ++i) {
            const auto u = static_cast<unsigned char>(l[i]);
            if (u == '\\') {
                if (i + 2 >= l.size()) return false;
                ++i;
                continue;
            }
            if (u < 32 || u > 126 || u == '"') return false;
        }
        return true;
    }
    if (l.front() == '.' || l.back() == '.' || l.find("..") != std::string_view::npos) return false;
    static constexpr std::string_view atext_specials = "!#$%&'*+-/=?^_`{|}~.";
    return std::all_of(l.begin(), l.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || atext_specials.find(c) != std::string_view::npos;
    });
}

// RFC 5321 §4.1.3: an address literal, "[192.0.2.1]" or "[IPv6:…]"; checked loosely.
bool is_address_literal(std::string_view d)
{
    if (d.size() < 3 || d.front() != '[' || d.back() != ']') return false;
    const auto inner = d.substr(1, d.size() - 2);
    return std::all_of(inner.begin(), inner.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == ':';
    });
}

// Parses "<…>" at the start of text (or a bare address, which some senders write);
// returns the path and the rest of the line, or an error.
struct path_parse {
    bool ok = false;
    std::string path;
    std::string_view rest;
    std::string why;
};

path_parse read_path(std::string_view text)
{
    path_parse p;
    std::string_view inner;
    if (!text.empty() && text.front() == '<') {
        // A quoted local part may hold '>' : find the closing bracket outside quotes.
        bool quoted = false;
        std::size_t close = std::string_view::npos;
        for (std::size_t i = 1; i < text.size(); ++i) {
            const char c = text[i];
            if (quoted && c == '\\') {
                ++i;
                continue;
            }
            if (c == '"') quoted = !quoted;
            else if (!quoted && c == '>') {
                close = i;
                break;
            }
        }
        if (close == std::string_view::npos) {
            p.why = "no '>' closing the path";
            return p;
        }
        inner = text.substr(1, close - 1);
        p.rest = text.substr(close + 1);
    } else {
        // Tolerated: "MAIL FROM:user@example.com" without brackets (seen from scripts).
        const auto space = text.find(' ');
        inner = text.substr(0, space);
        p.rest = space == std::string_view::npos ? std::string_view{} : text.substr(space);
        if (inner.empty()) {
            p.why = "no path";
            return p;
        }
    }
    if (inner.empty()) {
        p.ok = true;   // the null path <>
        return p;
    }
    // RFC 5321 §4.1.2: a source route ("@a,@b:") is accepted and ignored (Appendix C).
    if (inner.front() == '@') {
        const auto colon = inner.find(':');
        if (colon == std::string_view::npos) {
            p.why = "source route without ':'";
            return p;
        }
        inner.remove_prefix(colon + 1);
    }
    const auto at = inner.rfind('@');
    if (at == std::string_view::npos) {
        // Only RCPT TO:<Postmaster> may go without a domain; the caller decides.
        if (!is_local_part(inner)) {
            p.why = "\"" + shown(inner) + "\" is not a mailbox";
            return p;
        }
        p.ok = true;
        p.path = std::string(inner);
        return p;
    }
    const auto local = inner.substr(0, at);
    const auto domain = inner.substr(at + 1);
    if (local.size() > smtp_max_local_part) {
        p.why = "local part longer than 64 octets (RFC 5321 §4.5.3.1.1)";
        return p;
    }
    if (domain.size() > smtp_max_domain) {
        p.why = "domain longer than 255 octets (RFC 5321 §4.5.3.1.2)";
        return p;
    }
    if (!is_local_part(local)) {
        p.why = "\"" + shown(local) + "\" is not a valid local part";
        return p;
    }
    if (!is_address_literal(domain) && !is_valid_domain(domain)) {
        p.why = "\"" + shown(domain) + "\" is not a domain";
        return p;
    }
    p.ok = true;
    p.path = std::string(inner);
    return p;
}

// " SIZE=123 BODY=8BITMIME" → parameters; false with why on a malformed one.
bool read_parameters(std::string_view text, smtp_command& cmd, std::string& why)
{
    while (true) {
        text = text::trim_wsp(text);
        if (text.empty()) return true;
        const auto end = text.find_first_of(" \t");
        const auto item = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view{} : text.substr(end);
        const auto eq = item.find('=');
        const auto keyword = item.substr(0, eq);
        const auto value = eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1);
        if (!is_esmtp_keyword(keyword) || (eq != std::string_view::npos && !is_esmtp_value(value))) {
            why = "malformed parameter \"" + shown(item) + "\"";
            return false;
        }
        cmd.parameters.emplace_back(upper(keyword), std::string(value));
    }
}

} // namespace

const char* to_string(smtp_verb v)
{
    for (const auto& n : verbs)
        if (n.verb == v) return n.name.data();
    return "UNKNOWN";
}

smtp_parse_result parse_smtp_command(std::string_view line)
{
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    for (const char c : line) {
        const auto u = static_cast<unsigned char>(c);
        // RFC 5321 §2.3.8 and §4.1.1: commands are US-ASCII text; a CR or NUL inside a line is
        // how smuggling attacks start, so such a line is refused whole.
        if ((u < 0x20 && c != '\t') || u == 0x7f)
            return refuse(500, "5.5.2", "control character in the command line");
    }
    const auto space = line.find(' ');
    const auto verb_text = line.substr(0, space);
    std::string_view args = space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);

    smtp_command cmd;
    cmd.verb_text = upper(shown(verb_text, 16));
    if (verb_text.empty()) return refuse(500, "5.5.2", "empty command");
    for (const auto& n : verbs)
        if (text::iequals(verb_text, n.name)) cmd.verb = n.verb;
    if (cmd.verb == smtp_verb::unknown) {
        smtp_parse_result r;
        r.command = std::move(cmd);
        return r;
    }
    for (const char c : args)
        if (static_cast<unsigned char>(c) >= 0x80)
            return refuse(501, "5.5.4", "non-ASCII characters in the arguments (SMTPUTF8 is not offered)");

    switch (cmd.verb) {
    case smtp_verb::ehlo:
    case smtp_verb::helo: {
        // RFC 5321 §4.1.1.1: EHLO takes a domain or address literal. Clients send all kinds of
        // names here; only its presence is required, as a receiver that refuses a bad HELO
        // name loses reports from misconfigured but honest senders.
        const auto domain = text::trim_wsp(args);
        if (domain.empty())
            return refuse(501, "5.5.4", cmd.verb_text + " requires a domain or address literal");
        cmd.argument = std::string(domain.substr(0, domain.find_first_of(" \t")));
        break;
    }
    case smtp_verb::mail:
    case smtp_verb::rcpt: {
        const bool mail = cmd.verb == smtp_verb::mail;
        const std::string_view keyword = mail ? "FROM:" : "TO:";
        if (args.size() < keyword.size() || !text::iequals(args.substr(0, keyword.size()), keyword))
            return refuse(501, "5.5.4", std::string("syntax: ") + (mail ? "MAIL FROM:<address>" : "RCPT TO:<address>"));
        // RFC 5321 §4.1.1.2 allows no space after the colon; many clients send one.
        auto path = read_path(text::trim_wsp(args.substr(keyword.size())));
        if (!path.ok) return refuse(501, mail ? "5.1.7" : "5.1.3", "bad address: " + path.why);
        cmd.path = std::move(path.path);
        if (!mail) {
            if (cmd.path.empty()) return refuse(501, "5.1.3", "the null path <> is not a recipient");
            // RFC 5321 §4.5.1: "Postmaster" without a domain, in any case.
            if (cmd.path.find('@') == std::string::npos) {
                if (!text::iequals(cmd.path, "postmaster"))
                    return refuse(501, "5.1.3", "bad address: \"" + shown(cmd.path) + "\" has no domain");
                cmd.postmaster = true;
            }
        } else if (!cmd.path.empty() && cmd.path.find('@') == std::string::npos) {
            return refuse(501, "5.1.7", "bad address: \"" + shown(cmd.path) + "\" has no domain");
        }
        std::string why;
        if (!read_parameters(path.rest, cmd, why)) return refuse(501, "5.5.4", why);
        for (const auto& [key, value] : cmd.parameters) {
            if (mail && key == "SIZE") {
                // RFC 1870 §6: size-value = 1*20DIGIT
                if (value.empty() || value.size() > 20
                    || !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
                    return refuse(501, "5.5.4", "SIZE=" + shown(value) + " is not a number of octets");
                std::uint64_t n = 0;
                for (const char c : value) {
                    const auto digit = static_cast<std::uint64_t>(c - '0');
                    n = n > (UINT64_MAX - digit) / 10 ? UINT64_MAX : n * 10 + digit;
                }
                cmd.size = n;
            } else if (mail && key == "BODY") {
                // RFC 6152 §2: BODY=8BITMIME or BODY=7BIT.
                const auto body = upper(value);
                if (body != "7BIT" && body != "8BITMIME")
                    return refuse(501, "5.5.4", "BODY=" + shown(value) + " is not 7BIT or 8BITMIME");
                cmd.body = body;
            } else {
                // RFC 5321 §4.1.1.11: parameters of extensions not offered are refused with 555.
                return refuse(555, "5.5.4", key + " parameter not recognized");
            }
        }
        break;
    }
    case smtp_verb::data:
    case smtp_verb::rset:
    case smtp_verb::quit:
    case smtp_verb::starttls:
        // RFC 5321 §4.1.1.4/5/10 and RFC 3207 §4: these take no argument.
        if (!text::trim_wsp(args).empty())
            return refuse(501, "5.5.4", cmd.verb_text + " takes no argument");
        break;
    case smtp_verb::vrfy:
    case smtp_verb::expn:
        if (text::trim_wsp(args).empty()) return refuse(501, "5.5.4", cmd.verb_text + " requires an argument");
        cmd.argument = std::string(text::trim_wsp(args));
        break;
    case smtp_verb::noop:
    case smtp_verb::help:
        cmd.argument = std::string(text::trim_wsp(args));
        break;
    case smtp_verb::unknown:
        break;
    }
    smtp_parse_result r;
    r.command = std::move(cmd);
    return r;
}

std::string smtp_address_domain(std::string_view address)
{
    const auto at = address.rfind('@');
    if (at == std::string_view::npos) return {};
    return normalize_domain(address.substr(at + 1));
}

bool smtp_recipient_matches(std::string_view address, const std::vector<std::string>& recipients)
{
    const auto at = address.rfind('@');
    if (at == std::string_view::npos) return false;
    const auto local = address.substr(0, at);
    const auto domain = normalize_domain(address.substr(at + 1));
    return std::any_of(recipients.begin(), recipients.end(), [&](const std::string& r) {
        const auto r_at = r.rfind('@');
        return r_at != std::string::npos && std::string_view(r).substr(0, r_at) == local
            && normalize_domain(std::string_view(r).substr(r_at + 1)) == domain;
    });
}

} // namespace stswatch
