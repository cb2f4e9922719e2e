// stswatch alerts test | list [--status pending|sent|failed|skipped] [--limit N] [--json]
//
// test sends a test message to every configured output (docs/alerts.md) and reports each:
// exit 0 when every one took it, 69 when one did not, 78 when none is configured. list
// shows the outbox: the newest deliveries and their events.
#include "app/cli.hpp"

#include "analyzer/alerts.hpp"
#include "analyzer/json_out.hpp"
#include "common/time.hpp"
#include "store/alert_store.hpp"
#include "store/migrations.hpp"

#include <ctime>
#include <iostream>

namespace stswatch::cli {

namespace {

using analysis::json_out;

int test_command(context& ctx)
{
    reject_unknown_options(ctx.args, "alerts test");
    if (!ctx.args.empty())
        throw usage_error("alerts test: takes no arguments");
    const auto& s = ctx.settings;
    if (const auto problem = alerts::settings_problem(s); !problem.empty())
        throw command_error(config_error, "stswatch: alerts: " + problem);
    const auto outputs = alerts::configured_outputs(s);
    if (outputs.empty())
        throw command_error(config_error,
                            "stswatch: alerts: no output configured (set alerts.webhook.url or alerts.email.relay)");
    const auto m = alerts::test_message(format_rfc3339(utc_time{static_cast<std::int64_t>(std::time(nullptr)), 0}));
    bool all_ok = true;
    for (const auto& output : outputs) {
        const auto r = output == "webhook" ? alerts::send_webhook(s, m) : alerts::send_email(s, m);
        const std::string target = output == "webhook" ? s.alerts_webhook_url : s.alerts_email_relay;
        if (r.ok) {
            std::cout << output << " " << target << ": ok\n";
        } else {
            all_ok = false;
            std::cout << output << " " << target << ": failed\n";
            std::cerr << "stswatch: alerts " << output << ": " << r.error << "\n";
        }
    }
    return all_ok ? ok : unavailable;
}

int list_command(context& ctx)
{
    std::string status, limit_text = "50";
    take_option(ctx.args, "--status", status);
    take_option(ctx.args, "--limit", limit_text);
    const bool json = take_flag(ctx.args, "--json");
    reject_unknown_options(ctx.args, "alerts list");
    if (!status.empty() && status != "pending" && status != "sent" && status != "failed" && status != "skipped")
        throw usage_error("alerts list: --status is pending, sent, failed or skipped");
    std::size_t limit = 0;
    try {
        limit = std::stoul(limit_text);
    } catch (const std::exception&) {
        throw usage_error("alerts list: --limit needs a number");
    }
    const std::string url = require_db_url(ctx);
    std::vector<alert_delivery_row> rows;
    try {
        migrate_database(url);
        rows = alert_store(url).deliveries(status, limit);
    } catch (const store_unavailable&) {
        throw;
    } catch (const store_error& e) {
        throw command_error(unavailable, "stswatch: database: " + first_line(e.what()));
    }
    if (json) {
        json_out j;
        j.begin_object().key("deliveries").begin_array();
        for (const auto& d : rows) {
            j.begin_object();
            j.field("id", d.id).field("output", d.output).field("status", d.status).field("mode", d.mode);
            j.field("attempts", d.attempts);
            j.key("sent_at");
            d.sent_at.empty() ? j.null() : j.value(d.sent_at);
            j.key("last_error");
            d.last_error.empty() ? j.null() : j.value(d.last_error);
            j.key("event").begin_object();
            j.field("id", "evt-" + std::to_string(d.event.id)).field("kind", d.event.kind);
            j.field("domain", d.event.domain).field("occurred_at", d.event.occurred_at);
            j.field("summary", d.event.summary);
            j.end_object();
            j.end_object();
        }
        j.end_array().end_object();
        std::cout << j.text() << "\n";
        return ok;
    }
    if (rows.empty()) {
        std::cout << "no alerts\n";
        return ok;
    }
    for (const auto& d : rows) {
        std::cout << d.event.occurred_at << "  " << d.output << "  " << d.status;
        if (d.status == "sent")
            std::cout << " " << d.sent_at;
        else if (d.attempts > 0)
            std::cout << " (" << d.attempts << (d.attempts == 1 ? " attempt" : " attempts") << ")";
        std::cout << "  " << d.event.summary << "\n";
        if (!d.last_error.empty() && d.status != "sent")
            std::cout << "    " << d.last_error << "\n";
    }
    return ok;
}

} // namespace

int run_alerts(context& ctx)
{
    if (ctx.args.empty())
        throw usage_error("alerts: needs a subcommand: test or list");
    const std::string sub = ctx.args.front();
    ctx.args.erase(ctx.args.begin());
    if (sub == "test")
        return test_command(ctx);
    if (sub == "list")
        return list_command(ctx);
    throw usage_error("alerts: unknown subcommand \"" + sub + "\" (test or list)");
}

} // namespace stswatch::cli
