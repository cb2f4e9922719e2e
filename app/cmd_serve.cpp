// stswatch serve: the collector (HTTPS and SMTP report intake), the monitor (checks of the
// monitored domains every monitor.interval) and the analyzer (incidents of the domains that
// reports touched) as a long-running service.
//
// A Poco ServerApplication: initialize() is where the configuration is already loaded (by
// the CLI), main() migrates the schema, starts the store, the receivers and the monitor,
// waits for SIGINT/SIGTERM and stops them in order, so that every acknowledged report is
// committed. With collector.spool_dir set it starts during a database outage too: intake
// spools, and the migrations and the parts that read the database wait for it.
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
#include "common/worker.hpp"
#include "store/migrations.hpp"

#include <Poco/Util/ServerApplication.h>

#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <thread>

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
        // With a spool, a database away at start (a reboot during an outage) does not keep
        // intake shut: reports go to the spool, and the migrations and every part that reads
        // the database wait for it in the background. Without one, nothing could take them.
        std::string waiting_for_database;
        try {
            migrate_now(s.db_url);
        } catch (const store_unavailable& e) {
            if (s.spool_dir.empty()) {
                log::error("db", "cannot connect", {{"error", first_line(e.reason())}});
                log::info("db", "set collector.spool_dir to take reports into the spool while the database is away");
                return exit_code_ = database_unavailable(e);
            }
            waiting_for_database = first_line(e.reason());
            log::warning("db", "cannot connect at start: reports go to the spool; the migrations, the monitor, the "
                               "analyzer, alerts and the API wait for the database",
                         {{"error", waiting_for_database}});
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
        if (!waiting_for_database.empty())
            store.pause("not reached at start (" + waiting_for_database + "); migrations pending");

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

        // The parts that read the database start once its schema is ready: now, or when the
        // waiter below has migrated it.
        database_parts parts(s);
        worker database_waiter;
        if (waiting_for_database.empty()) {
            if (!parts.start(exit_code_))
                return exit_code_;
        } else {
            database_waiter = worker("db-wait", [&](std::stop_token stop) {
                wait_for_database(stop, store, drainer.get(), parts);
            });
        }

        waitForTerminationRequest();
        bound_the_shutdown();
        database_waiter.stop();
        parts.stop();
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
    // Every acknowledged report is committed or fsynced in the spool before its answer, so
    // nothing is lost by ending a shutdown that hangs (a peer that never reads, a resolver or
    // a database that does not answer): past the grace period serve exits at once, with a
    // last line that says so. The stopping parts each have bounds of their own; this is the
    // bound on them all.
    static constexpr auto shutdown_grace = std::chrono::seconds(20);

    void bound_the_shutdown()
    {
        std::thread([] {
            std::this_thread::sleep_for(shutdown_grace);
            log::error("serve", "shutdown did not end in time; exiting now (every acknowledged report is stored or spooled)",
                       {{"grace_s", std::to_string(shutdown_grace.count())}});
            std::_Exit(unavailable);
        }).detach();
    }

    static void migrate_now(const std::string& db_url)
    {
        auto result = migrate_database(db_url);
        for (const auto& name : result.applied)
            log::info("db", "applied migration", {{"name", name}});
        log::info("db", "schema ready", {{"version", std::to_string(result.version)}});
    }

    // What reads the database besides intake: the monitor, the incident refresher, alerts
    // and the API with /metrics and the dashboard, started together and stopped in order.
    class database_parts {
    public:
        explicit database_parts(const stswatch::settings& s) : s_(s) {}

        // False (with exit_code set) when a part cannot start: a listener's address in use.
        bool start(int& exit_code)
        {
            std::lock_guard lock(mutex_);
            if (stopped_)
                return true;
            monitored_ = start_monitor(s_);

            // docs/analysis.md: the incidents of the domains that new reports touched,
            // computed again every analyzer.refresh_interval, so that alerts fire once per incident.
            analysis::refresher_options ro;
            ro.db_url = s_.db_url;
            ro.poll = std::chrono::seconds(s_.analyzer_refresh_interval);
            refresher_ = std::make_unique<analysis::incident_refresher>(ro);
            refresher_->start();
            log::info("analyzer", "started", {{"refresh_interval", std::to_string(s_.analyzer_refresh_interval)}});

            // docs/alerts.md: the outbox's events to the configured outputs.
            if (const auto outputs = alerts::configured_outputs(s_); !outputs.empty()) {
                alerting_ = std::make_unique<alerts::dispatcher>(s_);
                alerting_->start();
                log::info("alerts", "started", {{"outputs", text::join(outputs, ",")}});
            }

            // The API, /metrics and the dashboard (docs/api.md), on api.listen; off without a token.
            if (s_.api_token.empty()) {
                log::warning("api", "api.token is not set: the API, /metrics and the dashboard are off");
                return true;
            }
            web_services_ = std::make_unique<web::services>(s_);
            api_ = std::make_unique<web::web_server>(web::web_server_options::from(s_),
                                                     web::make_router(*web_services_));
            try {
                api_->start();
            } catch (const std::exception& e) {
                std::cerr << "stswatch: api.listen " << s_.api_listen.to_string() << ": " << e.what() << "\n";
                api_.reset();
                exit_code = unavailable;
                return false;
            }
            log::info("api", "listening", {{"address", s_.api_listen.host + ":" + std::to_string(api_->port())},
                                           {"tls", s_.api_cert.empty() ? "no" : "yes"}});
            return true;
        }

        void stop()
        {
            std::lock_guard lock(mutex_);
            stopped_ = true;
            if (api_) {
                api_->stop();
                log::info("api", "stopped");
            }
            if (alerting_) {
                alerting_->stop();
                log::info("alerts", "stopped");
            }
            if (refresher_) {
                refresher_->stop();
                log::info("analyzer", "stopped", {{"refreshed", std::to_string(refresher_->refreshed())}});
            }
            // The monitor last: it lets the checks running finish and saves them, and makes
            // the domains it had claimed but not started due again.
            if (monitored_) {
                monitored_.reset();
                log::info("monitor", "stopped");
            }
        }

    private:
        const stswatch::settings& s_;
        std::mutex mutex_;
        bool stopped_ = false;
        std::unique_ptr<monitor> monitored_;
        std::unique_ptr<analysis::incident_refresher> refresher_;
        std::unique_ptr<alerts::dispatcher> alerting_;
        std::unique_ptr<web::services> web_services_;
        std::unique_ptr<web::web_server> api_;
    };

    // Serve started with the database away: tries the migrations again, 1 s after start and
    // then at doubling intervals up to 30 s, until they run; then lets the store take
    // reports, the spool drain, and the other parts start.
    void wait_for_database(std::stop_token stop, report_store& store, spool_drainer* drainer, database_parts& parts)
    {
        std::mutex m;
        std::condition_variable_any wake;
        auto delay = std::chrono::seconds(1);
        for (unsigned attempt = 1;; ++attempt) {
            {
                std::unique_lock lock(m);
                if (wake.wait_for(lock, stop, delay, [] { return false; }), stop.stop_requested())
                    return;
            }
            try {
                migrate_now(settings_.db_url);
            } catch (const std::exception& e) {
                if (attempt == 1 || attempt % 10 == 0)
                    log::warning("db", "database still unavailable; reports go to the spool",
                                 {{"attempts", std::to_string(attempt)}, {"error", first_line(e.what())}});
                delay = std::min(delay * 2, std::chrono::seconds(30));
                continue;
            }
            store.resume();
            log::info("db", "database available: the spool drains, the other parts start",
                      {{"attempts", std::to_string(attempt)}});
            if (drainer)
                drainer->poke();
            int code = ok;
            if (!parts.start(code)) {
                exit_code_ = code;
                std::raise(SIGTERM);   // ends waitForTerminationRequest(): serve stops
            }
            return;
        }
    }

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
