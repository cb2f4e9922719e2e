// correlate: the ranked causes of one incident from hand-built evidence (docs/analysis.md
// "Causes"), with exact kinds, codes, subjects and times.
#include "analyzer/correlate.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

using namespace stswatch;
using namespace stswatch::analysis;

namespace {

const std::string domain = "example.com";

utc_date day(const char* text)
{
    return *parse_day(text);
}

snapshot_facts snap(long long id, const std::string& checked_at, std::string mx_json = "[]",
                    std::optional<std::string> policy_text = std::nullopt, std::string sts_id = "")
{
    snapshot_facts s;
    s.id = id;
    s.checked_at = checked_at;
    s.mx_json = std::move(mx_json);
    s.policy_text = std::move(policy_text);
    s.sts_id = std::move(sts_id);
    s.policy_json = "null";
    return s;
}

// One usable check a day at hh:mm from first to last, ids from first_id.
std::vector<snapshot_facts> daily_checks(long long first_id, int first_day, int last_day, const std::string& hh_mm,
                                         const std::string& mx_json = "[]",
                                         std::optional<std::string> policy_text = std::nullopt,
                                         const std::string& sts_id = "")
{
    std::vector<snapshot_facts> out;
    for (int d = first_day; d <= last_day; ++d) {
        char when[32];
        std::snprintf(when, sizeof when, "2026-11-%02dT%s:00Z", d, hh_mm.c_str());
        out.push_back(snap(first_id + (d - first_day), when, mx_json, policy_text, sts_id));
    }
    return out;
}

finding_row found(const snapshot_facts& s, const std::string& code, const std::string& subject,
                  const std::string& message = "")
{
    return {s.id, s.checked_at, code, "error", subject, message};
}

stored_change change(const std::string& kind, const std::string& subject, const std::string& detected_at,
                     long long snapshot_id, const std::string& before = "", const std::string& after = "")
{
    return {{kind, subject, before, after}, detected_at, snapshot_id};
}

incident_row incident(const std::string& dimension, const std::string& key, const char* onset, const char* last_day,
                      std::vector<std::string> mx, std::vector<std::string> types)
{
    incident_row r;
    r.domain = domain;
    r.dimension = dimension;
    r.key = key;
    r.onset = day(onset);
    r.last_day = day(last_day);
    r.mx = std::move(mx);
    r.result_types = std::move(types);
    return r;
}

rollup_row summary(const char* d, const std::string& org, std::int64_t successful, std::int64_t failed)
{
    return {day(d), "sts", "", "", org, true, successful, failed};
}

rollup_row failures(const char* d, const std::string& org, const std::string& type, const std::string& mx,
                    std::int64_t failed)
{
    return {day(d), "sts", type, mx, org, true, 0, failed};
}

sender_policy_row applied(const std::string& org, const char* d, const std::string& policy_text,
                          std::int64_t successful, std::int64_t failed)
{
    sender_policy_row r;
    r.organization = org;
    r.day = day(d);
    r.policy_type = "sts";
    std::string line;
    for (char c : policy_text) {
        if (c == '\n') {
            r.policy_string.push_back(line);
            line.clear();
        } else {
            line += c;
        }
    }
    if (!line.empty())
        r.policy_string.push_back(line);
    r.successful = successful;
    r.failed = failed;
    return r;
}

bool has_evidence(const cause& c, const std::string& text)
{
    return std::any_of(c.evidence.begin(), c.evidence.end(),
                       [&](const std::string& e) { return e.find(text) != std::string::npos; });
}

std::string describe(const std::vector<cause>& causes)
{
    std::string out;
    for (const auto& c : causes) {
        out += "#" + std::to_string(c.rank) + " " + c.kind + " " + c.code + " " + c.subject + " score " +
               std::to_string(c.score) + " first_seen " + c.first_seen.value_or("-") + " at " + c.at.value_or("-") + "\n";
        for (const auto& e : c.evidence)
            out += "    " + e + "\n";
    }
    return out;
}

} // namespace

