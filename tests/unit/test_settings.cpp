#include "common/settings.hpp"
#include "tests/support/scratch.hpp"

#include <catch2/catch.hpp>

#include <Poco/AutoPtr.h>
#include <Poco/Util/MapConfiguration.h>
#include <Poco/Util/PropertyFileConfiguration.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

using namespace stswatch;

namespace {

using config_map = std::map<std::string, std::string>;

// Runs with STSWATCH_DB as given (unset when empty) and restores it afterwards.
class scoped_db_env {
public:
    explicit scoped_db_env(const char* value)
    {
        if (const char* old = std::getenv("STSWATCH_DB"))
            saved_ = old;
        if (value != nullptr)
            ::setenv("STSWATCH_DB", value, 1);
        else
            ::unsetenv("STSWATCH_DB");
    }
    ~scoped_db_env()
    {
        if (saved_)
            ::setenv("STSWATCH_DB", saved_->c_str(), 1);
        else
            ::unsetenv("STSWATCH_DB");
    }
    scoped_db_env(const scoped_db_env&) = delete;
    scoped_db_env& operator=(const scoped_db_env&) = delete;

private:
    std::optional<std::string> saved_;
};

settings load(const config_map& values)
{
    Poco::AutoPtr<Poco::Util::MapConfiguration> conf(new Poco::Util::MapConfiguration);
    for (const auto& [k, v] : values)
        conf->setString(k, v);
    return load_settings(*conf);
}

std::string join(const std::vector<std::string>& items)
{
    std::string out;
    for (const auto& i : items)
        out += (out.empty() ? "" : "|") + i;
    return out;
}

// Every field, so that two settings compare as a whole.
std::string describe(const settings& s)
{
    std::ostringstream o;
    o << s.db_url << '\n' << s.https_listen.to_string() << '\n' << s.https_cert << '\n' << s.https_key << '\n'
      << s.https_path << '\n' << s.https_max_connections << '\n' << s.https_threads << '\n'
      << s.https_request_timeout << '\n' << s.https_idle_timeout << '\n' << s.https_handshake_timeout << '\n'
      << s.https_max_per_address << '\n' << s.https_max_header_fields << '\n' << s.https_rate_limit << '\n' << s.https_rate_burst << '\n'
      << s.smtp_listen.to_string() << '\n' << join(s.smtp_recipients) << '\n' << s.smtp_cert << '\n'
      << s.smtp_key << '\n' << s.smtp_hostname << '\n' << s.smtp_require_dkim << '\n' << s.smtp_max_recipients << '\n'
      << s.smtp_max_sessions << '\n' << s.smtp_idle_timeout << '\n' << s.smtp_session_timeout << '\n'
      << s.smtp_max_line_length << '\n' << join(s.accept_domains) << '\n' << s.max_body_bytes << '\n'
      << s.max_report_bytes << '\n' << s.max_json_depth << '\n' << s.spool_dir << '\n' << s.spool_max_bytes << '\n' << s.store_batch_max
      << '\n' << s.store_batch_wait_ms << '\n' << s.store_connections << '\n' << s.rejected_keep << '\n' << s.rejected_max_bytes << '\n' << s.api_listen.to_string()
      << '\n' << s.api_token << '\n' << s.checks_resolver << '\n' << s.checks_trust_anchor << '\n' << s.checks_ca_file << '\n'
      << s.checks_allow_private << '\n' << s.checks_timeout << '\n' << s.checks_mx_concurrency << '\n' << s.checks_cert_expiring_days << '\n'
      << s.monitor_interval << '\n' << s.monitor_concurrency << '\n' << s.monitor_jitter << '\n' << s.log_level << '\n'
      << s.analyzer_db_url << '\n' << s.analyzer_refresh_interval << '\n'
      << s.api_token_file << '\n' << s.api_cert << '\n' << s.api_key << '\n' << s.api_metrics_token << '\n'
      << s.api_metrics_domains << '\n' << s.api_metrics_max_domains << '\n' << s.api_session_hours << '\n' << s.api_threads << '\n' << s.api_max_wrong_tokens << '\n'
      << s.alerts_webhook_url << '\n' << s.alerts_webhook_secret << '\n' << s.alerts_webhook_timeout << '\n'
      << s.alerts_email_relay << '\n' << s.alerts_email_from << '\n' << join(s.alerts_email_to) << '\n'
      << s.alerts_email_username << '\n' << s.alerts_email_password << '\n' << s.alerts_email_starttls << '\n'
      << s.alerts_email_timeout << '\n' << s.alerts_ca_file << '\n' << s.alerts_quiet_period << '\n'
      << s.alerts_digest << '\n' << s.alerts_digest_hour << '\n' << s.alerts_max_attempts << '\n'
      << s.alerts_retry_base << '\n' << s.alerts_interval << '\n' << join(s.warnings);
    return o.str();
}

} // namespace

