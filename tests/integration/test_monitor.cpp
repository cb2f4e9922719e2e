// Monitoring against a real PostgreSQL: the store (sql/0002), change events and the
// without-id finding as stored, the scheduler with a fake check, reported MX hosts, and
// `stswatch monitor` as users run it.
#include "checks/monitor.hpp"
#include "store/report_store.hpp"
#include "tests/support/dns_server.hpp"
#include "tests/support/check_builders.hpp"
#include "tests/support/test_support.hpp"

#include <catch2/catch.hpp>

#include <pqxx/nontransaction>
#include <pqxx/result>

#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>

using namespace stswatch;
using stswatch::test::healthy_mx;
using namespace std::chrono_literals;
using stswatch::test::scratch_database;

namespace {

const std::string policy_v1 = "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmax_age: 86400\r\n";
const std::string policy_v2 =
    "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: mx2.example.com\r\nmax_age: 86400\r\n";

check_result snapshot(const std::string& checked_at, const std::string& policy, std::vector<mx_check> mxs)
{
    check_result r;
    r.domain = "example.com";
    r.checked_at = checked_at;
    r.sts.record = "v=STSv1; id=20250101";
    r.sts.id = "20250101";
    policy_fetch_result f;
    f.status = policy_fetch_status::ok;
    f.url = "https://mta-sts.example.com/.well-known/mta-sts.txt";
    f.host = "mta-sts.example.com";
    f.http_status = 200;
    f.content_type = "text/plain";
    f.body = policy;
    r.sts.fetch = f;
    r.sts.policy_text = policy;
    r.sts.policy = evaluate_policy(r.domain, policy).policy;
    r.tlsrpt.record = "v=TLSRPTv1; rua=mailto:tlsrpt@example.com";
    r.tlsrpt.rua = {"mailto:tlsrpt@example.com"};
    r.mx = std::move(mxs);
    r.findings.push_back(make_finding("sts-max-age-short", "mta-sts.example.com",
                                      "max_age is 86400 s; use at least a week (604800)"));
    return r;
}

struct db_view {
    explicit db_view(const std::string& url) : conn(url) {}
    pqxx::result rows(const std::string& sql, const std::string& param)
    {
        pqxx::nontransaction tx(conn);
        return tx.exec_params(sql, param);
    }
    long long count(const std::string& sql, const std::string& param)
    {
        return rows(sql, param)[0][0].as<long long>();
    }
    pqxx::connection conn;
};

// A monitor store on a scratch database, watching example.com.
struct watched_domain {
    watched_domain() { REQUIRE(store.add("example.com")); }

    scratch_database db;
    db_view view{db.url()};
    monitor_store store{db.url()};
};

// The change history is the expected events, each detected at detected_at.
void check_history(const std::vector<stored_change>& history, const std::vector<change_event>& expected,
                   const std::string& detected_at)
{
    REQUIRE(history.size() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        CHECK(history[i].event.kind == expected[i].kind);
        CHECK(history[i].event.subject == expected[i].subject);
        CHECK(history[i].event.before == expected[i].before);
        CHECK(history[i].event.after == expected[i].after);
        CHECK(history[i].detected_at == detected_at);
    }
}

// The check of mx1 with policy_v1 at checked_at, but the policy fetch failed with status.
check_result fetch_failed(const std::string& checked_at, policy_fetch_status status)
{
    auto r = snapshot(checked_at, policy_v1, {healthy_mx("mx1.example.com", 10, "aa11")});
    r.sts.fetch->status = status;
    r.sts.policy_text.reset();
    r.sts.policy.reset();
    return r;
}

// Seconds from now to the domain's next check.
double seconds_to_next_check(db_view& db, const std::string& domain)
{
    return db.rows("SELECT extract(epoch FROM next_check_at - now())::float8 FROM monitored_domains WHERE domain = $1",
                   domain)[0][0]
        .as<double>();
}

template <typename Predicate>
bool wait_until(Predicate p, std::chrono::milliseconds limit)
{
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (p())
            return true;
        std::this_thread::sleep_for(20ms);
    }
    return p();
}

} // namespace

