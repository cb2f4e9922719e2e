// Timelines written through the real stores (tests/support/timeline.hpp).
#include "tests/support/timeline.hpp"

#include "checks/monitor_diff.hpp"
#include "checks/monitor_snapshots.hpp"
#include "store/monitor_store.hpp"
#include "store/report_store.hpp"
#include "tlsrpt/report_json.hpp"
#include "tlsrpt/report_parser.hpp"

#include <catch2/catch.hpp>

#include <pqxx/connection>

#include <map>
#include <sstream>

namespace stswatch::test {

namespace {

std::string rfc3339_of(utc_date d, int hour, int minute)
{
    utc_time t = start_of(d);
    t.seconds += hour * 3600 + minute * 60;
    return format_rfc3339(t);
}

std::int64_t seconds_of(const std::string& rfc3339)
{
    const auto parsed = parse_rfc3339(rfc3339);
    if (!parsed.value)
        FAIL("not an RFC 3339 date-time: " << rfc3339);
    return parsed.value->seconds;
}

mx_check mx_of(const mx_state& s, const std::string& checked_at, const std::optional<sts_policy>& policy)
{
    mx_check m;
    m.host = s.host;
    m.preference = s.preference;
    m.addresses = {"192.0.2.25"};
    if (policy) {
        for (const auto& pattern : policy->mx) {
            const bool wildcard = pattern.rfind("*.", 0) == 0;
            const auto dot = s.host.find('.');
            if (pattern == s.host || (wildcard && dot != std::string::npos && s.host.substr(dot) == pattern.substr(1))) {
                m.covered_by = pattern;
                break;
            }
        }
    }
    starttls_probe_result p;
    p.host = s.host;
    p.address = "192.0.2.25";
    p.banner = "220 " + s.host + " ESMTP";
    if (!s.starttls) {
        p.status = starttls_status::starttls_missing;
        m.probe = p;
        return m;
    }
    p.status = starttls_status::ok;
    p.starttls_offered = true;
    p.tls_version = "TLSv1.3";
    auto& c = p.certificate;
    c.present = true;
    c.subject_names = {s.host};
    c.subject = "CN=" + s.host;
    c.issuer = "CN=Scenario CA";
    c.not_before = "2026-01-01T00:00:00Z";
    c.not_after = s.not_after;
    const std::int64_t left = seconds_of(s.not_after) - seconds_of(checked_at);
    c.days_to_expiry = left >= 0 ? left / 86400 : -((-left + 86399) / 86400);
    c.expired = left < 0;
    c.trusted = s.trusted && !c.expired;
    c.verify_error = c.expired ? "certificate has expired" : (s.trusted ? "" : "unable to get local issuer certificate");
    c.name_matches = true;
    c.sha256 = s.sha256;
    m.probe = p;
    return m;
}

} // namespace

utc_date timeline_today() { return day_from("2026-11-30"); }

utc_date day_from(const std::string& text)
{
    const auto d = parse_day(text);
    if (!d)
        FAIL("not a day: " << text);
    return *d;
}

std::string policy_text(const std::vector<std::string>& mx, long long max_age, const std::string& mode)
{
    std::string text = "version: STSv1\r\nmode: " + mode + "\r\n";
    for (const auto& m : mx)
        text += "mx: " + m + "\r\n";
    return text + "max_age: " + std::to_string(max_age) + "\r\n";
}

std::vector<std::string> policy_lines(const std::string& text)
{
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (!line.empty())
            out.push_back(line);
    }
    return out;
}

tls_report make_report(const std::string& organization, utc_date day, const std::string& domain,
                       const std::vector<policy_spec>& policies, const std::string& report_id)
{
    tls_report r;
    r.organization_name = organization;
    r.start_datetime = start_of(day);
    r.end_datetime = {r.start_datetime.seconds + 86399, 0};
    r.contact_info = "tlsrpt@" + organization;
    r.report_id = report_id.empty() ? format_day(day) + "_" + domain : report_id;
    for (const auto& spec : policies) {
        report_policy p;
        p.type = spec.type;
        p.policy_domain = spec.domain.empty() ? domain : spec.domain;
        p.policy_string = spec.policy_string;
        p.mx_host = spec.mx_host;
        p.total_successful_session_count = spec.successful;
        for (const auto& f : spec.failures) {
            auto& d = p.failure_details.emplace_back();
            d.result_type = f.result_type;
            if (!f.receiving_mx.empty())
                d.receiving_mx_hostname.emplace(f.receiving_mx);
            if (!f.sending_ip.empty())
                d.sending_mta_ip.emplace(f.sending_ip);
            d.failed_session_count = f.count;
            p.total_failure_session_count += f.count;
        }
        r.policies.push_back(std::move(p));
    }
    return r;
}

