// stswatch serve: the collector (HTTPS and SMTP report intake), the monitor (checks of the
// monitored domains every monitor.interval) and the analyzer (incidents of the domains that
// reports touched) as a long-running service.
//
// A Poco ServerApplication: initialize() is where the configuration is already loaded (by
// the CLI), main() migrates the schema, starts the store, the receivers and the monitor,
// waits for SIGINT/SIGTERM and stops them in order, so that every acknowledged report is
// committed.
#include "app/cli.hpp"

#include "analyzer/alerts.hpp"
#include "analyzer/incidents.hpp"
#include "analyzer/web.hpp"
#include "analyzer/web_server.hpp"
#include "checks/checker.hpp"
#include "net/dns.hpp"
#include "checks/monitor.hpp"
#include "collector/dkim_keys.hpp"
#include "collector/https_receiver.hpp"
#include "store/report_store.hpp"
#include "collector/smtp_receiver.hpp"
#include "collector/spool.hpp"
#include "common/log.hpp"
#include "common/text.hpp"
#include "store/migrations.hpp"

#include <Poco/Util/ServerApplication.h>

#include <csignal>
#include <iostream>

namespace stswatch::cli {

namespace {

class serve_application : public Poco::Util::ServerApplication {
public:
    explicit serve_application(const stswatch::settings& s) : settings_(s) {}
    int exit_code() const { return exit_code_; }

protected:
    int main(const std::vector<std::string>&) override
    {
        // Block the termination signals before any thread starts, so that they reach
        // waitForTerminationRequest() and not a worker thread.
        sigset_t signals;
        sigemptyset(&signals);
        sigaddset(&signals, SIGINT);
        sigaddset(&signals, SIGTERM);
        sigaddset(&signals, SIGQUIT);
        pthread_sigmask(SIG_BLOCK, &signals, nullptr);
        std::signal(SIGPIPE, SIG_IGN);

        const auto& s = settings_;
        try {
            auto result = migrate_database(s.db_url);
            for (const auto& name : result.applied)
                log::info("db", "applied migration", {{"name", name}});
            log::info("db", "schema ready", {{"version", std::to_string(result.version)}});
        } catch (const store_unavailable& e) {
            log::error("db", "cannot connect", {{"error", first_line(e.reason())}});
            return exit_code_ = database_unavailable(e);
        }

        if (s.https_cert.empty() || s.https_key.empty()) {
            std::cerr << "stswatch: collector.https.cert and collector.https.key must name PEM files\n";
            return exit_code_ = config_error;
        }

        if (const auto problem = alerts::settings_problem(s); !problem.empty()) {
            std::cerr << "stswatch: alerts: " << problem << "\n";
            return exit_code_ = config_error;
        }

        store_options so;
        so.db_url = s.db_url;
        so.writers = s.store_connections;
        so.batch_max = s.store_batch_max;
        so.batch_wait = std::chrono::milliseconds(s.store_batch_wait_ms);
        so.rejected = {s.rejected_keep, s.rejected_max_bytes};
        report_store store(so);

        // docs/contracts.md: with the database away, a report fsynced in the spool is durable too.
        std::unique_ptr<spool> waiting;
        std::unique_ptr<spool_drainer> drainer;
        if (!s.spool_dir.empty()) {
            try {
                waiting = std::make_unique<spool>(s.spool_dir, s.spool_max_bytes);
            } catch (const std::exception& e) {
                std::cerr << "stswatch: collector.spool_dir " << s.spool_dir << ": " << e.what() << "\n";
                return exit_code_ = config_error;
            }
            if (waiting->count())
                log::info("spool", "reports waiting from an earlier run", {{"count", std::to_string(waiting->count())}});
            drainer = std::make_unique<spool_drainer>(*waiting, store, s.max_report_bytes, s.max_json_depth,
                                                      std::chrono::seconds(10));
            drainer->poke();
        } else {
            log::warning("collector", "collector.spool_dir is not set: reports get 503 while the database is unavailable");
        }

        auto options = https_receiver_options::from(s);
        options.spool = waiting.get();
        std::unique_ptr<https_receiver> https;
        try {
            https = std::make_unique<https_receiver>(options, store);
            https->start();
        } catch (const std::exception& e) {
            std::cerr << "stswatch: collector.https.listen " << s.https_listen.to_string() << ": " << e.what() << "\n";
            return exit_code_ = unavailable;
        }

        if (s.api_cert.empty() != s.api_key.empty()) {
            std::cerr << "stswatch: api.cert and api.key must be set together (HTTPS for the API)\n";
            return exit_code_ = config_error;
        }
        if (s.smtp_cert.empty() != s.smtp_key.empty()) {
            std::cerr << "stswatch: collector.smtp.cert and collector.smtp.key must be set together (STARTTLS)\n";
            return exit_code_ = config_error;
        }
        // RFC 8460 §3: DKIM keys of report mail come from DNS, through the resolver the
        // checks use (checks.resolver), cached for every SMTP session; kept ten minutes so
        // that a rotated key is seen while the service runs.
        std::shared_ptr<dns_resolver> resolver;
        try {
            dns_options dns;
            dns.server = s.checks_resolver;
            resolver = std::make_shared<dns_resolver>(dns);
        } catch (const std::exception& e) {
            std::cerr << "stswatch: checks.resolver " << s.checks_resolver << ": " << e.what() << "\n";
            return exit_code_ = config_error;
        }
        auto smtp_options = smtp_receiver_options::from(s);
        smtp_options.spool = waiting.get();
        smtp_options.intake.dkim_lookup = caching_dkim_lookup(resolver, 4096, std::chrono::minutes(10));
        std::unique_ptr<smtp_receiver> smtp;
        try {
            smtp = std::make_unique<smtp_receiver>(smtp_options, store);
            smtp->start();
        } catch (const std::exception& e) {
            std::cerr << "stswatch: collector.smtp.listen " << s.smtp_listen.to_string() << ": " << e.what() << "\n";
            return exit_code_ = unavailable;
        }

        auto monitored = start_monitor(s);

        // docs/analysis.md: the incidents of the domains that new reports touched, computed
        // again every analyzer.refresh_interval, so that alerts fire once per incident.
        analysis::refresher_options ro;
        ro.db_url = s.db_url;
        ro.poll = std::chrono::seconds(s.analyzer_refresh_interval);
        analysis::incident_refresher refresher(ro);
        refresher.start();
        log::info("analyzer", "started", {{"refresh_interval", std::to_string(s.analyzer_refresh_interval)}});

        // docs/alerts.md: the outbox's events to the configured outputs.
        std::unique_ptr<alerts::dispatcher> alerting;
        if (const auto outputs = alerts::configured_outputs(s); !outputs.empty()) {
            alerting = std::make_unique<alerts::dispatcher>(s);
            alerting->start();
            log::info("alerts", "started", {{"outputs", text::join(outputs, ",")}});
        }

        // The API, /metrics and the dashboard (docs/api.md), on api.listen; off without a token.
        std::unique_ptr<web::services> web_services;
        std::unique_ptr<web::web_server> api;
        if (s.api_token.empty()) {
            log::warning("api", "api.token is not set: the API, /metrics and the dashboard are off");
        } else {
            web_services = std::make_unique<web::services>(s);
            api = std::make_unique<web::web_server>(web::web_server_options::from(s), web::make_router(*web_services));
            try {
                api->start();
            } catch (const std::exception& e) {
                std::cerr << "stswatch: api.listen " << s.api_listen.to_string() << ": " << e.what() << "\n";
                return exit_code_ = unavailable;
            }
            log::info("api", "listening", {{"address", s.api_listen.host + ":" + std::to_string(api->port())},
                                           {"tls", s.api_cert.empty() ? "no" : "yes"}});
        }

        waitForTerminationRequest();
        if (api) {
            api->stop();
            log::info("api", "stopped");
        }
        if (alerting) {
            alerting->stop();
            log::info("alerts", "stopped");
        }
        refresher.stop();
        log::info("analyzer", "stopped", {{"refreshed", std::to_string(refresher.refreshed())}});
        // The monitor first: it lets the checks running finish and saves them, and makes
        // the domains it had claimed but not started due again.
        monitored.reset();
        log::info("monitor", "stopped");
        log::info("collector", "stopping");
        https->stop();
        smtp->stop();
        drainer.reset();
        auto c = store.counters();
        log::info("collector", "stopped", {{"stored", std::to_string(c.stored)},
                                           {"duplicates", std::to_string(c.duplicates)},
                                           {"batches", std::to_string(c.batches)}});
        return exit_code_ = ok;
    }

private:
    // Checks each due domain with run_check; the monitor's check threads share one resolver,
    // which answers queries from several threads at once (net/dns.cpp).
    static std::unique_ptr<monitor> start_monitor(const stswatch::settings& s)
    {
        monitor_options mo;
        mo.db_url = s.db_url;
        mo.interval_s = s.monitor_interval;
        mo.jitter_percent = s.monitor_jitter;
        mo.concurrency = s.monitor_concurrency;
        const check_options co = check_options::from(s);
        dns_options dns;
        dns.server = s.checks_resolver;
        dns.timeout_ms = s.checks_timeout * 1000;
        dns.trust_anchor_file = s.checks_trust_anchor;
        auto resolver = std::make_shared<dns_resolver>(dns);
        auto check = [co, resolver](const std::string& domain) { return run_check(domain, *resolver, co); };
        auto m = std::make_unique<monitor>(mo, check);
        m->start();
        log::info("monitor", "started", {{"interval", std::to_string(mo.interval_s)},
                                         {"concurrency", std::to_string(mo.concurrency)}});
        return m;
    }

    stswatch::settings settings_;
    int exit_code_ = ok;
};

} // namespace

int run_serve(context& ctx)
{
    reject_unknown_options(ctx.args, "serve");
    if (!ctx.args.empty())
        throw usage_error("serve: unexpected argument \"" + ctx.args.front() + "\"");
    require_db_url(ctx);
    serve_application app(ctx.settings);
    // Options were taken by the CLI already; Poco sees only the program name.
    app.run(std::vector<std::string>{"stswatch"});
    return app.exit_code();
}

} // namespace stswatch::cli