TEST_CASE("monitor store adds, lists, removes and finds due domains", "[monitor]")
{
    scratch_database db;
    monitor_store store(db.url());

    CHECK(store.add("Example.COM."));
    CHECK_FALSE(store.add("example.com"));
    CHECK(store.add("example.net"));
    CHECK_THROWS_AS(store.add("not a domain"), std::invalid_argument);
    CHECK_THROWS_AS(store.add(""), std::invalid_argument);

    const auto listed = store.list();
    REQUIRE(listed.size() == 2);
    CHECK(listed[0].domain == "example.com");
    CHECK(listed[1].domain == "example.net");
    CHECK_FALSE(listed[0].last_checked_at);
    CHECK(listed[0].next_check_at);
    CHECK(listed[0].added_at.size() == 20);   // 2025-07-08T12:00:00Z

    // A new domain is due at once.
    auto due = store.due(10);
    CHECK(std::set<std::string>(due.begin(), due.end()) == std::set<std::string>{"example.com", "example.net"});
    CHECK(store.due(1).size() == 1);

    // Claimed domains are not due again until their lease ends.
    const auto claimed = store.claim_due(10, 600s);
    CHECK(claimed.size() == 2);
    CHECK(store.due(10).empty());
    CHECK(store.claim_due(10, 600s).empty());
    store.reschedule("example.net", std::chrono::system_clock::now() - 1s);
    CHECK(store.due(10) == std::vector<std::string>{"example.net"});

    CHECK(store.remove("EXAMPLE.net"));
    CHECK_FALSE(store.remove("example.net"));
    REQUIRE(store.list().size() == 1);
    CHECK(store.due(10).empty());
}

TEST_CASE("monitor store saves snapshots with findings and change events", "[monitor]")
{
    watched_domain w;
    CHECK_FALSE(latest_snapshot(w.store, "example.com"));

    const auto first = snapshot("2025-07-08T12:00:00Z", policy_v1, {healthy_mx("mx1.example.com", 10, "aa11")});
    const auto next = std::chrono::system_clock::now() + 3600s;
    const long long id1 = save_snapshot(w.store, first, {}, next);
    CHECK(id1 > 0);

    auto latest = latest_snapshot(w.store, "example.com");
    REQUIRE(latest);
    CHECK(latest->id == id1);
    CHECK(latest->result.sts.policy_text == policy_v1);
    REQUIRE(latest->result.mx.size() == 1);
    REQUIRE(latest->result.mx[0].probe);
    CHECK(latest->result.mx[0].probe->certificate.sha256 == "aa11");

    auto listed = w.store.list();
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].last_checked_at == std::optional<std::string>("2025-07-08T12:00:00Z"));
    CHECK(listed[0].warnings + listed[0].errors == 1);
    CHECK(std::abs(seconds_to_next_check(w.view, "example.com") - 3600) < 60);

    // Same id, a new policy text, an MX added, the first MX's certificate rotated.
    const auto second = snapshot("2025-07-08T13:00:00Z", policy_v2,
                                 {healthy_mx("mx1.example.com", 10, "bb22"), healthy_mx("mx2.example.com", 20, "cc33")});
    std::vector<finding> extra;
    const auto changes = diff_snapshots(latest->result, second, extra);
    REQUIRE(extra.size() == 1);
    auto stored = second;
    stored.findings.insert(stored.findings.end(), extra.begin(), extra.end());
    const long long id2 = save_snapshot(w.store, stored, changes, next);
    CHECK(id2 > id1);

    const std::vector<change_event> expected = {
        {"sts-policy-changed", "mta-sts.example.com", policy_v1, policy_v2},
        {"sts-mx-patterns-changed", "mta-sts.example.com", "mx1.example.com", "mx1.example.com,mx2.example.com"},
        {"mx-cert-rotated", "mx1.example.com", "sha256 aa11 not_after 2027-01-01T00:00:00Z",
         "sha256 bb22 not_after 2027-01-01T00:00:00Z"},
        {"mx-added", "mx2.example.com", "", "20 mx2.example.com"},
    };
    const auto history = w.store.change_history("example.com");
    check_history(history, expected, "2025-07-08T13:00:00Z");
    for (const auto& h : history)
        CHECK(h.snapshot_id == id2);
    CHECK(w.store.changes("example.com", 2).size() == 2);

    // The finding is stored with the snapshot, where the analyzer joins it by time.
    const auto rows = w.view.rows("SELECT snapshot_id, subject, severity, checked_at = '2025-07-08T13:00:00Z'"
                                " FROM check_findings WHERE domain = $1 AND code = 'sts-policy-changed-without-id'",
                                "example.com");
    REQUIRE(rows.size() == 1);
    CHECK(rows[0][0].as<long long>() == id2);
    CHECK(rows[0][1].as<std::string>() == "_mta-sts.example.com");
    CHECK(rows[0][3].as<bool>());
    CHECK(w.view.count("SELECT count(*) FROM check_findings WHERE snapshot_id = $1::bigint", std::to_string(id2)) == 2);
    CHECK(w.view.count("SELECT count(*) FROM check_snapshots WHERE domain = $1 AND policy_sha256 IS NOT NULL"
                     " AND sts_id = '20250101'",
                     "example.com") == 2);

    // A check whose resolver failed is stored, but is not what the next check diffs against.
    check_result unavailable;
    unavailable.domain = "example.com";
    unavailable.checked_at = "2025-07-08T14:00:00Z";
    unavailable.dns_unavailable = true;
    save_snapshot(w.store, unavailable, {}, next);
    latest = latest_snapshot(w.store, "example.com");
    REQUIRE(latest);
    CHECK(latest->id == id2);

    // Removing the domain keeps its history.
    REQUIRE(w.store.remove("example.com"));
    CHECK(w.store.changes("example.com").size() == expected.size());
    CHECK(latest_snapshot(w.store, "example.com"));
}