TEST_CASE("correlate: an MX added on day 17 and not covered by the policy")
{
    evidence ev;
    ev.snapshots = daily_checks(1, 10, 19, "09:12");   // ids 1..10, day 17 is id 8
    ev.snapshots[8].dns_unavailable = true;            // day 18: the resolver failed, nothing seen
    for (long long id : {8, 10})
        ev.findings.push_back(found(ev.snapshots[static_cast<std::size_t>(id - 1)], "mx-not-covered",
                                    "mx2.example.com", "mx2.example.com is an MX of example.com but matches none of "
                                                       "the policy's mx patterns (mx1.example.com)"));
    // A warning on another MX, mapped to nothing of this incident.
    ev.findings.push_back(found(ev.snapshots[7], "mx-cert-expiring", "mx1.example.com"));
    ev.changes.push_back(change("mx-added", "mx2.example.com", "2026-11-17T09:12:00Z", 8, "", "20 mx2.example.com"));
    ev.changes.push_back(change("tlsrpt-record-changed", "_smtp._tls.example.com", "2026-11-15T09:12:00Z", 6, "a", "b"));
    // After the onset day: it cannot have started the failures.
    ev.changes.push_back(change("mx-cert-rotated", "mx2.example.com", "2026-11-18T00:00:00Z", 9, "sha256 aa", "sha256 bb"));
    for (const char* d : {"2026-11-17", "2026-11-18", "2026-11-19"}) {
        ev.rollups.push_back(summary(d, "google.com", 400, 120));
        ev.rollups.push_back(summary(d, "microsoft.com", 300, 80));
        ev.rollups.push_back(failures(d, "google.com", "validation-failure", "mx2.example.com", 120));
        ev.rollups.push_back(failures(d, "microsoft.com", "validation-failure", "mx2.example.com", 80));
    }
    const auto causes = correlate(incident("mx", "mx2.example.com", "2026-11-17", "2026-11-19", {"mx2.example.com"},
                                           {"validation-failure"}),
                                  ev);
    INFO(describe(causes));
    REQUIRE(causes.size() == 2);
    CHECK(causes[0].rank == 1);
    CHECK(causes[0].kind == "finding");
    CHECK(causes[0].code == "mx-not-covered");
    CHECK(causes[0].subject == "mx2.example.com");
    CHECK(causes[0].first_seen == std::optional<std::string>("2026-11-17T09:12:00Z"));
    CHECK_FALSE(causes[0].at);
    CHECK(causes[0].score == 100);
    CHECK(has_evidence(causes[0], "The check at 2026-11-17T09:12:00Z (snapshot 8) first reported mx-not-covered on "
                                  "mx2.example.com, and the 1 check after it up to 2026-11-19T09:12:00Z reported it too."));
    CHECK(has_evidence(causes[0], "on the onset day 2026-11-17, 9 h 12 min after it began"));
    CHECK(has_evidence(causes[0], "The check before, at 2026-11-16T09:12:00Z (snapshot 7), did not report it."));
    CHECK(has_evidence(causes[0], "mx2.example.com is a receiving MX of the failures."));
    CHECK(has_evidence(causes[0], "The check said: mx2.example.com is an MX of example.com"));

    CHECK(causes[1].rank == 2);
    CHECK(causes[1].kind == "change");
    CHECK(causes[1].code == "mx-added");
    CHECK(causes[1].subject == "mx2.example.com");
    CHECK(causes[1].at == std::optional<std::string>("2026-11-17T09:12:00Z"));
    CHECK_FALSE(causes[1].first_seen);
    CHECK(has_evidence(causes[1], "Detected on the onset day 2026-11-17, 14 h 48 min before its end"));
    CHECK(has_evidence(causes[1], "The check before it ran at 2026-11-16T09:12:00Z"));
    CHECK(has_evidence(causes[1], "after \"20 mx2.example.com\""));
}

