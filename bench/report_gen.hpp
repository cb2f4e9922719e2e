// Synthetic SMTP TLS Reports (RFC 8460 §4.4) shaped like the ones real senders send
// (docs/senders.md), for the benchmarks.
//
// Deterministic for a seed: the same options give the same reports, byte for byte. Every
// report has its own (organization-name, report-id), also across seeds (the policy domains
// carry the seed), so one run's reports are never duplicates of another run's.
#pragma once

#include "tlsrpt/report.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace stswatch::bench {

enum class sender_style { google, microsoft, mail_ru, stalwart, postfix_sys4 };
inline constexpr std::size_t sender_style_count = 5;
const char* to_string(sender_style style);

struct generated_report {
    sender_style style = sender_style::google;
    tls_report report;          // what the JSON says, in the model's (normalised) terms
    std::string file_name;      // RFC 8460 §5.1: sender!policy-domain!begin!end!unique-id.json
    std::string json;

    std::size_t failure_detail_count() const;
    // Rows of the report model: the report, its policies, their failure details (the
    // store adds a receipt and the raw bytes per report).
    std::size_t row_count() const;
};

struct generator_options {
    std::uint64_t seed = 1;
    unsigned min_failure_details = 1;      // per report, over all its policies
    unsigned max_failure_details = 20;
    std::size_t policy_domains = 1000;     // distinct domains the reports are about
};

class report_generator {
public:
    // Throws std::invalid_argument for an empty domain set or min > max details.
    explicit report_generator(generator_options options = {});

    generated_report next();
    const generator_options& options() const { return options_; }

private:
    generator_options options_;
    std::mt19937_64 rng_;
    std::array<std::uint64_t, sender_style_count> issued_{};   // reports per style so far
    std::vector<std::string> domains_;
};

std::vector<generated_report> generate_reports(std::size_t count, const generator_options& options = {});

// The generator of a benchmark run of `reports` reports: one policy domain for every 20
// reports, 1,000 at least.
inline generator_options run_generator_options(std::size_t reports, std::uint64_t seed)
{
    generator_options options;
    options.seed = seed;
    options.policy_domains = std::max<std::size_t>(1000, reports / 20);
    return options;
}

// The report JSON gzip-compressed, as senders POST it (application/tlsrpt+gzip).
std::string gzip_report(const generated_report& report, int level = 6);

} // namespace stswatch::bench