TEST_CASE("load_settings: an empty configuration gives the documented defaults")
{
    const scoped_db_env env(nullptr);
    const settings s = load({});
    CHECK(s.db_url.empty());
    CHECK(s.https_listen.to_string() == "127.0.0.1:8443");
    CHECK(s.https_path == "/v1/tlsrpt");
    CHECK(s.smtp_listen.to_string() == "127.0.0.1:2525");
    CHECK(s.api_listen.to_string() == "127.0.0.1:8080");
    CHECK(s.accept_domains.empty());
    CHECK(s.max_body_bytes == 10485760);
    CHECK(s.max_report_bytes == 20971520);
    CHECK(s.checks_allow_private == false);
    CHECK(s.monitor_interval == 3600);
    CHECK(s.log_level == "information");
    CHECK(s.warnings.empty());
    CHECK(describe(s) == describe(settings{}));
}

TEST_CASE("load_settings: every key is read into its field")
{
    const scoped_db_env env(nullptr);
    const test::temp_dir dir("stswatch-settings");
    const std::string token_file = dir.write("token.txt", "  from-a-file  \nsecond line ignored\n");
    struct row {
        std::string key, value;
        std::function<bool(const settings&)> holds;
    };
    const std::vector<row> rows = {
        {"db.url", "postgresql://stswatch@db/stswatch", [](auto& s) { return s.db_url == "postgresql://stswatch@db/stswatch"; }},
        {"collector.https.listen", "[::]:443", [](auto& s) { return s.https_listen.host == "::" && s.https_listen.port == 443; }},
        {"collector.https.cert", "/etc/tls/c.pem", [](auto& s) { return s.https_cert == "/etc/tls/c.pem"; }},
        {"collector.https.key", "/etc/tls/k.pem", [](auto& s) { return s.https_key == "/etc/tls/k.pem"; }},
        {"collector.https.path", "/tlsrpt", [](auto& s) { return s.https_path == "/tlsrpt"; }},
        {"collector.https.max_connections", "1000", [](auto& s) { return s.https_max_connections == 1000; }},
        {"collector.https.threads", "8", [](auto& s) { return s.https_threads == 8; }},
        {"collector.https.request_timeout", "60", [](auto& s) { return s.https_request_timeout == 60; }},
        {"collector.https.idle_timeout", "5", [](auto& s) { return s.https_idle_timeout == 5; }},
        {"collector.https.handshake_timeout", "3", [](auto& s) { return s.https_handshake_timeout == 3; }},
        {"collector.https.max_connections_per_address", "8", [](auto& s) { return s.https_max_per_address == 8; }},
        {"collector.https.max_header_fields", "100", [](auto& s) { return s.https_max_header_fields == 100; }},
        {"collector.https.rate_limit", "0", [](auto& s) { return s.https_rate_limit == 0; }},
        {"collector.https.rate_burst", "20", [](auto& s) { return s.https_rate_burst == 20; }},
        {"collector.smtp.listen", ":25", [](auto& s) { return s.smtp_listen.host.empty() && s.smtp_listen.port == 25; }},
        {"collector.smtp.recipients", "TLSRPT@Example.COM, reports@example.org",
         [](auto& s) { return join(s.smtp_recipients) == "TLSRPT@example.com|reports@example.org"; }},
        {"collector.smtp.cert", "/etc/tls/smtp.pem", [](auto& s) { return s.smtp_cert == "/etc/tls/smtp.pem"; }},
        {"collector.smtp.key", "/etc/tls/smtp.key", [](auto& s) { return s.smtp_key == "/etc/tls/smtp.key"; }},
        {"collector.smtp.hostname", "mx.example.net", [](auto& s) { return s.smtp_hostname == "mx.example.net"; }},
        {"collector.smtp.require_dkim", "on", [](auto& s) { return s.smtp_require_dkim; }},
        {"collector.smtp.max_recipients", "5", [](auto& s) { return s.smtp_max_recipients == 5; }},
        {"collector.smtp.max_sessions", "300", [](auto& s) { return s.smtp_max_sessions == 300; }},
        {"collector.smtp.idle_timeout", "60", [](auto& s) { return s.smtp_idle_timeout == 60; }},
        {"collector.smtp.session_timeout", "600", [](auto& s) { return s.smtp_session_timeout == 600; }},
        {"collector.smtp.max_line_length", "2048", [](auto& s) { return s.smtp_max_line_length == 2048; }},
        {"collector.accept_domains", "Example.COM., example.org , ,EXAMPLE.com",
         [](auto& s) { return join(s.accept_domains) == "example.com|example.org"; }},
        {"collector.max_body_bytes", "5000000000", [](auto& s) { return s.max_body_bytes == 5000000000ULL; }},
        {"collector.max_report_bytes", "1048576", [](auto& s) { return s.max_report_bytes == 1048576; }},
        {"collector.max_json_depth", "16", [](auto& s) { return s.max_json_depth == 16; }},
        {"collector.spool_dir", "/var/lib/stswatch/spool", [](auto& s) { return s.spool_dir == "/var/lib/stswatch/spool"; }},
        {"collector.spool_max_bytes", "0", [](auto& s) { return s.spool_max_bytes == 0; }},
        {"collector.store.batch_max", "64", [](auto& s) { return s.store_batch_max == 64; }},
        {"collector.rejected.keep", "0", [](auto& s) { return s.rejected_keep == 0; }},
        {"checks.trust_anchor", "/usr/share/dns/root.key", [](auto& s) { return s.checks_trust_anchor == "/usr/share/dns/root.key"; }},
        {"collector.rejected.max_bytes", "4096", [](auto& s) { return s.rejected_max_bytes == 4096; }},
        {"collector.store.batch_wait_ms", "0", [](auto& s) { return s.store_batch_wait_ms == 0; }},
        {"collector.store.connections", "4", [](auto& s) { return s.store_connections == 4; }},
        {"api.listen", "localhost:9090", [](auto& s) { return s.api_listen.to_string() == "localhost:9090"; }},
        {"api.token", "s3cret", [](auto& s) { return s.api_token == "s3cret"; }},
        {"analyzer.db.url", "host=replica dbname=stswatch", [](auto& s) { return s.analyzer_db_url == "host=replica dbname=stswatch"; }},
        {"analyzer.refresh_interval", "5", [](auto& s) { return s.analyzer_refresh_interval == 5; }},
        {"api.cert", "/etc/c.pem", [](auto& s) { return s.api_cert == "/etc/c.pem"; }},
        {"api.metrics_token", "false", [](auto& s) { return !s.api_metrics_token; }},
        {"api.metrics_domains", "none", [](auto& s) { return s.api_metrics_domains == "none"; }},
        {"api.metrics_max_domains", "7", [](auto& s) { return s.api_metrics_max_domains == 7; }},
        {"api.session_hours", "2", [](auto& s) { return s.api_session_hours == 2; }},
        {"alerts.webhook.url", "https://hooks.example.net/x", [](auto& s) { return s.alerts_webhook_url == "https://hooks.example.net/x"; }},
        {"alerts.email.to", "a@example.net, b@example.net", [](auto& s) { return s.alerts_email_to.size() == 2; }},
        {"alerts.quiet_period", "0", [](auto& s) { return s.alerts_quiet_period == 0; }},
        {"alerts.digest", "yes", [](auto& s) { return s.alerts_digest; }},
        {"alerts.digest_hour", "23", [](auto& s) { return s.alerts_digest_hour == 23; }},
        {"api.token_file", token_file, [](auto& s) { return s.api_token == "from-a-file" && !s.api_token_file.empty(); }},
        {"api.key", "/etc/k.pem", [](auto& s) { return s.api_key == "/etc/k.pem"; }},
        {"api.threads", "3", [](auto& s) { return s.api_threads == 3; }},
        {"api.max_wrong_tokens", "0", [](auto& s) { return s.api_max_wrong_tokens == 0; }},
        {"alerts.webhook.secret", "hmac-key", [](auto& s) { return s.alerts_webhook_secret == "hmac-key"; }},
        {"alerts.webhook.timeout", "3", [](auto& s) { return s.alerts_webhook_timeout == 3; }},
        {"alerts.email.relay", "relay.example.net:587", [](auto& s) { return s.alerts_email_relay == "relay.example.net:587"; }},
        {"alerts.email.from", "stswatch@example.net", [](auto& s) { return s.alerts_email_from == "stswatch@example.net"; }},
        {"alerts.email.username", "u", [](auto& s) { return s.alerts_email_username == "u"; }},
        {"alerts.email.password", "p", [](auto& s) { return s.alerts_email_password == "p"; }},
        {"alerts.email.starttls", "false", [](auto& s) { return !s.alerts_email_starttls; }},
        {"alerts.email.timeout", "5", [](auto& s) { return s.alerts_email_timeout == 5; }},
        {"alerts.ca_file", "/etc/ca.pem", [](auto& s) { return s.alerts_ca_file == "/etc/ca.pem"; }},
        {"alerts.max_attempts", "3", [](auto& s) { return s.alerts_max_attempts == 3; }},
        {"alerts.retry_base", "2", [](auto& s) { return s.alerts_retry_base == 2; }},
        {"alerts.interval", "1", [](auto& s) { return s.alerts_interval == 1; }},
        {"checks.resolver", "[2001:db8::53]:5353", [](auto& s) { return s.checks_resolver == "[2001:db8::53]:5353"; }},
        {"checks.ca_file", "/etc/tls/ca.pem", [](auto& s) { return s.checks_ca_file == "/etc/tls/ca.pem"; }},
        {"checks.allow_private", "Yes", [](auto& s) { return s.checks_allow_private; }},
        {"checks.timeout", "3", [](auto& s) { return s.checks_timeout == 3; }},
        {"checks.mx_concurrency", "2", [](auto& s) { return s.checks_mx_concurrency == 2; }},
        {"checks.cert_expiring_days", "30", [](auto& s) { return s.checks_cert_expiring_days == 30; }},
        {"monitor.interval", "600", [](auto& s) { return s.monitor_interval == 600; }},
        {"monitor.concurrency", "16", [](auto& s) { return s.monitor_concurrency == 16; }},
        {"monitor.jitter", "0", [](auto& s) { return s.monitor_jitter == 0; }},
        {"log.level", "debug", [](auto& s) { return s.log_level == "debug"; }},
    };
    std::set<std::string> covered;
    for (const auto& r : rows) {
        INFO(r.key << " = " << r.value);
        const settings s = load({{r.key, r.value}});
        CHECK(r.holds(s));
        CHECK(s.warnings.empty());
        CHECK(describe(s) != describe(load({})));
        covered.insert(r.key);
    }
    const auto& keys = setting_keys();
    CHECK(covered == std::set<std::string>(keys.begin(), keys.end()));
    CHECK(keys.size() == covered.size());   // no key declared twice
}