TEST_CASE("correlate: a certificate that expired before the first check that saw it")
{
    const std::string valid = R"([{"host":"mx1.example.com","certificate":{"not_after":"2026-11-17T06:00:00Z",)"
                              R"("sha256":"ab12","trusted":true,"name_matches":true,"expired":false}}])";
    const std::string expired = R"([{"host":"mx1.example.com","certificate":{"not_after":"2026-11-17T06:00:00Z",)"
                                R"("sha256":"ab12","trusted":true,"name_matches":true,"expired":true}}])";
    evidence ev;
    ev.snapshots = daily_checks(1, 14, 15, "12:00", valid);
    // No check on days 16 to 18; the next one sees the certificate expired.
    ev.snapshots.push_back(snap(3, "2026-11-19T12:00:00Z", expired));
    ev.snapshots.push_back(snap(4, "2026-11-20T12:00:00Z", expired));
    ev.findings.push_back(found(ev.snapshots[2], "mx-cert-expired", "mx1.example.com"));
    ev.findings.push_back(found(ev.snapshots[3], "mx-cert-expired", "mx1.example.com"));
    const auto causes = correlate(incident("result-type", "certificate-expired", "2026-11-17", "2026-11-20",
                                           {"mx1.example.com"}, {"certificate-expired"}),
                                  ev);
    INFO(describe(causes));
    REQUIRE(causes.size() == 1);
    CHECK(causes[0].kind == "finding");
    CHECK(causes[0].code == "mx-cert-expired");
    CHECK(causes[0].subject == "mx1.example.com");
    CHECK(causes[0].first_seen == std::optional<std::string>("2026-11-17T06:00:00Z"));
    CHECK(causes[0].score == 100);
    CHECK(has_evidence(causes[0], "The check at 2026-11-19T12:00:00Z (snapshot 3) first reported mx-cert-expired"));
    CHECK(has_evidence(causes[0], "(sha256 ab12) expired at 2026-11-17T06:00:00Z, 2 d 6 h before the first check "
                                  "that saw it expired"));
    CHECK(has_evidence(causes[0], "It holds since 2026-11-17T06:00:00Z, on the onset day 2026-11-17, 6 h after it began."));
}

