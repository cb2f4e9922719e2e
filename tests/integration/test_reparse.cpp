// `stswatch reports reparse`: stored reports parsed again from their kept bytes end with the
// rows and rollups a fresh ingest of the same bytes makes, on a real PostgreSQL.
#include "collector/reparse.hpp"
#include "store/report_store.hpp"
#include "tlsrpt/decode.hpp"
#include "tests/support/json_text.hpp"
#include "tests/support/test_support.hpp"

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include <map>
#include <string>
#include <vector>

using namespace stswatch;

namespace {

// The Postfix reporter: a no-policy-found policy without policy-domain, the domain only at
// the end of the report-id. This version fills it from there; an older one refused the
// report or stored it under another domain.
std::string postfix_report(const std::string& id, int failed)
{
    return R"({"organization-name":"Postfix TLSRPT","date-range":{"start-datetime":"2025-07-08T00:00:00Z",)"
           R"("end-datetime":"2025-07-08T23:59:59Z"},"contact-info":"postmaster@sender.example",)"
           R"("report-id":")" + id + R"(","policies":[{"policy":{"policy-type":"no-policy-found"},)"
           R"("summary":{"total-successful-session-count":10,"total-failure-session-count":)" + std::to_string(failed) +
           R"(},"failure-details":[{"result-type":"starttls-not-supported","sending-mta-ip":"192.0.2.1",)"
           R"("receiving-mx-hostname":"mx1.example.com","failed-session-count":)" + std::to_string(failed) + "}]}]}";
}

// What this version makes of the bytes.
incoming_report fresh(const std::string& json, const std::string& source)
{
    incoming_report in;
    in.metadata.fields["content-type"] = "application/tlsrpt+json";
    auto parsed = parse_report(json, in.metadata);
    in.report = std::move(parsed.report);
    in.warnings = std::move(parsed.warnings);
    in.raw = json;
    in.via = transport::https;
    in.source_address = source;
    return in;
}

// What an older version stored for the same bytes: the policy under unknown.invalid, its
// failure details lost, no warning.
incoming_report as_older_version_stored(const std::string& json)
{
    auto in = fresh(json, "192.0.2.7");
    in.metadata.filled.clear();
    in.warnings.clear();
    for (auto& p : in.report.policies) {
        p.policy_domain = "unknown.invalid";
        p.policy_domain_filled = false;
        p.failure_details.clear();
    }
    return in;
}

// Everything a report becomes, but the keys and receive times, as sorted text lines.
std::vector<std::string> derived_rows(const std::string& url)
{
    const char* queries[] = {
        "SELECT organization_name, report_id, start_datetime, end_datetime, contact_info, policy_count,"
        " total_successful_session_count, total_failure_session_count, warnings, metadata FROM reports",
        "SELECT r.report_id, p.policy_index, p.policy_type, p.policy_domain, p.policy_domain_filled, p.policy_string,"
        " p.mx_host, p.total_successful_session_count, p.total_failure_session_count, p.report_start, p.counted"
        " FROM report_policies p JOIN reports r ON r.id = p.report",
        "SELECT r.report_id, d.policy_index, d.detail_index, d.day, d.policy_domain, d.organization_name, d.result_type,"
        " d.sending_mta_ip, d.receiving_mx_hostname, d.receiving_mx_helo, d.receiving_ip, d.failed_session_count,"
        " d.additional_information, d.failure_reason_code, d.counted FROM failure_details d JOIN reports r ON r.id = d.report",
        "SELECT 'rollup', * FROM daily_rollups",
        "SELECT 'type', * FROM daily_type_rollups",
        "SELECT 'domain', domain, first_day, last_day FROM reported_domains",
    };
    pqxx::connection conn(url);
    pqxx::nontransaction tx(conn);
    std::vector<std::string> lines;
    for (const auto* sql : queries)
        for (const auto& row : tx.exec(sql)) {
            std::string line;
            for (const auto& f : row)
                line += (f.is_null() ? std::string("NULL") : f.as<std::string>()) + "|";
            lines.push_back(line);
        }
    std::sort(lines.begin(), lines.end());
    return lines;
}

long long count(const std::string& url, const std::string& sql) { return test::query_count(url, sql); }

reparse_totals reparse_all(pqxx::connection& conn, bool dry_run, std::vector<reparsed_report>* seen = nullptr)
{
    reparse_options options;
    options.dry_run = dry_run;
    return reparse_reports(conn, options, [&](const reparsed_report& r, const reparse_totals&) {
        if (seen)
            seen->push_back(r);
    });
}

} // namespace