TEST_CASE("load_settings: malformed values are refused, naming the key and the value")
{
    const scoped_db_env env(nullptr);
    struct row {
        std::string key, value, reason;
    };
    const row rows[] = {
        {"collector.https.listen", "8443", "collector.https.listen: \"8443\" is not an address and port"},
        {"collector.https.listen", "127.0.0.1:99999", "the port 99999 is over 65535"},
        {"collector.smtp.listen", "::1:25", "needs brackets"},
        {"api.listen", "", "it is empty"},
        {"api.metrics_domains", "all", "is not monitored or none"},
        {"alerts.webhook.url", "ftp://x.example", "is not an http:// or https:// URL"},
        {"alerts.digest_hour", "24", "must be at most 23"},
        {"api.token_file", "/nonexistent/token", "cannot be read"},
        {"alerts.email.relay", "relay.example.net", "is not HOST:PORT"},
        {"collector.https.path", "v1/tlsrpt", "collector.https.path: \"v1/tlsrpt\" is not a URL path"},
        {"collector.https.path", "/v1/tlsrpt?x=1", "is not a URL path"},
        {"collector.https.threads", "0", "collector.https.threads: \"0\" must be at least 1"},
        {"collector.https.threads", "-4", "collector.https.threads: \"-4\" is not a whole number"},
        {"collector.https.max_connections", "0x100", "\"0x100\" is not a whole number"},
        {"collector.https.request_timeout", "30s", "\"30s\" is not a whole number"},
        {"collector.https.idle_timeout", "", "collector.https.idle_timeout: \"\" is not a whole number"},
        {"collector.https.max_header_fields", "4294967296", "is too large (at most 4294967295)"},
        {"collector.max_body_bytes", "10MB", "collector.max_body_bytes: \"10MB\" is not a whole number"},
        {"collector.max_body_bytes", "0", "must be at least 1"},
        {"collector.max_report_bytes", "99999999999999999999", "is not a whole number"},
        {"collector.max_json_depth", "0", "collector.max_json_depth: \"0\" must be at least 1"},
        {"collector.store.batch_max", "0", "must be at least 1"},
        {"collector.rejected.max_bytes", "0", "must be at least 1"},
        {"collector.rejected.keep", "many", "whole number"},
        {"collector.store.connections", "0", "must be at least 1"},
        {"monitor.interval", "0", "monitor.interval: \"0\" must be at least 1"},
        {"monitor.jitter", "51", "monitor.jitter: \"51\" must be at most 50"},
        {"checks.mx_concurrency", "0", "must be at least 1"},
        {"checks.timeout", "301", "checks.timeout: \"301\" must be at most 300"},
        {"monitor.interval", "1h", "is not a whole number"},
        {"checks.allow_private", "maybe", "checks.allow_private: \"maybe\" is not true or false"},
        {"checks.resolver", "dns.example:53", "checks.resolver: \"dns.example:53\" does not name a DNS server"},
        {"checks.resolver", "9.9.9.9", "checks.resolver: \"9.9.9.9\" is not an address and port"},
        {"checks.resolver", "300.1.1.1:53", "does not name a DNS server"},
        {"checks.resolver", "127.0.0.1:0", "does not name a DNS server"},
        {"collector.accept_domains", "example.com, exa mple.org", "collector.accept_domains: \"exa mple.org\" is not a domain name"},
        {"collector.accept_domains", "*.example.com", "\"*.example.com\" is not a domain name"},
        {"collector.smtp.recipients", "tlsrpt", "collector.smtp.recipients: \"tlsrpt\" is not a mail address"},
        {"collector.smtp.recipients", "@example.com", "is not a mail address"},
        {"collector.smtp.recipients", "<tlsrpt@example.com>", "is not a mail address"},
        {"collector.smtp.hostname", "mx_1.example", "collector.smtp.hostname: \"mx_1.example\" is not a host name"},
        {"collector.smtp.require_dkim", "sometimes", "collector.smtp.require_dkim: \"sometimes\" is not true or false"},
        {"collector.smtp.max_recipients", "0", "collector.smtp.max_recipients: \"0\" must be at least 1"},
        {"collector.smtp.max_sessions", "0", "must be at least 1"},
        {"collector.smtp.idle_timeout", "5m", "is not a whole number"},
        {"collector.smtp.session_timeout", "0", "must be at least 1"},
        {"collector.smtp.max_line_length", "100", "collector.smtp.max_line_length: \"100\" must be at least 512"},
        {"log.level", "verbose", "log.level: unknown log level \"verbose\""},
    };
    for (const auto& r : rows) {
        INFO(r.key << " = \"" << r.value << "\"");
        try {
            (void)load({{r.key, r.value}});
            FAIL("accepted");
        } catch (const std::invalid_argument& e) {
            CHECK_THAT(e.what(), Catch::Contains(r.reason));
        }
    }
}

