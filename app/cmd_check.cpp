// stswatch check [--json] [--resolver IP:PORT] [--ca-file F] [--allow-private] [--no-probe]
//                [--policy-file FILE] DOMAIN...
#include "app/check_text.hpp"
#include "app/cli.hpp"

#include "checks/checker.hpp"
#include "checks/monitor.hpp"
#include "common/domain.hpp"

#include <Poco/JSON/Object.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <unistd.h>

namespace stswatch::cli {

namespace {

// RFC 8461 §3.3: senders read at most 64 KiB of a policy.
constexpr std::size_t max_policy_bytes = 65536;

// The file's bytes, at most limit + 1 of them (so that "too large" can be told); nullopt
// when it cannot be read.
std::optional<std::string> read_file(const std::string& path, std::size_t limit = 16u << 20)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return std::nullopt;
    std::string text;
    char buffer[8192];
    while (text.size() <= limit && in.read(buffer, sizeof buffer))
        text.append(buffer, sizeof buffer);
    if (in.bad())
        return std::nullopt;
    text.append(buffer, static_cast<std::size_t>(in.gcount()));
    return text;
}

// The MX hosts that senders reported for the domain, so that a candidate policy is also
// matched against hosts that are no longer (or not yet) in DNS but still receive mail.
std::vector<std::string> reported_hosts(const context& ctx, const std::string& domain)
{
    if (ctx.settings.db_url.empty()) {
        std::cerr << "stswatch: check: " << domain
                  << ": no database configured (db.url, STSWATCH_DB or --db): MX hosts from stored "
                     "reports were not consulted\n";
        return {};
    }
    try {
        monitor_store store(ctx.settings.db_url);
        return store.reported_mx_hosts(domain);
    } catch (const std::exception& e) {
        std::cerr << "stswatch: check: " << domain << ": warning: database unavailable ("
                  << first_line(e.what()) << "): MX hosts from stored reports were not consulted\n";
        return {};
    }
}

bool colour_wanted()
{
    // https://no-color.org: any value of NO_COLOR turns colour off.
    return ::isatty(STDOUT_FILENO) && std::getenv("NO_COLOR") == nullptr;
}

} // namespace

int run_check(context& ctx)
{
    auto& args = ctx.args;
    const bool json = take_flag(args, "--json");
    const bool allow_private = take_flag(args, "--allow-private");
    const bool no_probe = take_flag(args, "--no-probe");
    std::string resolver_arg, ca_file_arg, policy_file;
    const bool has_resolver = take_option(args, "--resolver", resolver_arg);
    const bool has_ca_file = take_option(args, "--ca-file", ca_file_arg);
    const bool has_policy_file = take_option(args, "--policy-file", policy_file);
    reject_unknown_options(args, "check");

    std::vector<std::string> domains;
    for (const auto& a : args) {
        if (a == "--")
            continue;
        const std::string d = normalize_domain(a);
        if (!is_valid_domain(d))
            throw command_error(usage, "stswatch: check: " + a + ": not a valid domain name");
        domains.push_back(d);
    }
    if (domains.empty())
        throw usage_error("check: no DOMAIN given");
    if (has_policy_file && domains.size() != 1)
        throw usage_error("check: --policy-file takes exactly one DOMAIN");

    check_options options = check_options::from(ctx.settings);
    if (has_ca_file)
        options.ca_file = ca_file_arg;
    options.allow_private = options.allow_private || allow_private;
    options.probe_mx = !no_probe;
    if (!options.ca_file.empty() && !read_file(options.ca_file))
        throw command_error(no_input, "stswatch: check: " + options.ca_file + ": cannot read the CA file");

    if (has_resolver && resolver_arg.empty())
        throw usage_error("check: --resolver needs IP:PORT, got an empty value");
    dns_options dns;
    dns.server = has_resolver ? resolver_arg : ctx.settings.checks_resolver;
    dns.timeout_ms = options.timeout_ms;
    dns.trust_anchor_file = ctx.settings.checks_trust_anchor;
    std::unique_ptr<dns_resolver> resolver;
    try {
        resolver = std::make_unique<dns_resolver>(dns);
    } catch (const std::invalid_argument& e) {
        if (has_resolver)
            throw usage_error("check: --resolver: " + std::string(e.what()));
        throw command_error(config_error, "stswatch: checks.resolver / checks.trust_anchor: " + std::string(e.what()));
    }

    if (has_policy_file) {
        auto text = read_file(policy_file, max_policy_bytes);
        if (!text)
            throw command_error(no_input, "stswatch: check: " + policy_file + ": cannot read the policy file");
        if (text->size() > max_policy_bytes)
            throw command_error(data_error, "stswatch: check: " + policy_file +
                ": larger than 64 KiB, more than senders read (RFC 8461 §3.3)");
        options.candidate_policy = std::move(*text);
        options.extra_mx_hosts = reported_hosts(ctx, domains.front());
    }

    const bool colour = !json && colour_wanted();
    bool any_errors = false, any_dns_unavailable = false, any_failed = false;
    bool first = true;
    for (const auto& domain : domains) {
        check_result result;
        try {
            result = run_check(domain, *resolver, options);
        } catch (const std::exception& e) {
            std::cerr << "stswatch: check: " << domain << ": " << e.what() << "\n";
            any_failed = true;
            continue;
        }
        any_errors = any_errors || has_errors(result.findings);
        any_dns_unavailable = any_dns_unavailable || result.dns_unavailable;
        if (result.dns_unavailable)
            std::cerr << "stswatch: check: " << domain << ": DNS unavailable: the resolver could not answer for "
                      << "the domain's records\n";
        if (json) {
            if (domains.size() == 1) {
                // One domain: one JSON document, indented for people (scripts parse it the same).
                std::ostringstream out;
                to_json(result).stringify(out, 2);
                std::cout << out.str() << "\n";
            } else {
                std::cout << to_json_text(result) << "\n";   // one object per line
            }
        } else {
            if (!first)
                std::cout << "\n";
            std::cout << to_text(result, colour);
        }
        std::cout.flush();
        first = false;
    }
    if (any_dns_unavailable)
        return unavailable;
    if (any_failed)
        return software;
    return any_errors ? check_errors : ok;
}

} // namespace stswatch::cli
