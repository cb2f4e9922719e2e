// Secrets (the API token, the webhook's HMAC key, the mail relay's password, a password in
// the database's conninfo) reach stswatch from its settings and never come out of it: not
// in serve's log, not in what `alerts test` prints, not in an API answer, even when every
// output fails and a client presents a wrong token.
#include "tests/support/sample_reports.hpp"
#include "tests/support/scratch.hpp"
#include "tests/support/serve_process.hpp"
#include "tests/support/test_support.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace stswatch::test;

namespace {

const std::string api_secret = "api-token-Zq81vXk2Lm9Tt4";
const std::string webhook_secret = "webhook-key-Hh72Pp0oWq3Ee5";
const std::string mail_secret = "mail-password-Rr55Yy8uIi1Oo6";
const std::string db_secret = "db-password-Kk33Jj6hGg7Ff2";

// Every secret's settings, with outputs that cannot be reached (closed ports).
std::vector<std::string> secret_settings()
{
    const auto closed = std::to_string(free_port());
    return {"--set", "alerts.webhook.url=http://127.0.0.1:" + closed + "/hook",
            "--set", "alerts.webhook.secret=" + webhook_secret,
            "--set", "alerts.webhook.timeout=2",
            "--set", "alerts.email.relay=127.0.0.1:" + closed,
            "--set", "alerts.email.from=stswatch@example.com",
            "--set", "alerts.email.to=postmaster@example.com",
            "--set", "alerts.email.username=stswatch",
            "--set", "alerts.email.password=" + mail_secret,
            "--set", "alerts.email.timeout=2"};
}

void check_clean(const std::string& text, const std::string& where)
{
    INFO(where << ":\n" << text);
    for (const auto* secret : {&api_secret, &webhook_secret, &mail_secret, &db_secret})
        CHECK(text.find(*secret) == std::string::npos);
}

} // namespace

TEST_CASE("secrets given in the settings appear in no log line, output or answer")
{
    scratch_database db;
    // Trust authentication ignores the password, but it is in the conninfo stswatch holds.
    const std::string url = db.url() + " password=" + db_secret;

    std::vector<std::string> alerts_test{required_env("STSWATCH_BIN"), "--db", url, "alerts", "test"};
    for (const auto& a : secret_settings())
        alerts_test.push_back(a);
    const auto tested = run_program(alerts_test, {}, std::chrono::seconds(60));
    CHECK(tested.exit_code == 69);   // both outputs fail
    check_clean(tested.out + tested.err, "alerts test");

    const auto https_port = std::to_string(free_port());
    const auto api_port = std::to_string(free_port());
    std::vector<std::string> args{"serve", "--db", url,
                                  "--set", "collector.https.listen=127.0.0.1:" + https_port,
                                  "--set", "collector.https.cert=" + tls_file("server.pem"),
                                  "--set", "collector.https.key=" + tls_file("server.key"),
                                  "--set", "collector.smtp.listen=127.0.0.1:" + std::to_string(free_port()),
                                  "--set", "api.listen=127.0.0.1:" + api_port,
                                  "--set", "api.token=" + api_secret,
                                  "--set", "log.level=debug"};
    for (const auto& a : secret_settings())
        args.push_back(a);
    serve_process serve(args);
    bool up = false;
    for (int i = 0; i < 100 && !up; ++i) {
        up = run_program({"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", tls_file("ca.pem"),
                          "https://localhost:" + https_port + "/healthz"})
                 .out == "200";
        if (!up)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    REQUIRE(up);
    std::string answers;
    const auto api = [&](const std::string& token, const std::string& path) {
        const auto r = run_program({"curl", "-sS", "-i", "-H", "Authorization: Bearer " + token,
                                    "http://127.0.0.1:" + api_port + path});
        answers += r.out + r.err;
        return r.out;
    };
    CHECK(api(api_secret, "/api/v1/domains").rfind("HTTP/1.1 200", 0) == 0);
    for (int i = 0; i < 3; ++i)
        CHECK(api(api_secret.substr(0, api_secret.size() - 1) + "x", "/api/v1/domains").rfind("HTTP/1.1 401", 0) == 0);
    CHECK_THAT(api(api_secret, "/metrics"), Catch::Contains("stswatch_"));
    temp_dir dir;
    const auto report = dir.write("r.json", expired_cert_report("secret-1", "example.com"));
    answers += run_program({"curl", "-sS", "-i", "--cacert", tls_file("ca.pem"), "-H",
                            "Content-Type: application/tlsrpt+json", "--data-binary", "@" + report,
                            "https://localhost:" + https_port + "/v1/tlsrpt"})
                   .out;
    CHECK(serve.stop() == 0);
    check_clean(serve.log(), "serve's log");
    check_clean(answers, "answers");
}