TEST_CASE("monitor store lists the MX hosts seen in stored reports", "[monitor]")
{
    scratch_database db;
    monitor_store store(db.url());

    tls_report r;
    r.organization_name = "Sender Inc.";
    r.report_id = "2025-07-08-1";
    r.start_datetime = {1751932800, 0};   // 2025-07-08T00:00:00Z
    r.end_datetime = {1751932800 + 86399, 0};
    report_policy p;
    p.type = policy_type::sts;
    p.policy_domain = "example.com";
    p.total_successful_session_count = 10;
    p.total_failure_session_count = 4;
    for (const char* host : {"mx1.example.com", "MX2.example.com.", " ", "192.0.2.1:25", "mx1.example.com"}) {
        failure_detail d;
        d.result_type = "certificate-expired";
        d.receiving_mx_hostname = std::string(host);
        d.failed_session_count = 1;
        p.failure_details.push_back(d);
    }
    failure_detail no_host;
    no_host.result_type = "validation-failure";
    no_host.receiving_ip = "192.0.2.2";
    no_host.failed_session_count = 1;
    p.failure_details.push_back(no_host);
    r.policies = {p};
    report_policy other = p;
    other.policy_domain = "example.net";
    other.failure_details[0].receiving_mx_hostname = "mx.example.net";
    r.policies.push_back(other);

    incoming_report in;
    in.report = r;
    in.raw = "{}";
    in.via = transport::import;
    pqxx::connection conn(db.url());
    REQUIRE(store_batch(conn, {&in}).size() == 1);

    CHECK(store.reported_mx_hosts("example.com") == std::vector<std::string>{"mx1.example.com", "mx2.example.com"});
    CHECK(store.reported_mx_hosts("EXAMPLE.NET.") ==
          std::vector<std::string>{"mx.example.net", "mx1.example.com", "mx2.example.com"});
    CHECK(store.reported_mx_hosts("example.org").empty());
}