TEST_CASE("correlate: a policy changed without a new id, senders still applying the old one")
{
    const std::string old_policy = "version: STSv1\nmode: enforce\nmax_age: 604800\nmx: mx1.example.com\n";
    const std::string new_policy =
        "version: STSv1\r\nmode: enforce\r\nmax_age: 604800\r\nmx: mx1.example.com\r\nmx: mx2.example.com\r\n";
    evidence ev;
    ev.snapshots = daily_checks(1, 10, 15, "12:00", "[]", old_policy, "20261101");    // ids 1..6
    auto later = daily_checks(7, 16, 19, "12:00", "[]", new_policy, "20261101");      // ids 7..10
    ev.snapshots.insert(ev.snapshots.end(), later.begin(), later.end());
    ev.findings.push_back(found(ev.snapshots[6], "sts-policy-changed-without-id", "_mta-sts.example.com"));
    ev.changes.push_back(change("sts-policy-changed", "mta-sts.example.com", "2026-11-16T12:00:00Z", 7, old_policy,
                                new_policy));
    ev.changes.push_back(change("sts-mx-patterns-changed", "mta-sts.example.com", "2026-11-16T12:00:00Z", 7,
                                "mx1.example.com", "mx1.example.com,mx2.example.com"));
    ev.changes.push_back(change("mx-added", "mx2.example.com", "2026-11-16T12:00:00Z", 7, "", "20 mx2.example.com"));
    for (const char* d : {"2026-11-17", "2026-11-18", "2026-11-19"}) {
        ev.sender_policies.push_back(applied("stale-mail.example", d, old_policy, 20, 50));
        ev.sender_policies.push_back(applied("fresh-mail.example", d, new_policy, 100, 0));
        ev.rollups.push_back(summary(d, "stale-mail.example", 20, 50));
        ev.rollups.push_back(summary(d, "fresh-mail.example", 100, 0));
        ev.rollups.push_back(failures(d, "stale-mail.example", "validation-failure", "mx2.example.com", 50));
    }
    const auto causes = correlate(incident("mx", "mx2.example.com", "2026-11-17", "2026-11-19", {"mx2.example.com"},
                                           {"validation-failure"}),
                                  ev);
    INFO(describe(causes));
    REQUIRE(causes.size() == 5);
    CHECK(causes[0].kind == "stale-policy");
    CHECK(causes[0].code == "stale-policy");
    CHECK(causes[0].subject == "example.com");
    CHECK(causes[0].first_seen == std::optional<std::string>("2026-11-16T12:00:00Z"));
    CHECK(causes[0].score == 90);
    CHECK(has_evidence(causes[0], "stale-mail.example applied on 2026-11-17 to 2026-11-19 the policy id 20261101 "
                                  "(mode enforce, max_age 604800, mx mx1.example.com), which the checks saw published "
                                  "from 2026-11-10T12:00:00Z to 2026-11-15T12:00:00Z; 150 of its sessions failed."));
    CHECK(has_evidence(causes[0], "Its cache may hold that version until 2026-11-23T12:00:00Z."));
    CHECK(has_evidence(causes[0], "The domain publishes the policy id 20261101 (mode enforce, max_age 604800, mx "
                                  "mx1.example.com, mx2.example.com) since 2026-11-16T12:00:00Z (first seen by the "
                                  "check of snapshot 7; the last check that saw the old version ran at "
                                  "2026-11-15T12:00:00Z)."));
    CHECK(has_evidence(causes[0], "The policy changed without a new id: the record kept id 20261101"));
    CHECK(has_evidence(causes[0], "should have refreshed by 2026-11-23T12:00:00Z (2026-11-16T12:00:00Z + max_age)"));
    CHECK(has_evidence(causes[0], "reported sts-policy-changed-without-id on _mta-sts.example.com"));
    CHECK(has_evidence(causes[0], "do not match mx2.example.com, which the current one covers (mx mx2.example.com)"));
    CHECK(has_evidence(causes[0], "those that succeed (fresh-mail.example) apply the current one"));
    // The changes of the same check tie, and are ordered by kind; the sender's side comes last.
    CHECK(causes[1].code == "mx-added");
    CHECK(causes[2].code == "sts-mx-patterns-changed");
    CHECK(causes[3].code == "sts-policy-changed");
    for (int i = 1; i <= 3; ++i) {
        CHECK(causes[static_cast<std::size_t>(i)].kind == "change");
        CHECK(causes[static_cast<std::size_t>(i)].at == std::optional<std::string>("2026-11-16T12:00:00Z"));
        CHECK(causes[static_cast<std::size_t>(i)].rank == i + 1);
    }
    CHECK(has_evidence(causes[1], "Detected 12 h before the onset day 2026-11-17 began (1 d 12 h before its end)."));
    CHECK(causes[4].kind == "sender");
    CHECK(causes[4].subject == "stale-mail.example");
}

TEST_CASE("correlate: an old version still applied after its max_age ran out, and after a new id")
{
    const std::string old_policy = "version: STSv1\nmode: enforce\nmax_age: 86400\nmx: mx1.example.com\n";
    const std::string new_policy = "version: STSv1\nmode: enforce\nmax_age: 86400\nmx: *.example.com\n";
    evidence ev;
    ev.snapshots = daily_checks(1, 10, 12, "06:00", "[]", old_policy, "1");
    auto same_id = daily_checks(4, 13, 13, "06:00", "[]", new_policy, "1");
    auto new_id = daily_checks(5, 14, 19, "06:00", "[]", new_policy, "2");
    ev.snapshots.insert(ev.snapshots.end(), same_id.begin(), same_id.end());
    ev.snapshots.insert(ev.snapshots.end(), new_id.begin(), new_id.end());
    ev.sender_policies.push_back(applied("lazy.example", "2026-11-17", old_policy, 0, 30));
    ev.rollups.push_back(failures("2026-11-17", "lazy.example", "validation-failure", "mx2.example.com", 30));
    ev.rollups.push_back(failures("2026-11-17", "other.example", "validation-failure", "mx3.example.com", 30));
    const auto causes = correlate(incident("domain", "example.com", "2026-11-17", "2026-11-17", {"mx2.example.com"},
                                           {"validation-failure"}),
                                  ev);
    INFO(describe(causes));
    REQUIRE(causes.size() == 1);
    CHECK(causes[0].kind == "stale-policy");
    CHECK(causes[0].first_seen == std::optional<std::string>("2026-11-13T06:00:00Z"));
    // No succeeding sender applies the current version: no split, but the old patterns miss the MX.
    CHECK(causes[0].score == 65);
    // max_age ends 2026-11-14T06:00:00Z, the id changed at the same time: the earlier counts.
    CHECK(has_evidence(causes[0], "On 2026-11-17 its cache was overdue: it should have refreshed by 2026-11-14T06:00:00Z."));
    CHECK(has_evidence(causes[0], "The id changed at 2026-11-14T06:00:00Z"));
}

