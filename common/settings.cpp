// Configuration: every key stswatch reads, with its default, read and validated here.
#include "common/settings.hpp"
#include "common/text.hpp"

#include "common/domain.hpp"
#include "common/log.hpp"

#include <Poco/Util/AbstractConfiguration.h>

#include <algorithm>
#include <fstream>
#include <cstdlib>
#include <limits>
#include <optional>
#include <set>
#include <stdexcept>
#include <string_view>

namespace stswatch {

namespace {

bool all_digits(std::string_view s)
{
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Decimal digits only: "0x10", "+5", "1e3" and "10MB" are refused rather than half-read.
std::optional<std::uint64_t> parse_whole_number(std::string_view s)
{
    if (!all_digits(s))
        return std::nullopt;
    std::uint64_t n = 0;
    for (const char c : s) {
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (n > (std::numeric_limits<std::uint64_t>::max() - digit) / 10)
            return std::nullopt;
        n = n * 10 + digit;
    }
    return n;
}

[[noreturn]] void bad_address(const std::string& value, std::string_view why)
{
    throw std::invalid_argument("\"" + value + "\" is not an address and port (HOST:PORT, [IPv6]:PORT or :PORT): " +
                                std::string(why));
}

bool is_ipv6_text(std::string_view s)
{
    // Hex groups, colons, an embedded IPv4 tail and a zone ("fe80::1%eth0"); the socket
    // layer parses it for real when binding.
    const auto zone = s.find('%');
    const std::string_view address = s.substr(0, zone);
    if (address.find(':') == std::string_view::npos)
        return false;
    if (zone != std::string_view::npos && zone + 1 == s.size())
        return false;
    const bool address_ok = std::all_of(address.begin(), address.end(), [](char c) {
        return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
    });
    const std::string_view zone_id = zone == std::string_view::npos ? std::string_view{} : s.substr(zone + 1);
    const bool zone_ok = std::all_of(zone_id.begin(), zone_id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
    });
    return address_ok && zone_ok;
}

bool is_ipv4_text(std::string_view s)
{
    int parts = 0;
    for (;;) {
        const auto dot = s.find('.');
        const std::string_view part = s.substr(0, dot);
        const auto n = parse_whole_number(part);
        if (!n || *n > 255 || part.size() > 3)
            return false;
        ++parts;
        if (dot == std::string_view::npos)
            break;
        s.remove_prefix(dot + 1);
    }
    return parts == 4;
}

// Reads keys with their defaults and names the key in every error.
class reader {
public:
    explicit reader(const Poco::Util::AbstractConfiguration& conf) : conf_(conf) {}

    std::string text(const std::string& key, const std::string& fallback = {}) const
    {
        check_declared(key);
        return std::string(text::trim(conf_.getString(key, fallback)));
    }

    template <typename Number>
    Number number(const std::string& key, Number fallback, Number minimum,
                  Number maximum = std::numeric_limits<Number>::max()) const
    {
        const std::string value = text(key, std::to_string(fallback));
        const auto n = parse_whole_number(value);
        if (!n)
            bad_value(key, value, "is not a whole number");
        if (*n > std::numeric_limits<Number>::max())
            bad_value(key, value, "is too large (at most " + std::to_string(std::numeric_limits<Number>::max()) + ")");
        if (*n < minimum)
            bad_value(key, value, "must be at least " + std::to_string(minimum));
        if (*n > maximum)
            bad_value(key, value, "must be at most " + std::to_string(maximum));
        return static_cast<Number>(*n);
    }

    bool flag(const std::string& key, bool fallback) const
    {
        const std::string value = text(key, fallback ? "true" : "false");
        const std::string v = text::lowered(value);
        if (v == "true" || v == "yes" || v == "on" || v == "1")
            return true;
        if (v == "false" || v == "no" || v == "off" || v == "0")
            return false;
        bad_value(key, value, "is not true or false");
    }

    listen_address address(const std::string& key, const listen_address& fallback) const
    {
        const std::string value = text(key, fallback.to_string());
        try {
            return parse_listen_address(value);
        } catch (const std::invalid_argument& e) {
            throw std::invalid_argument(key + ": " + e.what());
        }
    }

    [[noreturn]] static void bad_value(const std::string& key, const std::string& value, const std::string& why)
    {
        throw std::invalid_argument(key + ": \"" + value + "\" " + why);
    }

private:
    static void check_declared(const std::string& key)
    {
        const auto& keys = setting_keys();
        if (std::find(keys.begin(), keys.end(), key) == keys.end())
            throw std::logic_error("configuration key " + key + " is read but not declared in setting_keys()");
    }