TEST_CASE("the scheduler checks due domains once, stores and reschedules them", "[monitor]")
{
    scratch_database db;
    db_view view(db.url());
    {
        monitor_store store(db.url());
        for (const char* d : {"a.example", "b.example", "c.example", "d.example", "e.example", "fails.example"})
            REQUIRE(store.add(d));
    }

    std::mutex mutex;
    std::map<std::string, int> calls;
    std::atomic<int> running{0}, most_running{0};
    auto check = [&](const std::string& domain) {
        const int now_running = ++running;
        int seen = most_running.load();
        while (now_running > seen && !most_running.compare_exchange_weak(seen, now_running)) {
        }
        {
            std::lock_guard lock(mutex);
            ++calls[domain];
        }
        std::this_thread::sleep_for(150ms);
        --running;
        if (domain == "fails.example")
            throw std::runtime_error("resolver exploded");
        check_result r;
        r.domain = domain;
        r.findings.push_back(make_finding("tlsrpt-record-missing", "_smtp._tls." + domain,
                                          "no TLS-RPT record; publish one"));
        return r;
    };

    monitor_options options;
    options.db_url = db.url();
    options.interval_s = 1000;
    options.jitter_percent = 10;
    options.concurrency = 2;
    options.poll_ms = 50;
    monitor m(options, check);
    m.start();

    const bool all_done = wait_until([&] {
        return view.count("SELECT count(DISTINCT domain) FROM check_snapshots WHERE domain <> $1", "fails.example") == 5 &&
               view.count("SELECT count(*) FROM monitored_domains WHERE domain = $1 AND next_check_at > now() + interval '800 s'"
                          " AND next_check_at < now() + interval '1200 s'",
                          "fails.example") == 1;
    }, 10s);
    CHECK(all_done);
    // A few more polls: nothing is due any more, so nothing is checked twice.
    std::this_thread::sleep_for(300ms);

    const auto before_stop = std::chrono::steady_clock::now();
    m.stop();
    CHECK(std::chrono::steady_clock::now() - before_stop < 1s);

    {
        std::lock_guard lock(mutex);
        CHECK(calls.size() == 6);
        for (const auto& [domain, n] : calls) {
            INFO(domain);
            CHECK(n == 1);
        }
    }
    CHECK(most_running.load() == 2);
    CHECK(view.count("SELECT count(*) FROM check_snapshots WHERE domain = $1", "fails.example") == 0);
    CHECK(view.count("SELECT count(*) FROM check_findings WHERE code = $1", "tlsrpt-record-missing") == 5);
    for (const char* d : {"a.example", "b.example", "c.example", "d.example", "e.example", "fails.example"}) {
        INFO(d);
        const double next = seconds_to_next_check(view, d);
        // interval ± jitter (10% of 1000 s), less the time the test took.
        CHECK(next > 880);
        CHECK(next <= 1100);
    }
    monitor_store store(db.url());
    for (const auto& m_ : store.list()) {
        if (m_.domain == "fails.example") {
            CHECK_FALSE(m_.last_checked_at);
        } else {
            CHECK(m_.last_checked_at);
            CHECK(m_.warnings + m_.errors == 1);
        }
    }
}

TEST_CASE("the scheduler stops promptly when idle and diffs against the last snapshot", "[monitor]")
{
    scratch_database db;
    {
        monitor_store store(db.url());
        REQUIRE(store.add("example.com"));
        save_snapshot(store, snapshot("2025-07-08T12:00:00Z", policy_v1, {healthy_mx("mx1.example.com", 10, "aa11")}), {},
                   std::chrono::system_clock::now() - 1s);
    }
    std::atomic<int> calls{0};
    monitor_options options;
    options.db_url = db.url();
    options.poll_ms = 60000;   // one poll at start, then only stop() wakes it
    monitor m(options, [&](const std::string&) {
        ++calls;
        return snapshot("2025-07-08T13:00:00Z", policy_v2, {healthy_mx("mx1.example.com", 10, "aa11")});
    });
    m.start();
    monitor_store store(db.url());
    CHECK(wait_until([&] { return !store.changes("example.com").empty(); }, 5s));
    const auto before_stop = std::chrono::steady_clock::now();
    m.stop();
    CHECK(std::chrono::steady_clock::now() - before_stop < 500ms);
    CHECK(calls.load() == 1);

    const auto changes = store.changes("example.com");
    REQUIRE(changes.size() == 2);
    CHECK(changes[0].kind == "sts-policy-changed");
    CHECK(changes[1].kind == "sts-mx-patterns-changed");
    auto latest = latest_snapshot(store, "example.com");
    REQUIRE(latest);
    bool without_id = false;
    for (const auto& f : latest->result.findings)
        without_id = without_id || f.code == "sts-policy-changed-without-id";
    CHECK(without_id);
}