TEST_CASE("load_settings: booleans in the spellings Poco accepts")
{
    const scoped_db_env env(nullptr);
    for (const char* yes : {"true", "TRUE", "yes", "on", "1", " true "})
        CHECK(load({{"checks.allow_private", yes}}).checks_allow_private);
    for (const char* no : {"false", "No", "off", "0"})
        CHECK_FALSE(load({{"checks.allow_private", no}}).checks_allow_private);
}

TEST_CASE("load_settings: STSWATCH_DB overrides db.url")
{
    {
        const scoped_db_env env("host=/run/postgresql dbname=from_env");
        CHECK(load({{"db.url", "dbname=from_file"}}).db_url == "host=/run/postgresql dbname=from_env");
        CHECK(load({}).db_url == "host=/run/postgresql dbname=from_env");
    }
    {
        const scoped_db_env env("");   // set but empty: not an override
        CHECK(load({{"db.url", "dbname=from_file"}}).db_url == "dbname=from_file");
    }
    {
        const scoped_db_env env(nullptr);
        CHECK(load({{"db.url", "dbname=from_file"}}).db_url == "dbname=from_file");
    }
}

TEST_CASE("load_settings: unknown keys in stswatch's namespaces are reported")
{
    const scoped_db_env env(nullptr);
    const settings s = load({{"collector.max_body_byte", "5"},
                             {"collector.https.listen", "127.0.0.1:1"},
                             {"collector.https.certificate", "x.pem"},
                             {"api.tokn", "x"},
                             {"application.name", "stswatch"},   // Poco's own namespace
                             {"system.foo", "bar"}});
    CHECK(join(s.warnings) == "api.tokn: unknown key, ignored|collector.https.certificate: unknown key, ignored|"
                              "collector.max_body_byte: unknown key, ignored");
    CHECK(s.max_body_bytes == settings{}.max_body_bytes);
}