TEST_CASE("correlate: one sender with a broken trust store")
{
    const std::string healthy = R"([{"host":"mx1.example.com","certificate":{"not_after":"2027-02-01T00:00:00Z",)"
                                R"("sha256":"cd34","trusted":true,"name_matches":true,"expired":false}}])";
    evidence ev;
    ev.snapshots = daily_checks(1, 10, 19, "12:00", healthy);
    for (const char* d : {"2026-11-17", "2026-11-18"}) {
        ev.rollups.push_back(summary(d, "broken-mta.example", 0, 40));
        ev.rollups.push_back(summary(d, "google.com", 500, 0));
        ev.rollups.push_back(summary(d, "microsoft.com", 300, 0));
        ev.rollups.push_back(failures(d, "broken-mta.example", "certificate-not-trusted", "mx1.example.com", 40));
    }
    const auto causes = correlate(incident("organization", "broken-mta.example", "2026-11-17", "2026-11-18",
                                           {"mx1.example.com"}, {"certificate-not-trusted"}),
                                  ev);
    INFO(describe(causes));
    REQUIRE(causes.size() == 1);
    CHECK(causes[0].rank == 1);
    CHECK(causes[0].kind == "sender");
    CHECK(causes[0].code == "one-sender");
    CHECK(causes[0].subject == "broken-mta.example");
    CHECK(causes[0].score == 80);
    CHECK_FALSE(causes[0].first_seen);
    CHECK(has_evidence(causes[0], "broken-mta.example accounts for 80 of the 80 failed sessions (100.0 %) of "
                                  "certificate-not-trusted on 2026-11-17 to 2026-11-18, at mx1.example.com."));
    CHECK(has_evidence(causes[0], "2 other organizations delivered 1600 sessions successfully on the same days "
                                  "(google.com (1000), microsoft.com (600)); none of them reports a failure of those types at mx1.example.com"));
}

TEST_CASE("correlate: a sender whose failures others share at the same MX is not the cause")
{
    evidence ev;
    ev.snapshots = daily_checks(1, 10, 19, "12:00");
    ev.rollups.push_back(summary("2026-11-17", "a.example", 10, 95));
    ev.rollups.push_back(summary("2026-11-17", "b.example", 100, 5));
    ev.rollups.push_back(failures("2026-11-17", "a.example", "certificate-not-trusted", "mx1.example.com", 95));
    ev.rollups.push_back(failures("2026-11-17", "b.example", "certificate-not-trusted", "mx1.example.com", 5));
    const auto causes = correlate(incident("organization", "a.example", "2026-11-17", "2026-11-17",
                                           {"mx1.example.com"}, {"certificate-not-trusted"}),
                                  ev);
    INFO(describe(causes));
    REQUIRE(causes.size() == 1);
    CHECK(causes[0].kind == "unexplained");
}