TEST_CASE("the scheduler compares across a transient failure with the last known policy and certificate",
          "[monitor]")
{
    watched_domain w;

    // The policy host and the MX are unreachable for one check; meanwhile the policy changed
    // under the same id and the MX got a new certificate.
    const auto first = snapshot("2025-07-08T12:00:00Z", policy_v1, {healthy_mx("mx1.example.com", 10, "aa11")});
    auto failed = fetch_failed("2025-07-08T13:00:00Z", policy_fetch_status::connect_failed);
    failed.sts.fetch->error = "connection timed out";
    failed.mx[0].probe->status = starttls_status::unreachable;
    failed.mx[0].probe->certificate = {};
    const auto third = snapshot("2025-07-08T14:00:00Z", policy_v2, {healthy_mx("mx1.example.com", 10, "bb22")});
    const std::vector<check_result> checks = {first, failed, third, third};

    std::atomic<std::size_t> calls{0};
    monitor_options options;
    options.db_url = w.db.url();
    options.poll_ms = 50;
    monitor m(options, [&](const std::string&) { return checks.at(std::min<std::size_t>(calls++, checks.size() - 1)); });
    auto snapshots = [&] { return w.view.count("SELECT count(*) FROM check_snapshots WHERE domain = $1", "example.com"); };
    m.start();
    for (long long n = 1; n <= static_cast<long long>(checks.size()); ++n) {
        REQUIRE(wait_until([&] { return snapshots() == n; }, 5s));
        w.store.reschedule("example.com", std::chrono::system_clock::now() + (n < 4 ? 0s : 3600s));
    }
    m.stop();
    REQUIRE(calls.load() == checks.size());

    // Nothing at the failed check; at the next one, the change since the last known policy
    // and certificate; nothing at the repeat.
    const std::vector<change_event> expected = {
        {"sts-policy-changed", "mta-sts.example.com", policy_v1, policy_v2},
        {"sts-mx-patterns-changed", "mta-sts.example.com", "mx1.example.com", "mx1.example.com,mx2.example.com"},
        {"mx-cert-rotated", "mx1.example.com", "sha256 aa11 not_after 2027-01-01T00:00:00Z",
         "sha256 bb22 not_after 2027-01-01T00:00:00Z"},
    };
    const auto history = w.store.change_history("example.com");
    INFO([&] {
        std::string out;
        for (const auto& c : history)
            out += c.detected_at + " " + c.event.kind + " | " + c.event.subject + " | " + c.event.before + " | " +
                   c.event.after + "\n";
        return out;
    }());
    check_history(history, expected, "2025-07-08T14:00:00Z");
    CHECK(w.view.count("SELECT count(*) FROM check_findings WHERE domain = $1 AND code = 'sts-policy-changed-without-id'"
                     " AND checked_at = '2025-07-08T14:00:00Z'",
                     "example.com") == 1);
    CHECK(w.view.count("SELECT count(*) FROM check_findings WHERE domain = $1 AND code = 'sts-policy-changed-without-id'",
                     "example.com") == 1);

    // What the failed check carries: a pointer to the first snapshot's policy, the MX's last
    // certificate; the others show everything themselves.
    const auto rows = w.view.rows("SELECT checked_at = '2025-07-08T13:00:00Z', policy_source_id IS NOT NULL,"
                                " carried_certificates->'mx1.example.com 192.0.2.25'->>'sha256'"
                                " FROM check_snapshots WHERE domain = $1 ORDER BY checked_at, id",
                                "example.com");
    REQUIRE(rows.size() == 4);
    for (const auto& row : rows) {
        const bool is_failed = row[0].as<bool>();
        CHECK(row[1].as<bool>() == is_failed);
        CHECK(row[2].is_null() == !is_failed);
        if (is_failed)
            CHECK(row[2].as<std::string>() == "aa11");
    }
    const auto base = comparison_base(w.store, "example.com");
    REQUIRE(base);
    CHECK_FALSE(base->policy_source);
    CHECK(base->certificates.empty());
    CHECK(base->previous.result.sts.policy_text == policy_v2);
}