    const Poco::Util::AbstractConfiguration& conf_;
};

// Policy domains as the collector compares them (lower-case, no trailing dot), each checked.
std::vector<std::string> read_domains(const reader& r, const std::string& key)
{
    std::vector<std::string> domains;
    for (const auto& item : split_list(r.text(key))) {
        if (!is_valid_domain(item))
            reader::bad_value(key, item, "is not a domain name");
        std::string domain = normalize_domain(item);
        if (std::find(domains.begin(), domains.end(), domain) == domains.end())
            domains.push_back(std::move(domain));
    }
    return domains;
}

// Report addresses: the local part kept as written (RFC 5321 §2.4: it may be case-sensitive),
// the domain lower-cased, since SMTP compares domains without case.
std::vector<std::string> read_addresses(const reader& r, const std::string& key)
{
    std::vector<std::string> addresses;
    for (const auto& item : split_list(r.text(key))) {
        const auto at = item.rfind('@');
        if (at == std::string::npos || at == 0 || !is_valid_domain(item.substr(at + 1)))
            reader::bad_value(key, item, "is not a mail address (local-part@domain)");
        const std::string local = item.substr(0, at);
        if (std::any_of(local.begin(), local.end(),
                        [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == '<' || c == '>'; }))
            reader::bad_value(key, item, "is not a mail address (local-part@domain)");
        addresses.push_back(local + "@" + normalize_domain(item.substr(at + 1)));
    }
    return addresses;
}

// Keys under stswatch's own namespaces that nothing reads: most likely typos, which would
// otherwise silently leave a default in force.
std::vector<std::string> unknown_keys(const Poco::Util::AbstractConfiguration& conf)
{
    const auto& known = setting_keys();
    std::set<std::string> roots;
    for (const auto& k : known)
        roots.insert(k.substr(0, k.find('.')));

    std::vector<std::string> unknown;
    std::vector<std::string> pending(roots.begin(), roots.end());
    while (!pending.empty()) {
        const std::string key = pending.back();
        pending.pop_back();
        Poco::Util::AbstractConfiguration::Keys children;
        conf.keys(key, children);
        for (const auto& child : children)
            pending.push_back(key + "." + child);
        if (conf.has(key) && std::find(known.begin(), known.end(), key) == known.end())
            unknown.push_back(key);
    }
    std::sort(unknown.begin(), unknown.end());
    return unknown;
}

} // namespace

std::string listen_address::to_string() const
{
    if (host.find(':') != std::string::npos)
        return "[" + host + "]:" + std::to_string(port);
    return host + ":" + std::to_string(port);
}

listen_address parse_listen_address(const std::string& value)
{
    const std::string_view v = text::trim(value);
    if (v.empty())
        bad_address(value, "it is empty");

    std::string_view host, port;
    if (v.front() == '[') {
        const auto close = v.find(']');
        if (close == std::string_view::npos)
            bad_address(value, "no ']' after the IPv6 address");
        host = v.substr(1, close - 1);
        if (!is_ipv6_text(host))
            bad_address(value, "\"" + std::string(host) + "\" is not an IPv6 address");
        if (close + 1 >= v.size() || v[close + 1] != ':')
            bad_address(value, "no port after the address");
        port = v.substr(close + 2);
    } else {
        const auto colon = v.rfind(':');
        if (colon == std::string_view::npos)
            bad_address(value, "no port");
        host = v.substr(0, colon);
        port = v.substr(colon + 1);
        if (host.find(':') != std::string_view::npos)
            bad_address(value, "an IPv6 address needs brackets, as in [::1]:8443");
        // An IPv4 address is a valid host name as far as its characters go.
        if (!host.empty() && !is_valid_domain(host))
            bad_address(value, "\"" + std::string(host) + "\" is not a host name or address");
    }
    const auto number = parse_whole_number(port);
    if (!number)
        bad_address(value, "the port \"" + std::string(port) + "\" is not a number");
    if (*number > 65535)
        bad_address(value, "the port " + std::string(port) + " is over 65535");
    return listen_address{std::string(host), static_cast<std::uint16_t>(*number)};
}

const std::vector<std::string>& setting_keys()
{
    static const std::vector<std::string> keys = {
        "db.url",
        "collector.https.listen",
        "collector.https.cert",
        "collector.https.key",
        "collector.https.path",
        "collector.https.max_connections",
        "collector.https.threads",
        "collector.https.request_timeout",
        "collector.https.idle_timeout",
        "collector.https.handshake_timeout",
        "collector.https.max_connections_per_address",
        "collector.https.max_header_fields",
        "collector.https.rate_limit",
        "collector.https.rate_burst",
        "collector.smtp.listen",
        "collector.smtp.recipients",
        "collector.smtp.cert",
        "collector.smtp.key",
        "collector.smtp.hostname",
        "collector.smtp.require_dkim",
        "collector.smtp.max_recipients",
        "collector.smtp.max_sessions",
        "collector.smtp.idle_timeout",
        "collector.smtp.session_timeout",
        "collector.smtp.max_line_length",
        "collector.accept_domains",
        "collector.max_body_bytes",
        "collector.max_report_bytes",
        "collector.max_json_depth",
        "collector.spool_dir",
        "collector.spool_max_bytes",
        "collector.store.batch_max",
        "collector.store.batch_wait_ms",
        "collector.store.connections",
        "collector.rejected.keep",
        "collector.rejected.max_bytes",
        "api.listen",
        "api.token",
        "api.token_file",
        "api.cert",
        "api.key",
        "api.metrics_token",
        "api.metrics_domains",
        "api.metrics_max_domains",
        "api.session_hours",
        "api.threads",
        "api.max_wrong_tokens",
        "analyzer.db.url",
        "analyzer.refresh_interval",
        "checks.resolver",
        "checks.trust_anchor",
        "checks.ca_file",
        "checks.allow_private",
        "checks.timeout",
        "checks.mx_concurrency",
        "checks.cert_expiring_days",
        "monitor.interval",
        "monitor.concurrency",
        "monitor.jitter",
        "alerts.webhook.url",
        "alerts.webhook.secret",
        "alerts.webhook.timeout",
        "alerts.email.relay",
        "alerts.email.from",
        "alerts.email.to",
        "alerts.email.username",
        "alerts.email.password",
        "alerts.email.starttls",
        "alerts.email.timeout",
        "alerts.ca_file",
        "alerts.quiet_period",
        "alerts.digest",
        "alerts.digest_hour",
        "alerts.max_attempts",
        "alerts.retry_base",
        "alerts.interval",
        "log.level",
    };
    return keys;
}

settings load_settings(const Poco::Util::AbstractConfiguration& conf)
{
    const reader r(conf);
    const settings d;   // the defaults
    settings s;

    s.db_url = r.text("db.url");
    if (const char* env = std::getenv("STSWATCH_DB"); env != nullptr && *env != '\0')
        s.db_url = env;

    s.https_listen = r.address("collector.https.listen", d.https_listen);
    s.https_cert = r.text("collector.https.cert");
    s.https_key = r.text("collector.https.key");
    s.https_path = r.text("collector.https.path", d.https_path);
    if (s.https_path.empty() || s.https_path.front() != '/' ||
        s.https_path.find_first_of(" \t?#") != std::string::npos)
        reader::bad_value("collector.https.path", s.https_path, "is not a URL path (it starts with '/', no query)");
    s.https_max_connections = r.number("collector.https.max_connections", d.https_max_connections, 1u);
    s.https_threads = r.number("collector.https.threads", d.https_threads, 1u);
    s.https_request_timeout = r.number("collector.https.request_timeout", d.https_request_timeout, 1u);
    s.https_idle_timeout = r.number("collector.https.idle_timeout", d.https_idle_timeout, 1u);
    s.https_handshake_timeout = r.number("collector.https.handshake_timeout", d.https_handshake_timeout, 1u);
    s.https_max_per_address = r.number("collector.https.max_connections_per_address", d.https_max_per_address, 1u);
    s.https_max_header_fields = r.number("collector.https.max_header_fields", d.https_max_header_fields, 1u);
    s.https_rate_limit = r.number("collector.https.rate_limit", d.https_rate_limit, 0u);
    s.https_rate_burst = r.number("collector.https.rate_burst", d.https_rate_burst, 1u);

    s.smtp_listen = r.address("collector.smtp.listen", d.smtp_listen);
    s.smtp_recipients = read_addresses(r, "collector.smtp.recipients");
    s.smtp_cert = r.text("collector.smtp.cert");
    s.smtp_key = r.text("collector.smtp.key");
    s.smtp_hostname = r.text("collector.smtp.hostname");
    if (!s.smtp_hostname.empty() && !is_valid_domain(s.smtp_hostname))
        reader::bad_value("collector.smtp.hostname", s.smtp_hostname, "is not a host name");
    s.smtp_require_dkim = r.flag("collector.smtp.require_dkim", d.smtp_require_dkim);
    s.smtp_max_recipients = r.number("collector.smtp.max_recipients", d.smtp_max_recipients, 1u);
    s.smtp_max_sessions = r.number("collector.smtp.max_sessions", d.smtp_max_sessions, 1u);
    s.smtp_idle_timeout = r.number("collector.smtp.idle_timeout", d.smtp_idle_timeout, 1u);
    s.smtp_session_timeout = r.number("collector.smtp.session_timeout", d.smtp_session_timeout, 1u);
    // RFC 5321 §4.5.3.1.4: a command line of 512 octets must be accepted.
    s.smtp_max_line_length = r.number("collector.smtp.max_line_length", d.smtp_max_line_length, 512u);

    s.accept_domains = read_domains(r, "collector.accept_domains");
    s.max_body_bytes = r.number<std::uint64_t>("collector.max_body_bytes", d.max_body_bytes, 1);
    s.max_report_bytes = r.number<std::uint64_t>("collector.max_report_bytes", d.max_report_bytes, 1);
    s.max_json_depth = r.number("collector.max_json_depth", d.max_json_depth, 1u);
    s.spool_dir = r.text("collector.spool_dir");
    s.spool_max_bytes = r.number<std::uint64_t>("collector.spool_max_bytes", d.spool_max_bytes, 0);

    s.store_batch_max = r.number("collector.store.batch_max", d.store_batch_max, 1u);
    s.store_batch_wait_ms = r.number("collector.store.batch_wait_ms", d.store_batch_wait_ms, 0u);
    s.store_connections = r.number("collector.store.connections", d.store_connections, 1u);
    s.rejected_keep = r.number<std::uint64_t>("collector.rejected.keep", d.rejected_keep, 0);
    s.rejected_max_bytes = r.number<std::uint64_t>("collector.rejected.max_bytes", d.rejected_max_bytes, 1);

    s.api_listen = r.address("api.listen", d.api_listen);
    s.api_token = r.text("api.token");
    s.api_token_file = r.text("api.token_file");
    // Secrets may stay out of the properties file: api.token_file, or STSWATCH_API_TOKEN.
    if (!s.api_token_file.empty()) {
        std::ifstream in(s.api_token_file);
        std::string line;
        if (!in || !std::getline(in, line))
            reader::bad_value("api.token_file", s.api_token_file, "cannot be read");
        if (!s.api_token.empty())
            reader::bad_value("api.token_file", s.api_token_file, "is set together with api.token");
        s.api_token = std::string(text::trim(line));
        if (s.api_token.empty())
            reader::bad_value("api.token_file", s.api_token_file, "holds an empty first line");
    }
    if (const char* env = std::getenv("STSWATCH_API_TOKEN"); env && *env)
        s.api_token = env;
    s.api_cert = r.text("api.cert");
    s.api_key = r.text("api.key");
    s.api_metrics_token = r.flag("api.metrics_token", d.api_metrics_token);
    s.api_metrics_domains = r.text("api.metrics_domains", d.api_metrics_domains);
    if (s.api_metrics_domains != "monitored" && s.api_metrics_domains != "none")
        reader::bad_value("api.metrics_domains", s.api_metrics_domains, "is not monitored or none");
    s.api_metrics_max_domains = r.number("api.metrics_max_domains", d.api_metrics_max_domains, 0u, 100000u);
    s.api_session_hours = r.number("api.session_hours", d.api_session_hours, 1u, 24u * 30u);
    s.api_threads = r.number("api.threads", d.api_threads, 1u, 256u);
    s.api_max_wrong_tokens = r.number("api.max_wrong_tokens", d.api_max_wrong_tokens, 0u, 1000000u);

    s.alerts_webhook_url = r.text("alerts.webhook.url");
    if (!s.alerts_webhook_url.empty() && s.alerts_webhook_url.rfind("http://", 0) != 0
        && s.alerts_webhook_url.rfind("https://", 0) != 0)
        reader::bad_value("alerts.webhook.url", s.alerts_webhook_url, "is not an http:// or https:// URL");
    s.alerts_webhook_secret = r.text("alerts.webhook.secret");
    s.alerts_webhook_timeout = r.number("alerts.webhook.timeout", d.alerts_webhook_timeout, 1u, 600u);
    s.alerts_email_relay = r.text("alerts.email.relay");
    if (!s.alerts_email_relay.empty()) {
        try {
            if (parse_listen_address(s.alerts_email_relay).port == 0 || s.alerts_email_relay.front() == ':')
                throw std::invalid_argument("needs a host and a port");
        } catch (const std::invalid_argument& e) {
            reader::bad_value("alerts.email.relay", s.alerts_email_relay, std::string("is not HOST:PORT (") + e.what() + ")");
        }
    }
    s.alerts_email_from = r.text("alerts.email.from");
    s.alerts_email_to = split_list(r.text("alerts.email.to"));
    s.alerts_email_username = r.text("alerts.email.username");
    s.alerts_email_password = r.text("alerts.email.password");
    s.alerts_email_starttls = r.flag("alerts.email.starttls", d.alerts_email_starttls);
    s.alerts_email_timeout = r.number("alerts.email.timeout", d.alerts_email_timeout, 1u, 600u);
    s.alerts_ca_file = r.text("alerts.ca_file");
    s.alerts_quiet_period = r.number("alerts.quiet_period", d.alerts_quiet_period, 0u, 7u * 86400u);
    s.alerts_digest = r.flag("alerts.digest", d.alerts_digest);
    s.alerts_digest_hour = r.number("alerts.digest_hour", d.alerts_digest_hour, 0u, 23u);
    s.alerts_max_attempts = r.number("alerts.max_attempts", d.alerts_max_attempts, 1u, 1000u);
    s.alerts_retry_base = r.number("alerts.retry_base", d.alerts_retry_base, 1u, 3600u);
    s.alerts_interval = r.number("alerts.interval", d.alerts_interval, 1u, 3600u);
    s.analyzer_db_url = r.text("analyzer.db.url");
    s.analyzer_refresh_interval = r.number("analyzer.refresh_interval", d.analyzer_refresh_interval, 1u, 86400u);

    s.checks_resolver = r.text("checks.resolver");
    s.checks_trust_anchor = r.text("checks.trust_anchor");
    if (!s.checks_resolver.empty()) {
        listen_address resolver;
        try {
            resolver = parse_listen_address(s.checks_resolver);
        } catch (const std::invalid_argument& e) {
            throw std::invalid_argument(std::string("checks.resolver: ") + e.what());
        }
        // The resolver is where names get resolved, so it cannot itself be a name.
        if (!(is_ipv4_text(resolver.host) || is_ipv6_text(resolver.host)) || resolver.port == 0)
            reader::bad_value("checks.resolver", s.checks_resolver, "does not name a DNS server as IP:PORT");
    }
    s.checks_ca_file = r.text("checks.ca_file");
    s.checks_allow_private = r.flag("checks.allow_private", d.checks_allow_private);
    s.checks_timeout = r.number("checks.timeout", d.checks_timeout, 1u, 300u);
    s.checks_mx_concurrency = r.number("checks.mx_concurrency", d.checks_mx_concurrency, 1u, 64u);
    s.checks_cert_expiring_days = r.number("checks.cert_expiring_days", d.checks_cert_expiring_days, 0u, 365u);
    s.monitor_interval = r.number("monitor.interval", d.monitor_interval, 1u);
    s.monitor_concurrency = r.number("monitor.concurrency", d.monitor_concurrency, 1u, 64u);
    s.monitor_jitter = r.number("monitor.jitter", d.monitor_jitter, 0u, 50u);

    s.log_level = r.text("log.level", d.log_level);
    try {
        (void)log::parse_level(s.log_level);
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(std::string("log.level: ") + e.what());
    }

    for (const auto& key : unknown_keys(conf)) {
        s.warnings.push_back(key + ": unknown key, ignored");
        log::warning("config", "unknown key, ignored", {{"key", key}});
    }
    return s;
}

std::vector<std::string> split_list(const std::string& value)
{
    std::vector<std::string> items;
    std::string_view rest = value;
    for (;;) {
        const auto comma = rest.find(',');
        const std::string_view item = text::trim(rest.substr(0, comma));
        if (!item.empty())
            items.emplace_back(item);
        if (comma == std::string_view::npos)
            break;
        rest.remove_prefix(comma + 1);
    }
    return items;
}

} // namespace stswatch