TEST_CASE("reparse gives stored reports the rows and rollups of a fresh ingest of their bytes")
{
    const auto changed_json = postfix_report("2025-07-08T00:00:00Z_example.com", 2);
    // Reports that share the rollup rows the reparsed one leaves and the ones it joins.
    const auto older_neighbour = postfix_report("2025-07-08T00:00:01Z_nodomain", 1);   // stays unknown.invalid
    const auto current_neighbour = postfix_report("2025-07-08T00:00:02Z_example.com", 3);

    test::scratch_database reparsed, ingested;
    {
        pqxx::connection conn(reparsed.url());
        const auto a = as_older_version_stored(changed_json);
        const auto b = fresh(older_neighbour, "192.0.2.7");
        const auto c = fresh(current_neighbour, "192.0.2.7");
        store_batch(conn, {&a, &b, &c});
    }
    {
        pqxx::connection conn(ingested.url());
        const auto a = fresh(changed_json, "192.0.2.7");
        const auto b = fresh(older_neighbour, "192.0.2.7");
        const auto c = fresh(current_neighbour, "192.0.2.7");
        store_batch(conn, {&a, &b, &c});
    }
    const auto before = derived_rows(reparsed.url());
    REQUIRE(before != derived_rows(ingested.url()));
    CHECK(count(reparsed.url(), "SELECT count(*) FROM report_policies WHERE policy_domain = 'unknown.invalid'") == 2);

    pqxx::connection conn(reparsed.url());
    SECTION("a dry run says what would change and writes nothing")
    {
        std::vector<reparsed_report> seen;
        const auto totals = reparse_all(conn, true, &seen);
        CHECK(totals.selected == 3);
        CHECK(totals.examined == 3);
        CHECK(totals.changed == 1);
        CHECK(totals.unchanged == 2);
        CHECK(derived_rows(reparsed.url()) == before);
        const auto it = std::find_if(seen.begin(), seen.end(), [](const auto& r) { return r.result == reparse_result::changed; });
        REQUIRE(it != seen.end());
        CHECK(it->report_id == "2025-07-08T00:00:00Z_example.com");
        const auto has = [&](const std::string& text) {
            return std::any_of(it->changes.begin(), it->changes.end(),
                               [&](const std::string& c) { return c.find(text) != std::string::npos; });
        };
        CHECK(has("policies[0].policy.policy-domain: \"unknown.invalid\" -> \"example.com\""));
        CHECK(has("policies[0].failure-details: 0 -> 1"));
        CHECK(has("warning new: "));
        CHECK(has("metadata: "));
    }
    SECTION("applied, the rows equal a fresh ingest, and a second run changes nothing")
    {
        const auto totals = reparse_all(conn, false);
        CHECK(totals.changed == 1);
        CHECK(totals.refused == 0);
        CHECK(derived_rows(reparsed.url()) == derived_rows(ingested.url()));
        // The report keeps its identity, receipt and bytes; the analysis looks at the domain again.
        CHECK(count(reparsed.url(), "SELECT count(*) FROM report_receipts") == 3);
        CHECK(count(reparsed.url(), "SELECT count(*) FROM report_raw") == 3);
        CHECK(count(reparsed.url(), "SELECT count(*) FROM analysis_queue WHERE domain = 'example.com'") == 1);

        const auto again = reparse_all(conn, false);
        CHECK(again.changed == 0);
        CHECK(again.unchanged == 3);
    }
    SECTION("a rollup row only the old rows made goes; one others still make stays")
    {
        reparse_all(conn, false);
        // The neighbour still holds unknown.invalid's summary row: 10 + 1 sessions of its own.
        CHECK(count(reparsed.url(), "SELECT successful_sessions + failed_sessions FROM daily_rollups"
                                    " WHERE policy_domain = 'unknown.invalid' AND result_type = ''") == 11);
        CHECK(count(reparsed.url(), "SELECT count(*) FROM daily_rollups WHERE policy_domain = 'unknown.invalid'"
                                    " AND (successful_sessions + failed_sessions) = 0") == 0);
    }
}

TEST_CASE("reparse selects by domain and date, and leaves what this version refuses as stored")
{
    test::scratch_database db;
    {
        pqxx::connection conn(db.url());
        auto refused = as_older_version_stored(postfix_report("2025-07-08T00:00:03Z_example.com", 1));
        refused.raw = R"({"organization-name":"Postfix TLSRPT","report-id":"x"})";   // no date-range: not a report
        refused.report.report_id = "x";
        auto other_identity = as_older_version_stored(postfix_report("2025-07-08T00:00:04Z_example.com", 1));
        other_identity.report.report_id = "stored-under-another-id";
        store_batch(conn, {&refused, &other_identity});
    }
    const auto before = derived_rows(db.url());
    const auto bin = test::required_env("STSWATCH_BIN");

    // No report of example.net: nothing examined.
    auto none = test::run_program({bin, "--db", db.url(), "reports", "reparse", "--domain", "Example.NET."});
    CHECK(none.exit_code == 0);
    CHECK(none.out.find("0 reports examined") != std::string::npos);
    auto later = test::run_program({bin, "--db", db.url(), "reports", "reparse", "--since", "2025-07-09"});
    CHECK(later.exit_code == 0);
    CHECK(later.out.find("0 reports examined") != std::string::npos);

    auto run = test::run_program({bin, "--db", db.url(), "reports", "reparse", "--domain", "unknown.invalid", "--json"});
    INFO(run.out << run.err);
    CHECK(run.exit_code == 65);
    const auto lines = test::nonempty_lines(run.out);
    REQUIRE(lines.size() == 3);
    std::map<std::string, std::string> result_of;
    for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
        const auto o = test::json_object(lines[i]);
        result_of[o->getValue<std::string>("report-id")] = o->getValue<std::string>("result");
    }
    CHECK(result_of["x"] == "refused");
    CHECK(result_of["stored-under-another-id"] == "identity-changed");
    const auto summary = test::json_object(lines.back())->getObject("summary");
    CHECK(summary->getValue<int>("examined") == 2);
    CHECK(summary->getValue<int>("refused") == 1);
    CHECK(summary->getValue<int>("identity-changed") == 1);
    CHECK(derived_rows(db.url()) == before);

    auto text = test::run_program({bin, "--db", db.url(), "reports", "reparse", "--dry-run"});
    CHECK(text.exit_code == 65);
    CHECK(text.out.find("refused Postfix TLSRPT x (key ") != std::string::npos);
    CHECK(text.out.find("not a valid TLS report") != std::string::npos);
    CHECK(text.out.find("dry run: nothing written") != std::string::npos);

    auto bad_date = test::run_program({bin, "--db", db.url(), "reports", "reparse", "--since", "yesterday"});
    CHECK(bad_date.exit_code == 2);
    CHECK(bad_date.err.find("reports reparse: --since") != std::string::npos);
}