TEST_CASE("a policy source trimmed with old history leaves the policy unknown", "[monitor]")
{
    watched_domain w;

    const auto first = snapshot("2025-07-08T12:00:00Z", policy_v1, {healthy_mx("mx1.example.com", 10, "aa11")});
    const auto failed = fetch_failed("2025-07-08T13:00:00Z", policy_fetch_status::tls_failed);
    const auto next = std::chrono::system_clock::now() + 3600s;
    const long long first_id = save_snapshot(w.store, first, {}, next);
    auto base = comparison_base(w.store, "example.com");
    REQUIRE(base);
    std::vector<finding> extra;
    REQUIRE(diff_snapshots(*base, failed, extra).empty());
    save_snapshot(w.store, failed, {}, next, &*base);
    base = comparison_base(w.store, "example.com");
    REQUIRE(base);
    REQUIRE(base->policy_source);
    CHECK(base->policy_source->id == first_id);

    // docs/monitoring.md, Retention.
    w.view.rows("DELETE FROM check_snapshots WHERE domain = $1 AND checked_at < '2025-07-08T12:30:00Z'", "example.com");
    base = comparison_base(w.store, "example.com");
    REQUIRE(base);
    CHECK_FALSE(base->policy_source);
    const auto third = snapshot("2025-07-08T14:00:00Z", policy_v2, {healthy_mx("mx1.example.com", 10, "aa11")});
    CHECK(diff_snapshots(*base, third, extra).empty());
    CHECK(extra.empty());
}

std::string monitor_zone(const std::string& sts_id, const std::string& rua, const std::string& extra_mx)
{
    return "$ORIGIN monitor.test.\n$TTL 60\n"
           "@ SOA ns.monitor.test. hostmaster.monitor.test. 1 3600 600 86400 60\n"
           "@ NS ns\nns A 127.0.0.1\n"
           "@ MX 10 mx1\n" + extra_mx +
           "mx1 A 127.0.0.1\nmx2 A 127.0.0.1\n"
           "_mta-sts TXT \"v=STSv1; id=" + sts_id + "\"\n"
           "_smtp._tls TXT \"v=TLSRPTv1; rua=" + rua + "\"\n";
}