TEST_CASE("parse_listen_address: addresses and ports")
{
    struct good_row {
        std::string text, host;
        std::uint16_t port;
        std::string canonical;
    };
    const good_row good[] = {
        {"127.0.0.1:8443", "127.0.0.1", 8443, "127.0.0.1:8443"},
        {"[::1]:8443", "::1", 8443, "[::1]:8443"},
        {"[::]:443", "::", 443, "[::]:443"},
        {"[fe80::1%eth0]:25", "fe80::1%eth0", 25, "[fe80::1%eth0]:25"},
        {"[::ffff:192.0.2.1]:25", "::ffff:192.0.2.1", 25, "[::ffff:192.0.2.1]:25"},
        {":8443", "", 8443, ":8443"},
        {"0.0.0.0:25", "0.0.0.0", 25, "0.0.0.0:25"},
        {"localhost:8080", "localhost", 8080, "localhost:8080"},
        {" 127.0.0.1:65535 ", "127.0.0.1", 65535, "127.0.0.1:65535"},
        {"127.0.0.1:0", "127.0.0.1", 0, "127.0.0.1:0"},   // the system chooses (tests)
    };
    for (const auto& g : good) {
        INFO(g.text);
        const listen_address a = parse_listen_address(g.text);
        CHECK(a.host == g.host);
        CHECK(a.port == g.port);
        CHECK(a.to_string() == g.canonical);
        CHECK(parse_listen_address(a.to_string()).to_string() == g.canonical);
    }

    struct bad_row {
        std::string text, reason;
    };
    const bad_row bad[] = {
        {"", "it is empty"},
        {"8443", "no port"},
        {"127.0.0.1", "no port"},
        {"127.0.0.1:", "the port \"\" is not a number"},
        {"127.0.0.1:https", "the port \"https\" is not a number"},
        {"127.0.0.1:-1", "is not a number"},
        {"127.0.0.1:65536", "the port 65536 is over 65535"},
        {"::1:8443", "an IPv6 address needs brackets"},
        {"[::1]", "no port after the address"},
        {"[::1]8443", "no port after the address"},
        {"[::1:8443", "no ']'"},
        {"[example.com]:80", "is not an IPv6 address"},
        {"[]:80", "is not an IPv6 address"},
        {"exa mple:80", "is not a host name or address"},
        {"host_name:80", "is not a host name or address"},
    };
    for (const auto& b : bad) {
        INFO(b.text);
        try {
            (void)parse_listen_address(b.text);
            FAIL("accepted");
        } catch (const std::invalid_argument& e) {
            CHECK_THAT(e.what(), Catch::Contains(b.reason));
            CHECK_THAT(e.what(), Catch::Contains("\"" + b.text + "\""));
        }
    }
}

