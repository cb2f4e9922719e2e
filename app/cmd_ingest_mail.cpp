// stswatch ingest-mail: one report message on stdin, for Postfix pipe(8), procmail or a
// sieve "pipe" action. The MTA reads the exit code (sysexits(3)):
//   0   every report of the message is stored (or was already: a duplicate)
//   65  EX_DATAERR: no report in the message, every report refused, or the message is over
//       collector.max_body_bytes (permanent: the MTA bounces it with the reason on stderr)
//   75  EX_TEMPFAIL: the database cannot take the reports now (the MTA keeps the message
//       in its queue and retries; it is the MTA's queue, not the spool, that waits)
//   78  EX_CONFIG: the configuration is wrong (Postfix defers, so no mail is lost)
#include "app/cli.hpp"

#include "net/dns.hpp"
#include "collector/importer.hpp"
#include "collector/mail_intake.hpp"
#include "mail/mbox.hpp"
#include "store/report_store.hpp"
#include "store/migrations.hpp"

#include <iostream>

namespace stswatch::cli {

void prepare_database(const std::string& db_url)
{
    try {
        migrate_database(db_url);
    } catch (const store_unavailable& e) {
        throw command_error(temp_failure, "stswatch: database: unavailable: " + first_line(e.reason()));
    } catch (const store_error& e) {
        throw command_error(temp_failure, "stswatch: database: " + first_line(e.what()));
    }
}

std::function<std::vector<std::string>(const std::string&)> dkim_lookup_for(const context& ctx)
{
    dns_options o;
    o.server = ctx.settings.checks_resolver;
    try {
        return caching_dkim_lookup(std::make_shared<dns_resolver>(o));
    } catch (const std::invalid_argument& e) {
        throw command_error(config_error, "stswatch: checks.resolver: " + std::string(e.what()));
    }
}

namespace {

// Reads stdin whole, or up to limit + 1 bytes (then drains the rest, so that the MTA
// does not see its pipe closed under it). False when over the limit.
bool read_message(std::uint64_t limit, std::string& out)
{
    char buf[65536];
    bool over = false;
    while (std::cin) {
        std::cin.read(buf, sizeof buf);
        const auto got = static_cast<std::size_t>(std::cin.gcount());
        if (over)
            continue;
        out.append(buf, got);
        if (out.size() > limit) {
            over = true;
            std::string().swap(out);
        }
    }
    if (std::cin.bad())
        throw command_error(temp_failure, "stswatch: ingest-mail: cannot read the message from stdin");
    return !over;
}

} // namespace

int run_ingest_mail(context& ctx)
{
    reject_unknown_options(ctx.args, "ingest-mail");
    if (!ctx.args.empty())
        throw usage_error("ingest-mail: reads one message on stdin and takes no arguments (got \"" + ctx.args[0] + "\")");
    const auto& s = ctx.settings;
    const std::string db_url = require_db_url(ctx);

    std::string message;
    if (!read_message(s.max_body_bytes, message)) {
        std::cerr << "stswatch: ingest-mail: message larger than collector.max_body_bytes (" << s.max_body_bytes
                  << " bytes)\n";
        return data_error;
    }

    // procmail, and Postfix pipe(8) with flags=F, put the mbox From_ line before the message.
    if (looks_like_mbox(message)) {
        const auto end = message.find('\n');
        message.erase(0, end == std::string::npos ? message.size() : end + 1);
    }

    mail_intake_options options = import_options::from(s).mail;
    // The pipe stands in for the SMTP receiver: the same DKIM policy applies (RFC 8460 §3).
    options.require_dkim = s.smtp_require_dkim;
    options.dkim_lookup = dkim_lookup_for(ctx);

    // Anything unexpected from here on is "try later": the MTA keeps the message.
    try {
        prepare_database(db_url);
        store_options so;
        so.db_url = db_url;
        so.writers = 1;
        so.batch_wait = std::chrono::milliseconds(0);
        so.rejected = {s.rejected_keep, s.rejected_max_bytes};
        report_store store(so);
        const mail_intake_result r = intake_mail(message, transport::pipe, "pipe", options, store, nullptr);
        switch (r.verdict) {
        case mail_verdict::stored:
            std::cout << r.summary << "\n";
            return ok;
        case mail_verdict::no_report:
        case mail_verdict::rejected:
            std::cerr << "stswatch: ingest-mail: " << r.summary << "\n";
            return data_error;
        case mail_verdict::try_later:
            std::cerr << "stswatch: ingest-mail: " << r.summary << "\n";
            return temp_failure;
        }
        return temp_failure;
    } catch (const command_error&) {
        throw;
    } catch (const std::exception& e) {
        std::cerr << "stswatch: ingest-mail: " << first_line(e.what()) << "; try again later\n";
        return temp_failure;
    }
}

} // namespace stswatch::cli