TEST_CASE("the scheduler with real checks records DNS changes and skips a DNS outage", "[monitor][dns]")
{
    scratch_database db;
    monitor_store store(db.url());
    db_view view(db.url());
    REQUIRE(store.add("monitor.test"));

    std::mutex mutex;
    std::string resolver_address;
    auto check = [&](const std::string& domain) {
        dns_options dns;
        {
            std::lock_guard lock(mutex);
            dns.server = resolver_address;
        }
        dns.timeout_ms = 1000;
        dns_resolver resolver(dns);
        check_options options;
        options.probe_mx = false;
        options.allow_private = true;
        options.timeout_ms = 1000;
        return run_check(domain, resolver, options);
    };
    auto set_resolver = [&](const std::string& address) {
        std::lock_guard lock(mutex);
        resolver_address = address;
    };
    auto snapshots = [&] { return view.count("SELECT count(*) FROM check_snapshots WHERE domain = $1", "monitor.test"); };

    monitor_options options;
    options.db_url = db.url();
    options.poll_ms = 50;
    monitor m(options, check);

    std::optional<stswatch::test::dns_server> dns;
    dns.emplace(std::vector<stswatch::test::test_zone>{
        {"monitor.test", monitor_zone("20250101", "mailto:tlsrpt@monitor.test", ""), false}});
    set_resolver(dns->address());
    m.start();
    REQUIRE(wait_until([&] { return snapshots() == 1; }, 20s));

    // Our resolver goes away: the check is stored as dns_unavailable and not diffed.
    dns.reset();
    set_resolver("127.0.0.1:" + std::to_string(stswatch::test::free_port()));
    store.reschedule("monitor.test", std::chrono::system_clock::now());
    REQUIRE(wait_until([&] { return snapshots() == 2; }, 30s));
    CHECK(view.count("SELECT count(*) FROM check_snapshots WHERE domain = $1 AND dns_unavailable", "monitor.test") == 1);
    CHECK(store.changes("monitor.test").empty());

    // Back, with a new id, a second MX and another rua: compared with the first check.
    dns.emplace(std::vector<stswatch::test::test_zone>{
        {"monitor.test", monitor_zone("20250202", "https://tlsrpt.monitor.test/v1", "@ MX 20 mx2\n"), false}});
    set_resolver(dns->address());
    store.reschedule("monitor.test", std::chrono::system_clock::now());
    REQUIRE(wait_until([&] { return snapshots() == 3; }, 20s));
    m.stop();

    const std::vector<change_event> expected = {
        {"sts-id-changed", "_mta-sts.monitor.test", "20250101", "20250202"},
        {"mx-added", "mx2.monitor.test", "", "20 mx2.monitor.test"},
        {"tlsrpt-record-changed", "_smtp._tls.monitor.test", "v=TLSRPTv1; rua=mailto:tlsrpt@monitor.test",
         "v=TLSRPTv1; rua=https://tlsrpt.monitor.test/v1"},
    };
    const auto changes = store.changes("monitor.test");
    INFO([&] {
        std::string out;
        for (const auto& c : changes)
            out += c.kind + " | " + c.subject + " | " + c.before + " | " + c.after + "\n";
        return out;
    }());
    REQUIRE(changes.size() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        CHECK(changes[i].kind == expected[i].kind);
        CHECK(changes[i].subject == expected[i].subject);
        CHECK(changes[i].before == expected[i].before);
        CHECK(changes[i].after == expected[i].after);
    }
}

