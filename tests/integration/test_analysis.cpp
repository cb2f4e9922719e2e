// The analysis on timelines in the real PostgreSQL (docs/analysis.md): weeks of a domain's
// reports, checks and change events written through the stores with past dates, then the
// incidents that a refresh stores and the causes that explain ranks first, exactly; how
// sessions are counted in the trends; and `stswatch trends|explain|incidents|domains` as
// programs on one scenario's database.
#include "analyzer/explain.hpp"
#include "analyzer/incidents.hpp"
#include "analyzer/trends.hpp"
#include "store/analysis_store.hpp"
#include "tests/support/json_text.hpp"
#include "tests/support/test_support.hpp"
#include "tests/support/timeline.hpp"
#include "tlsrpt/report_parser.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <vector>

using namespace stswatch;
using namespace stswatch::test;
using stswatch::analysis::cause;
using stswatch::analysis::explained_incident;

namespace {

const std::string google = "Google Inc.";
const std::string microsoft = "Microsoft Corporation";
const std::string yahoo = "Yahoo Inc.";
const std::string comcast = "Comcast";
const std::vector<std::string> big_four = {google, microsoft, yahoo, comcast};

std::vector<std::string> sorted(std::vector<std::string> v)
{
    std::sort(v.begin(), v.end());
    return v;
}

// A sending IP of each organization, for the failure details.
std::string ip_of(const std::string& organization)
{
    static const std::map<std::string, std::string> ips = {
        {google, "209.85.220.41"}, {microsoft, "40.107.22.5"}, {yahoo, "98.137.11.163"}, {comcast, "96.114.154.170"}};
    const auto it = ips.find(organization);
    return it == ips.end() ? "198.51.100.7" : it->second;
}

// An sts entry applying policy (its lines, its mx patterns as mx-host).
policy_spec sts_entry(const std::string& policy, std::int64_t successful, std::vector<failure_spec> failures = {})
{
    policy_spec p;
    p.policy_string = policy_lines(policy);
    for (const auto& line : p.policy_string)
        if (line.rfind("mx: ", 0) == 0)
            p.mx_host.push_back(line.substr(4));
    p.successful = successful;
    p.failures = std::move(failures);
    return p;
}

failure_spec failed(const std::string& organization, const std::string& type, const std::string& mx, std::int64_t n)
{
    return {type, mx, ip_of(organization), n};
}

// What a test expects of an incident; end_day 0 is ongoing.
struct expected_incident {
    std::string dimension, key;
    int onset = 0, end_day = 0;
    std::int64_t failed = 0;
};

std::string describe(const std::string& dimension, const std::string& key, utc_date onset,
                     std::optional<utc_date> end, std::int64_t failed_sessions)
{
    return dimension + " " + key + " " + format_day(onset) + ".." + (end ? format_day(*end) : "ongoing") +
           " failed=" + std::to_string(failed_sessions);
}

std::vector<std::string> described(const std::vector<incident_row>& rows)
{
    std::vector<std::string> out;
    for (const auto& r : rows)
        out.push_back(describe(r.dimension, r.key, r.onset, r.end, r.failed_sessions));
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::string> described(const timeline& t, const std::vector<expected_incident>& expected)
{
    std::vector<std::string> out;
    for (const auto& e : expected)
        out.push_back(describe(e.dimension, e.key, t.day(e.onset),
                               e.end_day ? std::optional<utc_date>(t.day(e.end_day)) : std::nullopt, e.failed));
    std::sort(out.begin(), out.end());
    return out;
}

std::string describe(const cause& c)
{
    return std::to_string(c.rank) + " " + c.kind + " " + c.code + " " + c.subject + " first_seen=" +
           c.first_seen.value_or("-") + " at=" + c.at.value_or("-");
}

std::string causes_text(const explained_incident& e)
{
    std::string out = describe(e.incident.dimension, e.incident.key, e.incident.onset, e.incident.end,
                               e.incident.failed_sessions) + "\n";
    for (const auto& c : e.causes) {
        out += "  " + describe(c) + "\n";
        for (const auto& line : c.evidence)
            out += "    " + line + "\n";
    }
    return out;
}

// Refreshes the timeline's incidents over all its days, as of its today.
analysis::refresh_result refresh(const timeline& t)
{
    analysis_store store(t.url());
    return analysis::refresh_incidents(store, t.domain(), t.day(1), t.today());
}

analysis::explain_result explain_all(const timeline& t)
{
    analysis_store store(t.url());
    return analysis::explain(store, t.domain(), t.day(1), t.today());
}

// The explained incident of dimension and key (listed first or grouped under another);
// FAILs when explain has none.
const explained_incident& explained(const analysis::explain_result& result, const std::string& dimension,
                                    const std::string& key)
{
    std::string all;
    for (const auto& e : result.incidents) {
        if (e.incident.dimension == dimension && e.incident.key == key)
            return e;
        all += causes_text(e);
    }
    FAIL("explain lists no " << dimension << " incident of " << key << "; it lists:\n" << all);
    return result.incidents.front();
}

// The stored incidents are exactly the expected ones.
void check_incidents(const timeline& t, const std::vector<incident_row>& got,
                     const std::vector<expected_incident>& expected)
{
    CHECK(described(got) == described(t, expected));
}

// Rank of the first cause of kind and code, 0 when there is none.
int rank_of(const explained_incident& e, const std::string& kind, const std::string& code)
{
    for (const auto& c : e.causes)
        if (c.kind == kind && c.code == code)
            return c.rank;
    return 0;
}

bool mentions(const std::vector<std::string>& evidence, const std::string& text)
{
    return std::any_of(evidence.begin(), evidence.end(),
                       [&](const std::string& line) { return line.find(text) != std::string::npos; });
}

// A domain with mx1 and four big senders delivering 200 sessions a day each.
deployment_state one_mx(const timeline& t, long long max_age = 604800)
{
    deployment_state s;
    s.policy_text = policy_text({t.mx("mx1")}, max_age);
    s.mx = {{t.mx("mx1"), 10}};
    return s;
}

// mx2 is added on day 17 at 09:12, not covered by the policy's mx patterns: four senders
// fail validation there, 4 sessions a day each, none of them alone reaching the minimum
// count.
void mx_added_story(timeline& t)
{
    deployment_state before = one_mx(t);
    deployment_state after = before;
    after.mx.push_back({t.mx("mx2"), 10, "2027-06-01T00:00:00Z", true, true, "bb22"});
    after.findings = {make_finding("mx-not-covered", t.mx("mx2"),
                                   t.mx("mx2") + " is an MX of example.com but matches none of the policy's mx patterns")};

    t.check_daily(1, 17, before);
    const auto changes = t.check(t.at(17, 9, 12), after);
    REQUIRE(changes.size() == 1);
    REQUIRE(changes[0].kind == "mx-added");
    REQUIRE(changes[0].subject == t.mx("mx2"));
    t.check_daily(18, 30, after);

    for (const auto& org : big_four) {
        t.daily(org, 1, 16, [&](int) { return std::vector{sts_entry(before.policy_text, 200)}; });
        t.daily(org, 17, 30, [&](int) {
            return std::vector{sts_entry(before.policy_text, 150, {failed(org, "validation-failure", t.mx("mx2"), 4)})};
        });
    }
    REQUIRE(t.store() == 4 * 30);
}

const std::int64_t mx_added_failed = 14 * 4 * 4;

} // namespace

TEST_CASE("an MX added on day 17 and not covered by the policy: an MX incident caused by mx-not-covered", "[analysis]")
{
    timeline t("example.com");
    mx_added_story(t);

    // No sender alone reaches the minimum count: the incidents are the domain's, the MX's
    // and the result type's. (Not a new result type: the domain has less than a baseline of
    // history before it.)
    const std::int64_t failed_sessions = mx_added_failed;
    const auto result = refresh(t);
    check_incidents(t, result.incidents,
                    {{"domain", "example.com", 17, 0, failed_sessions},
                     {"mx", t.mx("mx2"), 17, 0, failed_sessions},
                     {"result-type", "validation-failure", 17, 0, failed_sessions}});
    CHECK(result.opened == result.incidents.size());

    const auto explanation = explain_all(t);
    REQUIRE_FALSE(explanation.incidents.empty());
    const auto& mx = explained(explanation, "mx", t.mx("mx2"));
    INFO(causes_text(mx));
    REQUIRE_FALSE(mx.causes.empty());
    CHECK(mx.causes[0].rank == 1);
    CHECK(mx.causes[0].kind == "finding");
    CHECK(mx.causes[0].code == "mx-not-covered");
    CHECK(mx.causes[0].subject == t.mx("mx2"));
    CHECK(mx.causes[0].first_seen == t.at(17, 9, 12));
    CHECK(rank_of(mx, "change", "mx-added") > 1);
    for (const auto& c : mx.causes)
        if (c.kind == "change" && c.code == "mx-added")
            CHECK(c.at == t.at(17, 9, 12));
    // The MX incident is the one most specific to the cause: listed first.
    CHECK(explanation.incidents[0].incident.dimension == "mx");
    CHECK(explanation.incidents[0].incident.key == t.mx("mx2"));
    CHECK(explanation.incidents[0].incident.organizations == sorted(big_four));
}

TEST_CASE("an MX certificate that expired on a known day: the incident dated by its not_after", "[analysis]")
{
    // mx1's certificate ends on day 12 at 08:30; the daily check at 06:00 first sees it
    // expired on day 13. Five senders reach both MX hosts; sessions to mx1 fail from then on.
    timeline t("example.com");
    const std::string not_after = t.at(12, 8, 30);
    deployment_state s;
    s.policy_text = policy_text({t.mx("mx1"), t.mx("mx2")});
    s.mx = {{t.mx("mx1"), 10, not_after, true, true, "aa11"}, {t.mx("mx2"), 10, "2027-06-01T00:00:00Z", true, true, "bb22"}};
    const auto expiring = make_finding("mx-cert-expiring", t.mx("mx1"), "the certificate of mx1 expires soon");
    const auto expired = make_finding("mx-cert-expired", t.mx("mx1"), "the certificate of mx1 has expired");
    for (int n = 1; n <= 30; ++n) {
        deployment_state today = s;
        if (n >= 13)
            today.findings = {expired};
        else if (t.day(n) + std::chrono::days(14) > t.day(12))
            today.findings = {expiring};
        t.check(t.at(n), today);
    }

    const std::vector<std::string> senders = {google, microsoft, yahoo, comcast, "Mail.Ru"};
    for (const auto& org : senders) {
        t.daily(org, 1, 11, [&](int) { return std::vector{sts_entry(s.policy_text, 100)}; });
        t.report(org, 12, {sts_entry(s.policy_text, 80, {failed(org, "certificate-expired", t.mx("mx1"), 2)})});
        t.daily(org, 13, 30, [&](int) {
            return std::vector{sts_entry(s.policy_text, 60, {failed(org, "certificate-expired", t.mx("mx1"), 4)})};
        });
    }
    REQUIRE(t.store() == 5 * 30);

    const std::int64_t failed_sessions = 5 * 2 + 18 * 5 * 4;
    check_incidents(t, refresh(t).incidents,
                    {{"domain", "example.com", 12, 0, failed_sessions},
                     {"mx", t.mx("mx1"), 12, 0, failed_sessions},
                     {"result-type", "certificate-expired", 12, 0, failed_sessions}});

    const auto explanation = explain_all(t);
    const auto& e = explained(explanation, "mx", t.mx("mx1"));
    INFO(causes_text(e));
    REQUIRE_FALSE(e.causes.empty());
    CHECK(e.causes[0].kind == "finding");
    CHECK(e.causes[0].code == "mx-cert-expired");
    CHECK(e.causes[0].subject == t.mx("mx1"));
    // The certificate's end, not the first check that saw it (day 13, 06:00).
    CHECK(e.causes[0].first_seen == not_after);
}

TEST_CASE("a policy changed without a new id: senders keep the old policy until max_age runs out", "[analysis]")
{
    // Day 10 at 12:00 the domain moves its mail from mx1 to mx3 and rewrites the policy's mx
    // line, keeping the _mta-sts id. Senders hold the old policy (max_age a week) and fail
    // validation at mx3 until it runs out on day 17 at 12:00; their reports show the old
    // lines until then, and both policies on day 17.
    timeline t("example.com");
    deployment_state old_state = one_mx(t);
    deployment_state new_state;
    new_state.sts_id = old_state.sts_id;
    new_state.policy_text = policy_text({t.mx("mx3")});
    new_state.mx = {{t.mx("mx3"), 10, "2027-06-01T00:00:00Z", true, true, "cc33"}};

    t.check_daily(1, 10, old_state);
    const auto changes = t.check(t.at(10, 12), new_state);
    std::vector<std::string> kinds;
    for (const auto& c : changes)
        kinds.push_back(c.kind);
    INFO("changes");
    CHECK(std::find(kinds.begin(), kinds.end(), "mx-added") != kinds.end());
    CHECK(std::find(kinds.begin(), kinds.end(), "sts-id-changed") == kinds.end());
    t.check_daily(11, 30, new_state);

    const std::vector<std::string> senders = {google, microsoft, yahoo};
    for (const auto& org : senders) {
        t.daily(org, 1, 9, [&](int) { return std::vector{sts_entry(old_state.policy_text, 200)}; });
        t.report(org, 10, {sts_entry(old_state.policy_text, 100, {failed(org, "validation-failure", t.mx("mx3"), 20)})});
        t.daily(org, 11, 16, [&](int) {
            return std::vector{sts_entry(old_state.policy_text, 0, {failed(org, "validation-failure", t.mx("mx3"), 40)})};
        });
        t.report(org, 17, {sts_entry(old_state.policy_text, 0, {failed(org, "validation-failure", t.mx("mx3"), 20)}),
                           sts_entry(new_state.policy_text, 100)});
        t.daily(org, 18, 30, [&](int) { return std::vector{sts_entry(new_state.policy_text, 200)}; });
    }
    REQUIRE(t.store() == 3 * 30);

    const std::int64_t per_sender = 20 + 6 * 40 + 20;
    std::vector<expected_incident> expected = {
        {"domain", "example.com", 10, 17, 3 * per_sender},
        {"mx", t.mx("mx3"), 10, 17, 3 * per_sender},
        {"result-type", "validation-failure", 10, 17, 3 * per_sender},
    };
    for (const auto& org : senders)
        expected.push_back({"organization", org, 10, 17, per_sender});
    check_incidents(t, refresh(t).incidents, expected);

    const auto explanation = explain_all(t);
    const auto& e = explained(explanation, "mx", t.mx("mx3"));
    INFO(causes_text(e));
    REQUIRE_FALSE(e.causes.empty());
    CHECK(e.causes[0].kind == "stale-policy");
    CHECK(e.causes[0].code == "stale-policy");
    CHECK(e.causes[0].subject == "example.com");
    CHECK(e.causes[0].first_seen == t.at(10, 12));   // the new version, first seen
    // Every sender named, and when it should have refreshed: a week after the change.
    for (const auto& org : senders)
        CHECK(mentions(e.causes[0].evidence, org));
    CHECK(mentions(e.causes[0].evidence, t.at(17, 12)));
    // The change that began it comes after, dated.
    REQUIRE(e.causes.size() >= 2);
    CHECK(e.causes[1].kind == "change");
    CHECK(e.causes[1].code == "mx-added");
    CHECK(e.causes[1].subject == t.mx("mx3"));
    CHECK(e.causes[1].at == t.at(10, 12));
}

TEST_CASE("one sender with a broken trust store: an organization incident on the sender's side", "[analysis]")
{
    timeline t("example.com");
    const deployment_state s = one_mx(t);
    t.check_daily(1, 30, s);
    const std::string broken = "Broken Trust Mail";
    for (const auto& org : {google, microsoft, yahoo})
        t.daily(org, 1, 30, [&](int) { return std::vector{sts_entry(s.policy_text, 200)}; });
    t.daily(broken, 1, 19, [&](int) { return std::vector{sts_entry(s.policy_text, 50)}; });
    t.daily(broken, 20, 30, [&](int) {
        return std::vector{sts_entry(s.policy_text, 0, {failed(broken, "certificate-not-trusted", t.mx("mx1"), 50)})};
    });
    REQUIRE(t.store() == 4 * 30);

    const std::int64_t failed_sessions = 11 * 50;
    check_incidents(t, refresh(t).incidents,
                    {{"domain", "example.com", 20, 0, failed_sessions},
                     {"mx", t.mx("mx1"), 20, 0, failed_sessions},
                     {"result-type", "certificate-not-trusted", 20, 0, failed_sessions},
                     {"organization", broken, 20, 0, failed_sessions}});

    const auto explanation = explain_all(t);
    const auto& e = explained(explanation, "organization", broken);
    INFO(causes_text(e));
    REQUIRE_FALSE(e.causes.empty());
    CHECK(e.causes[0].kind == "sender");
    CHECK(e.causes[0].code == "one-sender");
    CHECK(e.causes[0].subject == broken);
}

TEST_CASE("a quiet domain with a few scattered failures has no incident", "[analysis]")
{
    timeline t("example.com");
    const deployment_state s = one_mx(t);
    t.check_daily(1, 30, s);
    const std::map<std::pair<std::string, int>, failure_spec> stray = {
        {{google, 5}, failed(google, "validation-failure", t.mx("mx1"), 1)},
        {{yahoo, 12}, failed(yahoo, "certificate-expired", t.mx("mx1"), 2)},
        {{microsoft, 21}, {"sts-policy-fetch-error", "", "", 1}},
        {{comcast, 27}, failed(comcast, "validation-failure", t.mx("mx1"), 3)},
        {{google, 29}, failed(google, "starttls-not-supported", t.mx("mx1"), 2)},
    };
    for (const auto& org : big_four)
        t.daily(org, 1, 30, [&](int n) {
            const auto it = stray.find({org, n});
            if (it == stray.end())
                return std::vector{sts_entry(s.policy_text, 200)};
            return std::vector{sts_entry(s.policy_text, 200 - it->second.count, {it->second})};
        });
    REQUIRE(t.store() == 4 * 30);

    const auto result = refresh(t);
    CHECK(described(result.incidents).empty());
    CHECK(result.opened == 0);
    CHECK(explain_all(t).incidents.empty());
}

TEST_CASE("a low-volume domain whose MX stops offering STARTTLS has an incident, its quiet twin none", "[analysis]")
{
    // About ten sessions a day from two senders.
    auto low_volume = [](timeline& t, const std::map<int, std::int64_t>& failures_by_day, int broken_from) {
        deployment_state s;
        s.policy_text = policy_text({t.mx("mx1"), t.mx("mx2")});
        s.mx = {{t.mx("mx1"), 10}, {t.mx("mx2"), 20, "2027-06-01T00:00:00Z", true, true, "bb22"}};
        deployment_state broken = s;
        broken.mx[0].starttls = false;
        broken.findings = {make_finding("mx-starttls-missing", t.mx("mx1"), "mx1 does not offer STARTTLS")};
        for (int n = 1; n <= 30; ++n)
            t.check(t.at(n), broken_from && n >= broken_from ? broken : s);
        const std::vector<std::pair<std::string, std::int64_t>> senders = {{google, 6}, {microsoft, 4}};
        for (const auto& [org, sessions] : senders)
            t.daily(org, 1, 30, [&, org = org, sessions = sessions](int n) {
                const auto it = failures_by_day.find(n);
                // Google takes the larger share of a day's failures.
                const std::int64_t f = it == failures_by_day.end() ? 0 : (org == google ? (it->second + 1) / 2 : it->second / 2);
                if (f == 0)
                    return std::vector{sts_entry(s.policy_text, sessions)};
                return std::vector{sts_entry(s.policy_text, sessions - f, {failed(org, "starttls-not-supported", t.mx("mx1"), f)})};
            });
        REQUIRE(t.store() == 2 * 30);
    };

    SECTION("failing")
    {
        timeline t("example.com");
        std::map<int, std::int64_t> failures;
        for (int n = 21; n <= 30; ++n)
            failures[n] = 7;
        low_volume(t, failures, 21);
        const std::int64_t failed_sessions = 10 * 7;
        check_incidents(t, refresh(t).incidents,
                        {{"domain", "example.com", 21, 0, failed_sessions},
                         {"mx", t.mx("mx1"), 21, 0, failed_sessions},
                         {"result-type", "starttls-not-supported", 21, 0, failed_sessions}});
        const auto explanation = explain_all(t);
        const auto& e = explained(explanation, "mx", t.mx("mx1"));
        INFO(causes_text(e));
        REQUIRE_FALSE(e.causes.empty());
        CHECK(e.causes[0].kind == "finding");
        CHECK(e.causes[0].code == "mx-starttls-missing");
        CHECK(e.causes[0].subject == t.mx("mx1"));
        CHECK(e.causes[0].first_seen == t.at(21));
    }
    SECTION("quiet")
    {
        timeline t("example.com");
        low_volume(t, {{8, 1}, {15, 2}, {22, 2}, {23, 1}, {29, 2}}, 0);
        CHECK(described(refresh(t).incidents).empty());
    }
}

TEST_CASE("late reports for days already analysed update the incident under its id", "[analysis]")
{
    // mx2 fails validation from day 24 for four senders; Comcast's reports of days 29 and 30
    // arrive after a first refresh.
    timeline t("example.com");
    deployment_state s = one_mx(t);
    deployment_state added = s;
    added.mx.push_back({t.mx("mx2"), 10, "2027-06-01T00:00:00Z", true, true, "bb22"});
    added.findings = {make_finding("mx-not-covered", t.mx("mx2"), "mx2 is not covered")};
    t.check_daily(1, 23, s);
    t.check_daily(24, 30, added);
    auto reports = [&](const std::string& org, int from, int to) {
        t.daily(org, from, to, [&](int n) {
            if (n < 24)
                return std::vector{sts_entry(s.policy_text, 200)};
            return std::vector{sts_entry(s.policy_text, 190, {failed(org, "validation-failure", t.mx("mx2"), 4)})};
        });
    };
    for (const auto& org : {google, microsoft, yahoo})
        reports(org, 1, 30);
    reports(comcast, 1, 28);
    REQUIRE(t.store() == 3 * 30 + 28);

    const std::int64_t first_count = 3 * 7 * 4 + 5 * 4;
    const auto first = refresh(t);
    check_incidents(t, first.incidents,
                    {{"domain", "example.com", 24, 0, first_count},
                     {"mx", t.mx("mx2"), 24, 0, first_count},
                     {"result-type", "validation-failure", 24, 0, first_count}});
    std::map<std::string, long long> ids;
    for (const auto& i : first.incidents) {
        CHECK(i.id > 0);
        ids[i.dimension + " " + i.key] = i.id;
    }

    reports(comcast, 29, 30);
    REQUIRE(t.store() == 2);
    const std::int64_t second_count = first_count + 2 * 4;
    const auto second = refresh(t);
    check_incidents(t, second.incidents,
                    {{"domain", "example.com", 24, 0, second_count},
                     {"mx", t.mx("mx2"), 24, 0, second_count},
                     {"result-type", "validation-failure", 24, 0, second_count}});
    CHECK(second.opened == 0);
    CHECK(second.updated == second.incidents.size());
    for (const auto& i : second.incidents)
        CHECK(i.id == ids[i.dimension + " " + i.key]);
}

TEST_CASE("a refresh with nothing new leaves the stored incidents as they are", "[analysis]")
{
    timeline t("example.com");
    mx_added_story(t);
    const auto first = refresh(t);
    REQUIRE(first.incidents.size() == 3);
    CHECK(first.opened == 3);
    const auto again = refresh(t);
    CHECK(again.opened == 0);
    CHECK(again.updated == 0);
    CHECK(again.ended == 0);
    CHECK(again.retracted == 0);
    CHECK(again.unchanged == 3);
    CHECK(described(again.incidents) == described(first.incidents));
}

TEST_CASE("late successful sessions retract a one-day incident", "[analysis]")
{
    // Two small senders fail at mx1 on day 28; the two big senders' reports of that day come
    // in late, with thousands of sessions that succeeded: the day was not elevated after all.
    timeline t("example.com");
    const deployment_state s = one_mx(t);
    t.check_daily(1, 30, s);
    const std::vector<std::string> small = {"Small Sender One", "Small Sender Two"};
    for (const auto& org : small)
        t.daily(org, 1, 30, [&](int n) {
            if (n == 28)
                return std::vector{sts_entry(s.policy_text, 6, {failed(org, "certificate-expired", t.mx("mx1"), 4)})};
            return std::vector{sts_entry(s.policy_text, 10)};
        });
    auto big = [&](const std::string& org, int n) {
        // A stray failure of the type now and then: it is not a new result type.
        if (n == 5 || n == 15)
            return std::vector{sts_entry(s.policy_text, 999, {failed(org, "certificate-expired", t.mx("mx1"), 1)})};
        return std::vector{sts_entry(s.policy_text, 1000)};
    };
    for (const auto& org : {google, microsoft})
        for (int n = 1; n <= 30; ++n)
            if (n != 28)
                t.report(org, n, big(org, n));
    REQUIRE(t.store() == 2 * 30 + 2 * 29);

    const auto first = refresh(t);
    check_incidents(t, first.incidents,
                    {{"domain", "example.com", 28, 28, 8},
                     {"mx", t.mx("mx1"), 28, 28, 8},
                     {"result-type", "certificate-expired", 28, 28, 8}});

    for (const auto& org : {google, microsoft})
        t.report(org, 28, big(org, 28));
    REQUIRE(t.store() == 2);
    const auto second = refresh(t);
    CHECK(described(second.incidents).empty());
    CHECK(second.retracted == first.incidents.size());
    analysis_store store(t.url());
    CHECK(store.incidents(t.domain(), std::nullopt, std::nullopt).empty());
    CHECK(explain_all(t).incidents.empty());
    // Kept, marked retracted.
    CHECK(query_count(t.url(), "SELECT count(*) FROM incidents WHERE status = 'retracted'") ==
          static_cast<long long>(first.incidents.size()));
}

TEST_CASE("a failure burst with no finding and no change is unexplained, said plainly", "[analysis]")
{
    // 45 days: the burst of days 33 to 37 comes after a full baseline, so its result type,
    // never seen before, is an incident of its own too.
    timeline t("example.com", 45);
    const deployment_state s = one_mx(t);
    t.check_daily(1, 45, s);
    for (const auto& org : {google, microsoft, yahoo})
        t.daily(org, 1, 45, [&](int n) {
            if (n >= 33 && n <= 37)
                return std::vector{sts_entry(s.policy_text, 196, {failed(org, "certificate-host-mismatch", t.mx("mx1"), 4)})};
            return std::vector{sts_entry(s.policy_text, 200)};
        });
    REQUIRE(t.store() == 3 * 45);

    const std::int64_t failed_sessions = 5 * 3 * 4;
    check_incidents(t, refresh(t).incidents,
                    {{"domain", "example.com", 33, 37, failed_sessions},
                     {"mx", t.mx("mx1"), 33, 37, failed_sessions},
                     {"result-type", "certificate-host-mismatch", 33, 37, failed_sessions},
                     {"new-result-type", "certificate-host-mismatch", 33, 37, failed_sessions}});
    const auto explanation = explain_all(t);
    const auto& e = explained(explanation, "mx", t.mx("mx1"));
    INFO(causes_text(e));
    REQUIRE(e.causes.size() == 1);
    CHECK(e.causes[0].rank == 1);
    CHECK(e.causes[0].kind == "unexplained");
    CHECK(e.causes[0].code == "unexplained");
    CHECK_FALSE(e.causes[0].evidence.empty());
}

TEST_CASE("a regular reporter that goes silent for four days is an incident of its own", "[analysis]")
{
    // Microsoft reports every day but days 34 to 37 of 40, while the others keep reporting.
    timeline t("example.com", 40);
    const deployment_state s = one_mx(t);
    t.check_daily(1, 40, s);
    for (const auto& org : {google, yahoo, comcast})
        t.daily(org, 1, 40, [&](int) { return std::vector{sts_entry(s.policy_text, 200)}; });
    t.daily(microsoft, 1, 33, [&](int) { return std::vector{sts_entry(s.policy_text, 200)}; });
    t.daily(microsoft, 38, 40, [&](int) { return std::vector{sts_entry(s.policy_text, 200)}; });
    REQUIRE(t.store() == 3 * 40 + 36);

    const auto result = refresh(t);
    check_incidents(t, result.incidents, {{"silent-reporter", microsoft, 34, 37, 0}});
}

namespace {

// A sample report of tests/data/reports, moved to day with a report-id of its own.
tls_report sample_on(const std::string& file, utc_date day, const std::string& report_id)
{
    report_metadata metadata;
    tls_report r = parse_report(data_file("reports/" + file), metadata).report;
    r.start_datetime = start_of(day);
    r.end_datetime = {r.start_datetime.seconds + 86399, 0};
    r.report_id = report_id;
    return r;
}

analysis::trends_result trends_of(const timeline& t, const std::string& domain, int from, int to,
                                  std::optional<trend_group> group = std::nullopt)
{
    analysis_store store(t.url());
    analysis::trends_request request;
    request.domain = domain;
    request.since = t.day(from);
    request.until = t.day(to);
    request.group = group;
    return analysis::query_trends(store, request);
}

// "day successful/failed type=n ..." of each bucket.
std::vector<std::string> series_text(const analysis::trends_result& r)
{
    std::vector<std::string> out;
    for (const auto& p : r.series) {
        std::string line = format_day(p.start) + " " + std::to_string(p.successful) + "/" + std::to_string(p.failed);
        for (const auto& [type, n] : p.result_types)
            line += " " + type + "=" + std::to_string(n);
        out.push_back(line);
    }
    return out;
}

std::vector<std::string> groups_text(const analysis::trends_result& r)
{
    std::vector<std::string> out;
    for (const auto& g : r.groups)
        out.push_back(g.key + " " + (g.successful ? std::to_string(*g.successful) : "-") + "/" +
                      std::to_string(g.failed) + " " + format_day(g.first_seen) + ".." + format_day(g.last_seen));
    return out;
}

} // namespace

TEST_CASE("trends count a report's tlsa and sts views of one domain once, and several sts policies each", "[analysis]")
{
    timeline t("example.net", 10);
    // Microsoft: the tlsa and the sts view of the same sessions to example.net (the sample
    // names the MX host as the tlsa policy's domain; here both are example.net).
    tls_report same = sample_on("microsoft-tlsa.json", t.day(2), "133751040005551234+example.net");
    same.policies[0].policy_domain = "example.net";
    t.report(same);
    tls_report with_failures = sample_on("microsoft-tlsa.json", t.day(5), "133751904005551234+example.net");
    with_failures.policies[0].policy_domain = "example.net";
    for (auto& p : with_failures.policies) {
        p.total_successful_session_count = 307;
        p.total_failure_session_count = 3;
        failure_detail d;
        d.result_type = "certificate-expired";
        d.receiving_mx_hostname = "mx.example.net";
        d.sending_mta_ip = "40.107.22.5";
        d.failed_session_count = 3;
        p.failure_details = {d};
    }
    t.report(with_failures);
    // Google: no-policy-found and two sts policies (the policy changed during the day) for
    // example.com: different sessions, added.
    t.report(sample_on("google.json", t.day(4), "2026-11-24T00:00:00Z_example.com"));
    REQUIRE(t.store() == 3);

    const auto net = trends_of(t, "example.net", 1, 10);
    CHECK(net.successful == 310 + 307);
    CHECK(net.failed == 3);
    CHECK(series_text(net) == std::vector<std::string>{
                                  "2026-11-21 0/0", "2026-11-22 310/0", "2026-11-23 0/0", "2026-11-24 0/0",
                                  "2026-11-25 307/3 certificate-expired=3", "2026-11-26 0/0", "2026-11-27 0/0",
                                  "2026-11-28 0/0", "2026-11-29 0/0", "2026-11-30 0/0"});
    // By policy type, each view shows on its own.
    CHECK(groups_text(trends_of(t, "example.net", 1, 10, trend_group::policy_type)) ==
          std::vector<std::string>{"sts 617/3 2026-11-22..2026-11-25", "tlsa 617/3 2026-11-22..2026-11-25"});
    CHECK(groups_text(trends_of(t, "example.net", 1, 10, trend_group::result_type)) ==
          std::vector<std::string>{"certificate-expired -/3 2026-11-25..2026-11-25"});

    const auto com = trends_of(t, "example.com", 3, 5);
    CHECK(com.successful == 4 + 120 + 45);
    CHECK(com.failed == 2);
    CHECK(series_text(com) ==
          std::vector<std::string>{"2026-11-23 0/0", "2026-11-24 169/2 validation-failure=2", "2026-11-25 0/0"});
    CHECK(groups_text(trends_of(t, "example.com", 3, 5, trend_group::policy_type)) ==
          std::vector<std::string>{"sts 165/2 2026-11-24..2026-11-24", "no-policy-found 4/0 2026-11-24..2026-11-24"});
    CHECK(groups_text(trends_of(t, "example.com", 3, 5, trend_group::mx)) ==
          std::vector<std::string>{"mx2.example.com -/2 2026-11-24..2026-11-24"});
    CHECK(groups_text(trends_of(t, "example.com", 3, 5, trend_group::sending_ip)) ==
          std::vector<std::string>{"209.85.220.41 -/2 2026-11-24..2026-11-24"});
}

namespace {

run_result stswatch_run(const timeline& t, std::vector<std::string> args)
{
    args.insert(args.begin(), {required_env("STSWATCH_BIN"), "--db", t.url()});
    return run_program(args);
}

// The output of a run that must succeed, as a JSON object.
Poco::JSON::Object::Ptr json_of(const run_result& r)
{
    INFO("stderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    return json_object(r.out);
}

} // namespace

TEST_CASE("stswatch trends, explain, incidents and domains --json keep the documented contract", "[analysis][cli]")
{
    timeline t("example.com");
    mx_added_story(t);
    REQUIRE(refresh(t).incidents.size() == 3);

    SECTION("trends: totals, every bucket zero-filled, groups only with --group")
    {
        // Five days before the first report: zeros.
        const auto doc = json_of(stswatch_run(t, {"trends", "example.com", "--since", "2026-10-27", "--until",
                                                  "2026-11-30", "--json"}));
        CHECK(doc->getValue<std::string>("domain") == "example.com");
        CHECK(doc->getValue<std::string>("since") == "2026-10-27");
        CHECK(doc->getValue<std::string>("until") == "2026-11-30");
        CHECK(doc->getValue<std::string>("by") == "day");
        CHECK_FALSE(doc->has("groups"));
        CHECK(doc->has("counting"));
        const auto totals = doc->getObject("totals");
        REQUIRE(totals);
        const std::int64_t successful = 4 * (16 * 200 + 14 * 150);
        CHECK(totals->getValue<std::int64_t>("successful") == successful);
        CHECK(totals->getValue<std::int64_t>("failed") == mx_added_failed);
        CHECK(std::abs(totals->getValue<double>("failure_rate") -
                       double(mx_added_failed) / double(successful + mx_added_failed)) < 1e-4);
        const auto series = doc->getArray("series");
        REQUIRE(series);
        REQUIRE(series->size() == 35);
        for (unsigned i = 0; i < series->size(); ++i) {
            const auto b = series->getObject(i);
            const utc_date day = day_from("2026-10-27") + std::chrono::days(i);
            INFO("bucket " << format_day(day));
            CHECK(b->getValue<std::string>("start") == format_day(day));
            const auto types = b->getObject("result_types");
            REQUIRE(types);
            const int n = static_cast<int>((day - t.day(1)).count()) + 1;   // the timeline's day
            std::int64_t ok = 0, bad = 0;
            if (n >= 1 && n <= 16)
                ok = 800;
            else if (n >= 17)
                ok = 600, bad = 16;
            CHECK(b->getValue<std::int64_t>("successful") == ok);
            CHECK(b->getValue<std::int64_t>("failed") == bad);
            CHECK(types->size() == (bad ? 1u : 0u));
            if (bad)
                CHECK(types->getValue<std::int64_t>("validation-failure") == bad);
        }

        const auto by_week = json_of(stswatch_run(t, {"trends", "example.com", "--since", "2026-11-01", "--until",
                                                      "2026-11-30", "--by", "week", "--group", "mx", "--json"}));
        CHECK(by_week->getValue<std::string>("by") == "week");
        const auto weeks = by_week->getArray("series");
        REQUIRE(weeks);
        REQUIRE(weeks->size() == 6);   // Mondays 2026-10-26 to 2026-11-30
        CHECK(weeks->getObject(0)->getValue<std::string>("start") == "2026-10-26");
        CHECK(weeks->getObject(5)->getValue<std::string>("start") == "2026-11-30");
        const auto groups = by_week->getArray("groups");
        REQUIRE(groups);
        REQUIRE(groups->size() == 1);
        const auto g = groups->getObject(0);
        CHECK(g->getValue<std::string>("key") == "mx2.example.com");
        CHECK(g->getValue<std::int64_t>("failed") == mx_added_failed);
        CHECK(g->getValue<std::string>("first_seen") == "2026-11-17");
        CHECK(g->getValue<std::string>("last_seen") == "2026-11-30");
    }

    // explain and incidents refresh as of the real today unless told not to: the timeline's
    // today is fixed, so they only read what the refresh above stored.
    SECTION("explain: the incidents with their ranked causes, end null while ongoing")
    {
        const auto doc = json_of(stswatch_run(t, {"explain", "example.com", "--since", "2026-11-01", "--until",
                                                  "2026-11-30", "--no-refresh", "--json"}));
        CHECK(doc->getValue<std::string>("domain") == "example.com");
        CHECK(doc->getValue<std::string>("since") == "2026-11-01");
        CHECK(doc->getValue<std::string>("until") == "2026-11-30");
        const auto incidents = doc->getArray("incidents");
        REQUIRE(incidents);
        REQUIRE(incidents->size() >= 1);
        const auto first = incidents->getObject(0);
        for (const char* key : {"id", "onset", "end", "dimension", "key", "result_types", "mx", "organizations",
                                "failed_sessions", "failure_rate", "baseline_rate", "causes"})
            CHECK(first->has(key));
        CHECK(first->getValue<std::string>("dimension") == "mx");
        CHECK(first->getValue<std::string>("key") == "mx2.example.com");
        CHECK(first->getValue<std::string>("onset") == "2026-11-17");
        CHECK(first->isNull("end"));
        CHECK(first->getValue<std::int64_t>("failed_sessions") == mx_added_failed);
        CHECK(first->getArray("mx")->size() == 1);
        CHECK(first->getArray("mx")->getElement<std::string>(0) == "mx2.example.com");
        CHECK(first->getArray("result_types")->getElement<std::string>(0) == "validation-failure");
        CHECK(first->getArray("organizations")->size() == 4);
        const auto causes = first->getArray("causes");
        REQUIRE(causes);
        REQUIRE(causes->size() >= 2);
        const auto top = causes->getObject(0);
        CHECK(top->getValue<int>("rank") == 1);
        CHECK(top->getValue<std::string>("kind") == "finding");
        CHECK(top->getValue<std::string>("code") == "mx-not-covered");
        CHECK(top->getValue<std::string>("subject") == "mx2.example.com");
        CHECK(top->getValue<std::string>("first_seen") == "2026-11-17T09:12:00Z");
        CHECK(top->getArray("evidence")->size() >= 1);
        bool change = false;
        for (unsigned i = 1; i < causes->size(); ++i) {
            const auto c = causes->getObject(i);
            CHECK(c->getValue<int>("rank") == static_cast<int>(i) + 1);
            if (c->getValue<std::string>("kind") == "change" && c->getValue<std::string>("code") == "mx-added") {
                change = true;
                CHECK(c->getValue<std::string>("at") == "2026-11-17T09:12:00Z");
            }
        }
        CHECK(change);
    }

    SECTION("incidents and domains")
    {
        const auto listed = stswatch_run(t, {"incidents", "example.com", "--no-refresh", "--json"});
        INFO(listed.err);
        REQUIRE(listed.exit_code == 0);
        std::vector<std::string> keys;
        Poco::JSON::Array::Ptr rows;
        const auto text = listed.out;
        const auto doc = Poco::JSON::Parser().parse(text);
        if (doc.type() == typeid(Poco::JSON::Object::Ptr))
            rows = doc.extract<Poco::JSON::Object::Ptr>()->getArray("incidents");
        else
            rows = json_array(text);
        REQUIRE(rows);
        for (unsigned i = 0; i < rows->size(); ++i) {
            const auto r = rows->getObject(i);
            CHECK(r->isNull("end"));
            CHECK(r->getValue<std::string>("onset") == "2026-11-17");
            keys.push_back(r->getValue<std::string>("dimension") + " " + r->getValue<std::string>("key"));
        }
        std::sort(keys.begin(), keys.end());
        CHECK(keys == std::vector<std::string>{"domain example.com", "mx mx2.example.com", "result-type validation-failure"});

        const auto domains = stswatch_run(t, {"domains", "--json"});
        INFO(domains.err);
        REQUIRE(domains.exit_code == 0);
        Poco::JSON::Array::Ptr list;
        const auto d = Poco::JSON::Parser().parse(domains.out);
        if (d.type() == typeid(Poco::JSON::Object::Ptr))
            list = d.extract<Poco::JSON::Object::Ptr>()->getArray("domains");
        else
            list = json_array(domains.out);
        REQUIRE(list);
        REQUIRE(list->size() == 1);
        const auto row = list->getObject(0);
        CHECK(row->getValue<std::string>("domain") == "example.com");
        CHECK(row->getValue<bool>("monitored"));
        CHECK(row->getValue<long long>("open_incidents") == 3);
    }

    SECTION("an unknown domain is an empty result; a bad --since is a usage error naming it")
    {
        const auto trends = json_of(stswatch_run(t, {"trends", "nowhere.example", "--since", "2026-11-01", "--until",
                                                     "2026-11-03", "--json"}));
        CHECK(trends->getObject("totals")->getValue<std::int64_t>("successful") == 0);
        CHECK(trends->getObject("totals")->getValue<std::int64_t>("failed") == 0);
        CHECK(trends->getArray("series")->size() == 3);
        const auto explain = json_of(stswatch_run(t, {"explain", "nowhere.example", "--json"}));
        CHECK(explain->getArray("incidents")->size() == 0);

        for (const char* command : {"trends", "explain"}) {
            INFO(command);
            const auto bad = stswatch_run(t, {command, "example.com", "--since", "last tuesday", "--json"});
            CHECK(bad.exit_code == 2);
            CHECK(bad.err.find("--since") != std::string::npos);
            CHECK(bad.out.empty());
        }
    }
}