TEST_CASE("correlate: a failure burst that nothing explains")
{
    evidence ev;
    ev.snapshots = daily_checks(1, 15, 17, "12:00");
    ev.changes.push_back(change("tlsrpt-record-changed", "_smtp._tls.example.com", "2026-11-15T12:00:00Z", 1, "a", "b"));
    ev.sender_policies.push_back(applied("a.example", "2026-11-17", "version: STSv1\nmode: enforce\nmax_age: 86400\n"
                                                                    "mx: mx1.example.com\n", 10, 30));
    ev.rollups.push_back(summary("2026-11-17", "a.example", 10, 30));
    ev.rollups.push_back(summary("2026-11-17", "b.example", 20, 25));
    ev.rollups.push_back(failures("2026-11-17", "a.example", "starttls-not-supported", "mx1.example.com", 30));
    ev.rollups.push_back(failures("2026-11-17", "b.example", "starttls-not-supported", "mx1.example.com", 25));
    const auto inc = incident("domain", "example.com", "2026-11-17", "2026-11-17", {"mx1.example.com"},
                              {"starttls-not-supported"});
    const auto causes = correlate(inc, ev);
    INFO(describe(causes));
    REQUIRE(causes.size() == 1);
    CHECK(causes[0].rank == 1);
    CHECK(causes[0].kind == "unexplained");
    CHECK(causes[0].code == "unexplained");
    CHECK(causes[0].subject == "example.com");
    CHECK_FALSE(causes[0].first_seen);
    CHECK_FALSE(causes[0].at);
    CHECK(has_evidence(causes[0], "3 checks from 2026-11-15T12:00:00Z to 2026-11-17T12:00:00Z were looked at; none "
                                  "carries a finding of mx-starttls-missing, mx-tls-failed, mx-unreachable on "
                                  "mx1.example.com, mta-sts.example.com, _mta-sts.example.com"));
    CHECK(has_evidence(causes[0], "1 change event detected from 2026-11-10T00:00:00Z to 2026-11-18T00:00:00Z was "
                                  "looked at; none is a change of mx-added."));
    CHECK(has_evidence(causes[0], "The policies senders applied were not compared with the published ones: a stale "
                                  "policy explains only validation-failure and certificate-host-mismatch."));
    CHECK(has_evidence(causes[0], "2 organizations report 55 failed sessions (a.example (30), b.example (25))"));

    SECTION("without any check history")
    {
        evidence none;
        none.rollups = ev.rollups;
        const auto alone = correlate(inc, none);
        INFO(describe(alone));
        REQUIRE(alone.size() == 1);
        CHECK(alone[0].kind == "unexplained");
        CHECK(has_evidence(alone[0], "The domain has no check history from before the onset to 2026-11-17"));
        CHECK(has_evidence(alone[0], "0 change events detected from 2026-11-10T00:00:00Z to 2026-11-18T00:00:00Z were"));
    }
}

TEST_CASE("correlate: a finding on another MX is not ranked above the one on the failing MX")
{
    evidence ev;
    ev.snapshots = daily_checks(1, 10, 19, "12:00");   // day 16 is id 7
    for (std::size_t i = 0; i < ev.snapshots.size(); ++i)
        ev.findings.push_back(found(ev.snapshots[i], "mx-cert-expired", "mx1.example.com"));
    ev.changes.push_back(change("mx-cert-rotated", "mx2.example.com", "2026-11-16T12:00:00Z", 7,
                                "sha256 aa not_after 2027-01-01T00:00:00Z", "sha256 bb not_after 2026-11-16T13:00:00Z"));
    const auto causes = correlate(incident("mx", "mx2.example.com", "2026-11-17", "2026-11-18", {"mx2.example.com"},
                                           {"certificate-expired"}),
                                  ev);
    INFO(describe(causes));
    REQUIRE(causes.size() == 2);
    CHECK(causes[0].kind == "change");
    CHECK(causes[0].code == "mx-cert-rotated");
    CHECK(causes[0].subject == "mx2.example.com");
    CHECK(causes[0].at == std::optional<std::string>("2026-11-16T12:00:00Z"));
    CHECK(causes[1].kind == "finding");
    CHECK(causes[1].code == "mx-cert-expired");
    CHECK(causes[1].subject == "mx1.example.com");
    CHECK(causes[1].first_seen == std::optional<std::string>("2026-11-10T12:00:00Z"));
    CHECK(causes[1].score == 40);
    CHECK(has_evidence(causes[1], "mx1.example.com is not among the receiving MX of the failures (mx2.example.com)."));

    SECTION("and below the same finding on the failing MX")
    {
        ev.findings.push_back(found(ev.snapshots[7], "mx-cert-expired", "mx2.example.com"));
        const auto both = correlate(incident("mx", "mx2.example.com", "2026-11-17", "2026-11-18",
                                             {"mx2.example.com"}, {"certificate-expired"}),
                                    ev);
        INFO(describe(both));
        REQUIRE(both.size() == 3);
        CHECK(both[0].subject == "mx2.example.com");
        CHECK(both[0].kind == "finding");
        CHECK(both[0].first_seen == std::optional<std::string>("2026-11-17T12:00:00Z"));
        CHECK(both[1].kind == "change");
        CHECK(both[2].subject == "mx1.example.com");
    }
}