TEST_CASE("stswatch monitor add, list, changes and remove", "[monitor][cli]")
{
    using stswatch::test::run_program;
    scratch_database db(false);   // the command migrates
    const std::string bin = stswatch::test::required_env("STSWATCH_BIN");
    auto run = [&](std::vector<std::string> args) {
        args.insert(args.begin(), {bin, "--db", db.url()});
        return run_program(args);
    };

    auto r = run({"monitor", "add", "Example.com.", "example.net"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("added example.com") != std::string::npos);
    CHECK(r.out.find("added example.net") != std::string::npos);

    r = run({"monitor", "add", "example.com"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("example.com was already monitored") != std::string::npos);

    r = run({"monitor", "add", "example.org", "bad domain!"});
    CHECK(r.exit_code == 65);
    CHECK(r.err.find("bad domain!") != std::string::npos);

    r = run({"monitor", "list"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("example.com") != std::string::npos);
    CHECK(r.out.find("example.org") == std::string::npos);   // nothing of a refused command is added
    CHECK(r.out.find("2 domains") != std::string::npos);

    r = run({"monitor", "list", "--json"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("\"domain\":\"example.com\"") != std::string::npos);
    CHECK(r.out.find("\"last_checked_at\":null") != std::string::npos);

    {
        monitor_store store(db.url());
        const auto first = snapshot("2025-07-08T12:00:00Z", policy_v1, {healthy_mx("mx1.example.com", 10, "aa11")});
        save_snapshot(store, first, {}, std::chrono::system_clock::now() + 3600s);
        const auto second = snapshot("2025-07-08T13:00:00Z", policy_v1,
                                     {healthy_mx("mx1.example.com", 10, "aa11"), healthy_mx("mx2.example.com", 20, "cc33")});
        std::vector<finding> extra;
        save_snapshot(store, second, diff_snapshots(first, second, extra), std::chrono::system_clock::now() + 3600s);
    }
    r = run({"monitor", "changes", "example.com", "--json"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("\"kind\":\"mx-added\"") != std::string::npos);
    CHECK(r.out.find("\"after\":\"20 mx2.example.com\"") != std::string::npos);
    r = run({"monitor", "changes", "example.com"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("mx-added") != std::string::npos);
    r = run({"monitor", "changes", "example.com", "--limit", "zero"});
    CHECK(r.exit_code == 2);

    {
        // The domain's own text, with a terminal title sequence in it, is shown escaped.
        monitor_store store(db.url());
        const auto second = snapshot("2025-07-08T13:00:00Z", policy_v1,
                                     {healthy_mx("mx1.example.com", 10, "aa11"), healthy_mx("mx2.example.com", 20, "cc33")});
        auto third = second;
        third.checked_at = "2025-07-08T14:00:00Z";
        third.tlsrpt.record = "v=TLSRPTv1; rua=mailto:tlsrpt@example.com\x1b]0;owned\x07";
        std::vector<finding> extra;
        save_snapshot(store, third, diff_snapshots(second, third, extra), std::chrono::system_clock::now() + 3600s);
    }
    r = run({"monitor", "changes", "example.com"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("tlsrpt-record-changed") != std::string::npos);
    CHECK(r.out.find('\x1b') == std::string::npos);
    CHECK(r.out.find('\x07') == std::string::npos);
    CHECK(r.out.find("\\x1b]0;owned\\x07") != std::string::npos);

    r = run({"monitor", "remove", "example.net"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("removed example.net") != std::string::npos);
    r = run({"monitor", "remove", "example.net"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("was not monitored") != std::string::npos);

    r = run({"monitor", "frobnicate"});
    CHECK(r.exit_code == 2);
    r = run({"monitor"});
    CHECK(r.exit_code == 2);

    r = run_program({bin, "--db", "host=127.0.0.1 port=1 user=nobody dbname=none connect_timeout=2", "monitor", "list"});
    CHECK(r.exit_code == 69);
    CHECK(r.err.find("database") != std::string::npos);
}

TEST_CASE("a stored snapshot part that cannot be read is left out, not a reason to stop checking", "[monitor]")
{
    watched_domain w;

    const auto first = snapshot("2025-07-08T12:00:00Z", policy_v1, {healthy_mx("mx1.example.com", 10, "aa11")});
    auto unreachable = snapshot("2025-07-08T13:00:00Z", policy_v1, {healthy_mx("mx1.example.com", 10, "aa11")});
    unreachable.mx[0].probe->status = starttls_status::unreachable;
    unreachable.mx[0].probe->certificate = {};
    save_snapshot(w.store, first, {}, std::chrono::system_clock::now() + 3600s);
    auto base = comparison_base(w.store, "example.com");
    REQUIRE(base);
    std::vector<finding> extra;
    save_snapshot(w.store, unreachable, diff_snapshots(*base, unreachable, extra), std::chrono::system_clock::now() + 3600s, &*base);
    base = comparison_base(w.store, "example.com");
    REQUIRE(base);
    REQUIRE(base->certificates.size() == 1);   // carried for the unreachable MX

    // Carried certificates in a shape this version does not know: left out.
    w.view.rows("UPDATE check_snapshots SET carried_certificates = '{\"mx1.example.com 192.0.2.25\": 7}'"
              " WHERE domain = $1 AND carried_certificates IS NOT NULL", "example.com");
    base = comparison_base(w.store, "example.com");
    REQUIRE(base);
    CHECK(base->certificates.empty());
    CHECK(base->previous.result.mx.size() == 1);

    // The snapshot itself unreadable: nothing to compare with, and no exception.
    w.view.rows("UPDATE check_snapshots SET snapshot = '{\"not\": \"a check result\"}'"
              " WHERE domain = $1 AND checked_at = '2025-07-08T13:00:00Z'", "example.com");
    CHECK_NOTHROW(base = comparison_base(w.store, "example.com"));
    CHECK_FALSE(base);
}
