// Configuration: every key stswatch reads, with its default, read at one place.
// The keys and defaults are documented in config/stswatch.properties.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace Poco::Util { class AbstractConfiguration; }

namespace stswatch {

struct listen_address {
    std::string host;
    std::uint16_t port = 0;
    std::string to_string() const;
};

// "127.0.0.1:8443", "[::1]:8443", ":8443" (all addresses), "localhost:8443"; port 0 lets
// the system choose (tests). Throws std::invalid_argument naming the value when it is not
// an address and port.
listen_address parse_listen_address(const std::string& value);

struct settings {
    std::string db_url;                       // db.url (STSWATCH_DB overrides)

    listen_address https_listen{"127.0.0.1", 8443};   // collector.https.listen
    std::string https_cert;                   // collector.https.cert
    std::string https_key;                    // collector.https.key
    std::string https_path = "/v1/tlsrpt";    // collector.https.path
    unsigned https_max_connections = 256;     // collector.https.max_connections
    unsigned https_threads = 64;              // collector.https.threads
    unsigned https_request_timeout = 30;      // collector.https.request_timeout (seconds, whole request)
    unsigned https_idle_timeout = 15;         // collector.https.idle_timeout (seconds between bytes)
    unsigned https_handshake_timeout = 5;     // collector.https.handshake_timeout (seconds for the TLS handshake)
    unsigned https_max_per_address = 32;      // collector.https.max_connections_per_address
    unsigned https_max_header_fields = 64;    // collector.https.max_header_fields
    unsigned https_rate_limit = 3000;         // collector.https.rate_limit (requests a minute per address; 0 = off)
    unsigned https_rate_burst = 500;          // collector.https.rate_burst

    listen_address smtp_listen{"127.0.0.1", 2525};     // collector.smtp.listen
    std::vector<std::string> smtp_recipients; // collector.smtp.recipients
    std::string smtp_cert;                    // collector.smtp.cert
    std::string smtp_key;                     // collector.smtp.key
    std::string smtp_hostname;                // collector.smtp.hostname (empty = this host's name)
    bool smtp_require_dkim = false;           // collector.smtp.require_dkim
    unsigned smtp_max_recipients = 50;        // collector.smtp.max_recipients (per message)
    unsigned smtp_max_sessions = 64;          // collector.smtp.max_sessions
    unsigned smtp_idle_timeout = 300;         // collector.smtp.idle_timeout (seconds waiting for a line)
    unsigned smtp_session_timeout = 1800;     // collector.smtp.session_timeout (seconds per session)
    unsigned smtp_max_line_length = 1000;     // collector.smtp.max_line_length (command line octets)

    std::vector<std::string> accept_domains;  // collector.accept_domains (empty = any)
    std::uint64_t max_body_bytes = 10485760;  // collector.max_body_bytes
    std::uint64_t max_report_bytes = 20971520;// collector.max_report_bytes (inflated)
    unsigned max_json_depth = 32;             // collector.max_json_depth
    std::string spool_dir;                    // collector.spool_dir
    std::uint64_t spool_max_bytes = 1073741824; // collector.spool_max_bytes (0 = unbounded)

    unsigned store_batch_max = 256;           // collector.store.batch_max (reports per transaction)
    unsigned store_batch_wait_ms = 2;         // collector.store.batch_wait_ms
    unsigned store_connections = 2;           // collector.store.connections (writer threads)
    std::uint64_t rejected_keep = 10000;      // collector.rejected.keep (refused reports kept; 0 = none)
    std::uint64_t rejected_max_bytes = 1048576; // collector.rejected.max_bytes (per refused report)

