// parse_smtp_command on arbitrary lines: it never throws, and what it accepts holds together:
// refusals carry a code and a reason, and accepted paths respect the RFC 5321 limits.
#include "mail/smtp_command.hpp"
#include "tests/fuzz/invariant.hpp"

STSWATCH_FUZZ_TARGET(fuzz_smtp_command, line)
{
    const auto r = parse_smtp_command(line);
    if (!r.command) {
        check(r.error.code == 500 || r.error.code == 501 || r.error.code == 555, "a known refusal code");
        check(!r.error.reason.empty(), "a refusal names its reason");
        check(r.error.enhanced.size() == 5 && r.error.enhanced[0] == '5', "an enhanced code of class 5");
        return 0;
    }
    const auto& c = *r.command;
    check(c.verb_text.size() <= 19, "the echoed verb is bounded");
    for (const char ch : c.verb_text)
        check(static_cast<unsigned char>(ch) >= 0x20 && static_cast<unsigned char>(ch) < 0x7f, "the echoed verb is printable");
    for (const char ch : c.path + c.argument)
        check(ch != '\r' && ch != '\n' && ch != '\0', "no line breaks or NUL in what is kept");
    if (c.verb == smtp_verb::rcpt) check(!c.path.empty(), "a recipient is never the null path");
    if (c.verb == smtp_verb::mail || c.verb == smtp_verb::rcpt) {
        if (const auto at = c.path.rfind('@'); at != std::string::npos) {
            check(at <= smtp_max_local_part + 2, "local part within 64 octets (+ quotes)");
            check(c.path.size() - at - 1 <= smtp_max_domain, "domain within 255 octets");
        }
    }
    if (c.size) check(c.verb == smtp_verb::mail, "SIZE only on MAIL");
    if (!c.body.empty()) check(c.body == "7BIT" || c.body == "8BITMIME", "BODY is 7BIT or 8BITMIME");
    // Parsing is a function of the line: the same line parses the same way again.
    const auto again = parse_smtp_command(line);
    check(again.command && again.command->verb == c.verb && again.command->path == c.path, "deterministic");
    return 0;
}