TEST_CASE("correlate: a finding that ended before the onset is not a cause")
{
    evidence ev;
    ev.snapshots = daily_checks(1, 10, 19, "12:00");
    for (std::size_t i = 0; i < 4; ++i)   // days 10 to 13
        ev.findings.push_back(found(ev.snapshots[i], "mx-not-covered", "mx2.example.com"));
    // A change outside the window (more than 7 days before the onset) is not looked at either.
    ev.changes.push_back(change("mx-added", "mx2.example.com", "2026-11-09T23:59:00Z", 0));
    ev.rollups.push_back(failures("2026-11-17", "a.example", "validation-failure", "mx2.example.com", 30));
    ev.rollups.push_back(failures("2026-11-17", "b.example", "validation-failure", "mx2.example.com", 30));
    const auto causes = correlate(incident("mx", "mx2.example.com", "2026-11-17", "2026-11-18", {"mx2.example.com"},
                                           {"validation-failure"}),
                                  ev);
    INFO(describe(causes));
    REQUIRE(causes.size() == 1);
    CHECK(causes[0].kind == "unexplained");
    CHECK(has_evidence(causes[0], "0 change events detected from 2026-11-10T00:00:00Z"));
    CHECK(has_evidence(causes[0], "10 checks from 2026-11-10T12:00:00Z to 2026-11-19T12:00:00Z were looked at; none "
                                  "carries a finding of mx-not-covered, mx-cert-name-mismatch, sts-policy-mx-invalid, "
                                  "policy-mx-unused on mx2.example.com"));
    CHECK(has_evidence(causes[0], "The reports of the incident's days carry no sts policy"));
}

TEST_CASE("correlate: a finding first seen after a check during the incident did not carry it")
{
    evidence ev;
    ev.snapshots = daily_checks(1, 15, 20, "12:00");   // day 18 is id 4
    for (std::size_t i = 3; i < ev.snapshots.size(); ++i)
        ev.findings.push_back(found(ev.snapshots[i], "mx-starttls-missing", "mx1.example.com"));
    const auto causes = correlate(incident("mx", "mx1.example.com", "2026-11-17", "2026-11-20", {"mx1.example.com"},
                                           {"starttls-not-supported"}),
                                  ev);
    INFO(describe(causes));
    REQUIRE(causes.size() == 1);
    CHECK(causes[0].kind == "finding");
    CHECK(causes[0].first_seen == std::optional<std::string>("2026-11-18T12:00:00Z"));
    CHECK(causes[0].score == 45);
    CHECK(has_evidence(causes[0], "It was first seen 1 d 12 h after the onset day 2026-11-17 began"));
    CHECK(has_evidence(causes[0], "The check before, at 2026-11-17T12:00:00Z (snapshot 3), did not report it, "
                                  "although the failures had begun."));
}

TEST_CASE("correlate: an incident without result types is unexplained, saying so")
{
    evidence ev;
    ev.snapshots = daily_checks(1, 15, 17, "12:00");
    const auto causes = correlate(incident("silent-reporter", "quiet.example", "2026-11-17", "2026-11-17", {}, {}), ev);
    INFO(describe(causes));
    REQUIRE(causes.size() == 1);
    CHECK(causes[0].kind == "unexplained");
    CHECK(causes[0].subject == "quiet.example");
    CHECK(has_evidence(causes[0], "Nothing that stswatch records explains the incident of 2026-11-17: it names no "
                                  "result type to look for."));
}