    listen_address api_listen{"127.0.0.1", 8080};      // api.listen
    std::string api_token;                    // api.token (or the first line of api.token_file)
    std::string api_token_file;               // api.token_file
    std::string api_cert;                     // api.cert (PEM; TLS when set with api.key)
    std::string api_key;                      // api.key
    bool api_metrics_token = true;            // api.metrics_token (/metrics needs the token)
    std::string api_metrics_domains = "monitored";   // api.metrics_domains (monitored | none)
    unsigned api_metrics_max_domains = 200;   // api.metrics_max_domains
    unsigned api_session_hours = 12;          // api.session_hours (dashboard sign-in lifetime)
    unsigned api_threads = 16;                // api.threads
    unsigned api_max_wrong_tokens = 20;       // api.max_wrong_tokens (per address in 10 minutes; 0 = no lockout)

    std::string alerts_webhook_url;           // alerts.webhook.url (http:// or https://)
    std::string alerts_webhook_secret;        // alerts.webhook.secret (HMAC-SHA256 key)
    unsigned alerts_webhook_timeout = 10;     // alerts.webhook.timeout (seconds per attempt)
    std::string alerts_email_relay;           // alerts.email.relay (HOST:PORT)
    std::string alerts_email_from;            // alerts.email.from
    std::vector<std::string> alerts_email_to; // alerts.email.to
    std::string alerts_email_username;        // alerts.email.username (AUTH PLAIN/LOGIN when set)
    std::string alerts_email_password;        // alerts.email.password
    bool alerts_email_starttls = true;        // alerts.email.starttls (required when true)
    unsigned alerts_email_timeout = 30;       // alerts.email.timeout (seconds per attempt)
    std::string alerts_ca_file;               // alerts.ca_file (extra trust anchors, PEM)
    unsigned alerts_quiet_period = 3600;      // alerts.quiet_period (seconds per domain; 0 = off)
    bool alerts_digest = false;               // alerts.digest (one daily message instead)
    unsigned alerts_digest_hour = 8;          // alerts.digest_hour (UTC)
    unsigned alerts_max_attempts = 12;        // alerts.max_attempts
    unsigned alerts_retry_base = 30;          // alerts.retry_base (seconds, doubled per attempt, at most 1 h)
    unsigned alerts_interval = 5;             // alerts.interval (seconds between outbox reads)

    std::string checks_resolver;              // checks.resolver
    std::string checks_trust_anchor;          // checks.trust_anchor (DNSSEC key file; "" = no validation, no DANE verdicts)
    std::string checks_ca_file;               // checks.ca_file
    bool checks_allow_private = false;        // checks.allow_private
    unsigned checks_timeout = 10;             // checks.timeout (seconds per DNS query, fetch, SMTP step)
    unsigned checks_mx_concurrency = 8;       // checks.mx_concurrency (MX probed at once per domain)
    unsigned checks_cert_expiring_days = 14;  // checks.cert_expiring_days (mx-cert-expiring below this)
    unsigned monitor_interval = 3600;         // monitor.interval
    unsigned monitor_concurrency = 4;         // monitor.concurrency (domains checked at once)
    unsigned monitor_jitter = 10;             // monitor.jitter (percent of the interval, 0..50)

    std::string log_level = "information";    // log.level
    std::string analyzer_db_url;              // analyzer.db.url (a replica; empty = db.url)
    unsigned analyzer_refresh_interval = 60;  // analyzer.refresh_interval (seconds between reads of the refresh queue)

    // Keys under stswatch's namespaces that it does not read (likely typos), as
    // "KEY: unknown key, ignored"; load_settings also logs each one as a warning.
    std::vector<std::string> warnings;
};

// Reads every key from conf (defaults where a key is absent), then applies the environment
// (STSWATCH_DB). Throws std::invalid_argument naming the key on a malformed value.
settings load_settings(const Poco::Util::AbstractConfiguration& conf);

// Every key load_settings reads, in the order of config/stswatch.properties.
const std::vector<std::string>& setting_keys();

// Splits a comma-separated list, trimming blanks and dropping empty items.
std::vector<std::string> split_list(const std::string& value);

} // namespace stswatch