TEST_CASE("split_list: commas, blanks and empty items")
{
    const std::pair<std::string, std::vector<std::string>> rows[] = {
        {"", {}},
        {" , ,, ", {}},
        {"a", {"a"}},
        {"a,b", {"a", "b"}},
        {" a , b ,", {"a", "b"}},
        {"a,,b", {"a", "b"}},
        {"\ta b\t,c", {"a b", "c"}},   // blanks inside an item are kept
    };
    for (const auto& [text, items] : rows) {
        INFO("\"" << text << "\"");
        CHECK(split_list(text) == items);
    }
}

TEST_CASE("config/stswatch.properties documents every key with its true default")
{
    const scoped_db_env env(nullptr);
    std::ifstream file(std::string(STSWATCH_SOURCE_DIR) + "/config/stswatch.properties");
    REQUIRE(file);
    // Each key appears as "#key = …" (commented out: default in force) after a
    // "# Default: VALUE" line; "(empty…)" means the empty string.
    const std::regex key_line(R"(^#?([a-z_.]+) =.*$)");
    const std::regex default_line(R"(^# Default: (\(empty[^)]*\)|\S+).*$)");
    std::map<std::string, std::string> documented;
    std::optional<std::string> last_default;
    std::string line;
    while (std::getline(file, line)) {
        std::smatch m;
        if (std::regex_match(line, m, default_line)) {
            last_default = m[1].str().rfind("(empty", 0) == 0 ? "" : m[1].str();
        } else if (std::regex_match(line, m, key_line)) {
            INFO(line);
            REQUIRE(last_default.has_value());
            CHECK(line.front() == '#');   // no value set in the shipped file
            documented.emplace(m[1].str(), *last_default);
        }
    }
    const auto& keys = setting_keys();
    CHECK(std::set<std::string>(keys.begin(), keys.end()) == [&] {
        std::set<std::string> names;
        for (const auto& [k, v] : documented)
            names.insert(k);
        return names;
    }());
    // The whole file with its defaults written out loads as the built-in defaults.
    std::ostringstream written;
    for (const auto& [k, v] : documented)
        written << k << " = " << v << "\n";
    std::istringstream in(written.str());
    Poco::AutoPtr<Poco::Util::PropertyFileConfiguration> conf(new Poco::Util::PropertyFileConfiguration(in));
    INFO(written.str());
    CHECK(describe(load_settings(*conf)) == describe(settings{}));
}
