// The SMTP reply parser on arbitrary bytes: it never throws, what it accepts holds together
// (one code of 2xx-5xx, bounded lines), and a complete reply is also complete in the
// buffer that ends where it ends.
#include "net/smtp_reply.hpp"
#include "tests/fuzz/invariant.hpp"

STSWATCH_FUZZ_TARGET(fuzz_smtp_reply, bytes)
{
    const auto r = parse_smtp_reply(bytes, 256, 20);
    check((r.state == smtp_reply_state::error) == !r.error.empty(), "an error, and only an error, says why");
    if (r.state != smtp_reply_state::complete) return 0;
    check(r.reply.code >= 200 && r.reply.code <= 559, "a reply code of 2xx-5xx");
    check(!r.reply.lines.empty() && r.reply.lines.size() <= 20, "1 to 20 lines");
    check(r.consumed > 0 && r.consumed <= size && bytes[r.consumed - 1] == '\n', "the reply ends at a line end");
    for (const auto& line : r.reply.lines) {
        check(line.size() < 256, "lines are bounded");
        check(line.find('\n') == std::string::npos, "no LF inside a line");
    }
    const auto prefix = parse_smtp_reply(bytes.substr(0, r.consumed), 256, 20);
    check(prefix.state == smtp_reply_state::complete && prefix.reply.lines == r.reply.lines, "the reply alone parses the same");
    const auto ehlo = parse_ehlo_reply(r.reply);
    check(ehlo.keywords.size() < r.reply.lines.size(), "keywords come from the lines after the first");
    return 0;
}