TEST_CASE("correlate: a sender still applying the old policy after the id changed with it")
{
    const std::string old_policy = "version: STSv1\nmode: enforce\nmax_age: 604800\nmx: mx1.example.com\n";
    const std::string new_policy = "version: STSv1\nmode: enforce\nmax_age: 604800\nmx: mx2.example.com\n";
    evidence ev;
    ev.snapshots = daily_checks(1, 10, 14, "08:30", "[]", old_policy, "20261101");
    auto later = daily_checks(6, 15, 18, "08:30", "[]", new_policy, "20261115");
    ev.snapshots.insert(ev.snapshots.end(), later.begin(), later.end());
    ev.sender_policies.push_back(applied("old-cache.example", "2026-11-17", old_policy, 0, 12));
    ev.sender_policies.push_back(applied("fresh.example", "2026-11-17", new_policy, 40, 0));
    ev.rollups.push_back(summary("2026-11-17", "old-cache.example", 0, 12));
    ev.rollups.push_back(summary("2026-11-17", "fresh.example", 40, 0));
    ev.rollups.push_back(failures("2026-11-17", "old-cache.example", "validation-failure", "mx2.example.com", 12));
    const auto causes = correlate(incident("domain", "example.com", "2026-11-17", "2026-11-17", {"mx2.example.com"},
                                           {"validation-failure"}),
                                  ev);
    INFO(describe(causes));
    REQUIRE(causes.size() == 2);
    CHECK(causes[0].kind == "stale-policy");
    CHECK(causes[0].first_seen == std::optional<std::string>("2026-11-15T08:30:00Z"));
    CHECK(causes[0].score == 90);
    CHECK(has_evidence(causes[0], "The id changed from 20261101 to 20261115 with the policy (first seen at "
                                  "2026-11-15T08:30:00Z): senders fetch the policy again on a new id, so they should "
                                  "have refreshed by 2026-11-15T08:30:00Z."));
    CHECK(has_evidence(causes[0], "On 2026-11-17 its cache was overdue: it should have refreshed by 2026-11-15T08:30:00Z."));
    CHECK_FALSE(has_evidence(causes[0], "without a new id"));
    CHECK(causes[1].kind == "sender");
    CHECK(causes[1].subject == "old-cache.example");
    CHECK(causes[1].score == 20);
}

TEST_CASE("correlate: tlsa-invalid failures after a TLSA change are explained by the mismatch finding and the change")
{
    // Day 16 the TLSA record of mx1 was replaced by one for another key; from the check of
    // day 16 on, each carries mx-tlsa-mismatch; DANE senders fail from day 17.
    evidence ev;
    ev.snapshots = daily_checks(1, 10, 19, "12:00");   // day 16 is id 7
    for (std::size_t i = 6; i < ev.snapshots.size(); ++i)
        ev.findings.push_back(found(ev.snapshots[i], "mx-tlsa-mismatch", "mx1.example.com"));
    ev.changes.push_back(change("mx-tlsa-changed", "mx1.example.com", "2026-11-16T12:00:00Z", 7, "3 1 1 aa11",
                                "3 1 1 bb22"));
    const auto causes = correlate(incident("mx", "mx1.example.com", "2026-11-17", "2026-11-18", {"mx1.example.com"},
                                           {"tlsa-invalid"}),
                                  ev);
    INFO(describe(causes));
    REQUIRE(causes.size() == 2);
    CHECK(causes[0].kind == "finding");
    CHECK(causes[0].code == "mx-tlsa-mismatch");
    CHECK(causes[0].subject == "mx1.example.com");
    CHECK(causes[0].first_seen == std::optional<std::string>("2026-11-16T12:00:00Z"));
    CHECK(causes[1].kind == "change");
    CHECK(causes[1].code == "mx-tlsa-changed");
    CHECK(causes[1].at == std::optional<std::string>("2026-11-16T12:00:00Z"));

    SECTION("dnssec-invalid takes the bogus finding, not the mismatch")
    {
        const auto bogus = correlate(incident("mx", "mx1.example.com", "2026-11-17", "2026-11-18", {"mx1.example.com"},
                                              {"dnssec-invalid"}),
                                     ev);
        INFO(describe(bogus));
        REQUIRE_FALSE(bogus.empty());
        for (const auto& c : bogus)
            CHECK(c.code != "mx-tlsa-mismatch");
    }
}
