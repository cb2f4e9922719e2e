// SMTP reply parsing (RFC 5321 §4.2). See smtp_reply.hpp.
#include "net/smtp_reply.hpp"

#include "common/text.hpp"

#include <algorithm>

namespace stswatch {

namespace {

using text::is_digit;
using text::upper;

std::string excerpt(std::string_view s) { return text::excerpt(s, 60, "..."); }

smtp_reply_parse failed(std::string why)
{
    smtp_reply_parse r;
    r.state = smtp_reply_state::error;
    r.error = std::move(why);
    return r;
}

} // namespace

std::string smtp_reply::text() const
{
    std::string out;
    for (const auto& l : lines) {
        if (!out.empty() && !l.empty()) out += ' ';
        out += l;
    }
    return out;
}

smtp_reply_parse parse_smtp_reply(std::string_view buffer, std::size_t max_line, std::size_t max_lines)
{
    smtp_reply_parse r;
    std::size_t pos = 0;
    while (true) {
        const auto lf = buffer.find('\n', pos);
        if (lf == std::string_view::npos) {
            if (buffer.size() - pos > max_line)
                return failed("a reply line is over " + std::to_string(max_line) + " bytes: " + excerpt(buffer.substr(pos)));
            return r;   // incomplete
        }
        std::string_view line = buffer.substr(pos, lf - pos);
        if (line.size() + 1 > max_line)
            return failed("a reply line is over " + std::to_string(max_line) + " bytes: " + excerpt(line));
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        // RFC 5321 §4.2: Reply-line = *( Reply-code "-" [ textstring ] CRLF )
        //                               Reply-code [ SP textstring ] CRLF
        // with the first digit 2..5 and the second 0..5 (§4.2.1).
        if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]) ||
            line[0] < '2' || line[0] > '5' || line[1] > '5')
            return failed("not an SMTP reply line: " + excerpt(line));
        const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
        bool last = true;
        if (line.size() > 3) {
            if (line[3] == '-')
                last = false;
            else if (line[3] != ' ')
                return failed("no space or hyphen after the reply code: " + excerpt(line));
        }
        // RFC 5321 §4.2.1: every line of a multiline reply carries the same code.
        if (r.reply.code != 0 && code != r.reply.code)
            return failed("the lines of a reply disagree: " + std::to_string(r.reply.code) + " then " +
                          std::to_string(code) + " (" + excerpt(line) + ")");
        r.reply.code = code;
        if (r.reply.lines.size() >= max_lines)
            return failed("a reply has more than " + std::to_string(max_lines) + " lines");
        r.reply.lines.emplace_back(line.size() > 4 ? line.substr(4) : std::string_view{});
        pos = lf + 1;
        if (last) {
            r.state = smtp_reply_state::complete;
            r.consumed = pos;
            return r;
        }
    }
}

bool ehlo_info::has(std::string_view keyword) const
{
    std::string k;
    for (const char c : keyword) k += upper(c);
    return std::find(keywords.begin(), keywords.end(), k) != keywords.end();
}

ehlo_info parse_ehlo_reply(const smtp_reply& reply)
{
    ehlo_info info;
    if (reply.lines.empty()) return info;
    const auto& first = reply.lines.front();
    info.domain = first.substr(0, first.find(' '));
    // RFC 5321 §4.1.1.1: ehlo-line = ehlo-keyword *( SP ehlo-param ); keywords are
    // case-insensitive.
    for (std::size_t i = 1; i < reply.lines.size(); ++i) {
        const auto& line = reply.lines[i];
        std::string keyword;
        for (const char c : line) {
            if (c == ' ' || c == '=' || c == '\t') break;   // "AUTH=LOGIN": an old quirk
            keyword += upper(c);
        }
        if (keyword.empty()) continue;
        if (keyword == "STARTTLS") info.starttls = true;   // RFC 3207 §4
        info.keywords.push_back(std::move(keyword));
    }
    return info;
}

} // namespace stswatch