struct timeline::impl {
    scratch_database db;
    std::vector<tls_report> pending;
    std::unique_ptr<monitor_store> monitor;
    std::optional<check_result> last_check;
};

timeline::timeline(std::string domain, int days, utc_date today)
    : domain_(std::move(domain)), days_(days), today_(today), impl_(std::make_unique<impl>())
{
    impl_->monitor = std::make_unique<monitor_store>(impl_->db.url());
    REQUIRE(impl_->monitor->add(domain_));
}

timeline::~timeline() = default;

const std::string& timeline::url() const { return impl_->db.url(); }

utc_date timeline::day(int n) const { return today_ - std::chrono::days(days_ - n); }

std::string timeline::at(int n, int hour, int minute) const { return rfc3339_of(day(n), hour, minute); }

void timeline::report(const std::string& organization, int n, const std::vector<policy_spec>& policies,
                      const std::string& report_id)
{
    report(make_report(organization, day(n), domain_, policies, report_id));
}

void timeline::report(tls_report r) { impl_->pending.push_back(std::move(r)); }

void timeline::report_json(const std::string& json)
{
    report_metadata metadata;
    try {
        impl_->pending.push_back(parse_report(json, metadata).report);
    } catch (const report_error& e) {
        FAIL("the report does not parse: " << e.what() << "\n" << json);
    }
}

void timeline::daily(const std::string& organization, int from, int to,
                     const std::function<std::vector<policy_spec>(int day)>& policies)
{
    for (int n = from; n <= to; ++n)
        report(organization, n, policies(n));
}

std::size_t timeline::store()
{
    std::vector<incoming_report> batch;
    batch.reserve(impl_->pending.size());
    for (auto& r : impl_->pending) {
        incoming_report in;
        in.raw = to_canonical_json(r);
        in.via = transport::import;
        in.source_address = "timeline";
        in.received_at = utc_time{r.end_datetime.seconds + 3601, 0};
        in.report = std::move(r);
        batch.push_back(std::move(in));
    }
    impl_->pending.clear();

    pqxx::connection conn(url());
    std::size_t stored = 0;
    constexpr std::size_t per_batch = 200;
    for (std::size_t from = 0; from < batch.size(); from += per_batch) {
        std::vector<const incoming_report*> pointers;
        for (std::size_t i = from; i < batch.size() && i < from + per_batch; ++i)
            pointers.push_back(&batch[i]);
        for (const auto& result : store_batch(conn, pointers))
            stored += result.outcome == store_outcome::stored ? 1 : 0;
    }
    return stored;
}

check_result timeline::check_result_of(const std::string& checked_at, const deployment_state& state) const
{
    check_result r;
    r.domain = domain_;
    r.checked_at = checked_at;
    r.sts.record = "v=STSv1; id=" + state.sts_id;
    r.sts.id = state.sts_id;
    policy_fetch_result f;
    f.url = "https://mta-sts." + domain_ + "/.well-known/mta-sts.txt";
    f.host = "mta-sts." + domain_;
    f.address = "192.0.2.10";
    if (state.policy_text.empty()) {
        f.status = policy_fetch_status::connect_failed;
        f.error = "connection refused";
    } else {
        f.status = policy_fetch_status::ok;
        f.http_status = 200;
        f.content_type = "text/plain";
        f.body = state.policy_text;
        r.sts.policy_text = state.policy_text;
        r.sts.policy = evaluate_policy(domain_, state.policy_text).policy;
    }
    r.sts.fetch = f;
    r.tlsrpt.record = "v=TLSRPTv1; rua=mailto:tlsrpt@" + domain_;
    r.tlsrpt.rua = {"mailto:tlsrpt@" + domain_};
    for (const auto& m : state.mx)
        r.mx.push_back(mx_of(m, checked_at, r.sts.policy));
    r.findings = state.findings;
    return r;
}

std::vector<change_event> timeline::check(const std::string& checked_at, const deployment_state& state)
{
    check_result r = check_result_of(checked_at, state);
    std::vector<change_event> changes;
    if (impl_->last_check) {
        std::vector<finding> extra;
        changes = diff_snapshots(*impl_->last_check, r, extra);
        r.findings.insert(r.findings.end(), extra.begin(), extra.end());
    }
    sort_findings(r.findings);
    save_snapshot(*impl_->monitor, r, changes, std::chrono::system_clock::now() + std::chrono::hours(1));
    impl_->last_check = std::move(r);
    return changes;
}

void timeline::check_daily(int from, int to, const deployment_state& state, int hour)
{
    for (int n = from; n <= to; ++n)
        check(at(n, hour), state);
}

} // namespace stswatch::test
