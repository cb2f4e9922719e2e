// The policy fetch against real servers: nginx policy hosts on loopback addresses with
// certificates from the test CA (or self-signed, expired, misnamed), names served by Knot;
// hosts that trickle, and names with more addresses than are tried.
#include "checks/policy_fetch.hpp"
#include "tests/support/dns_server.hpp"
#include "tests/support/loopback.hpp"
#include "tests/support/policy_host.hpp"
#include "tests/support/test_certs.hpp"
#include "tests/support/test_support.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <system_error>
#include <utility>
#include <vector>

using namespace stswatch;
using namespace stswatch::test;

namespace {

const std::string zone_name = "fetch.test";
const std::string good_policy = "version: STSv1\r\nmode: enforce\r\nmx: mx1.fetch.test\r\nmax_age: 86400\r\n";

// mta-sts.<label>.fetch.test for each vhost: its address in Knot, its server in nginx.
struct vhost_spec {
    std::string label;
    std::function<policy_vhost(const std::string& host)> make;   // address filled in later
};

class fetch_world {
public:
    // `extra_records` are zone lines added as they are ("mta-sts.txtonly TXT \"x\"").
    explicit fetch_world(const std::vector<vhost_spec>& specs, const std::string& extra_records = {})
    {
        std::string zone = zone_file(zone_name, extra_records);
        std::vector<policy_vhost> vhosts;
        for (const auto& s : specs) {
            const std::string host = "mta-sts." + s.label + "." + zone_name;
            auto v = s.make(host);
            v.address = unique_loopback_address();
            if (v.server_name.empty()) v.server_name = host;
            addresses_[s.label] = v.address;
            zone += "mta-sts." + s.label + " A " + v.address + "\n";
            vhosts.push_back(std::move(v));
        }
        dns_ = std::make_unique<dns_server>(std::vector<test_zone>{{zone_name, zone}});
        if (!vhosts.empty()) hosts_ = std::make_unique<policy_hosts>(std::move(vhosts));
        dns_options o;
        o.server = dns_->address();
        o.timeout_ms = 3000;
        resolver_ = std::make_unique<dns_resolver>(o);
    }

    policy_fetch_result fetch(const std::string& label, policy_fetch_options options = default_options())
    {
        return fetch_policy(label + "." + zone_name, *resolver_, options);
    }
    const std::string& address(const std::string& label) { return addresses_.at(label); }

    static policy_fetch_options default_options()
    {
        policy_fetch_options o;
        o.ca_file = test_ca_file();
        o.allow_private = true;   // the hosts are on loopback addresses
        o.timeout_ms = 5000;
        return o;
    }

private:
    std::map<std::string, std::string> addresses_;
    std::unique_ptr<dns_server> dns_;
    std::unique_ptr<policy_hosts> hosts_;
    std::unique_ptr<dns_resolver> resolver_;
};

vhost_spec serving(const std::string& label, std::string body, std::string content_type = "text/plain")
{
    return {label, [body, content_type](const std::string& host) {
                policy_vhost v;
                v.cert = make_test_cert({host});
                v.body = body;
                v.content_type = content_type;
                return v;
            }};
}

vhost_spec with_cert(const std::string& label, std::function<test_cert(const std::string& host)> cert)
{
    return {label, [cert](const std::string& host) {
                policy_vhost v;
                v.cert = cert(host);
                v.body = good_policy;
                return v;
            }};
}

vhost_spec answering(const std::string& label, int status, std::string location = {})
{
    return {label, [status, location](const std::string& host) {
                policy_vhost v;
                v.cert = make_test_cert({host});
                v.status = status;
                v.location = location;
                v.body = good_policy;
                return v;
            }};
}

} // namespace

TEST_CASE("fetch_policy: a valid policy host")
{
    fetch_world world({serving("good", good_policy), serving("charset", good_policy, "Text/Plain; charset=utf-8"),
                       serving("atcap", std::string(65536, 'x'))});

    const auto r = world.fetch("good");
    INFO(r.error);
    REQUIRE(r.status == policy_fetch_status::ok);
    CHECK(r.error.empty());
    CHECK(r.http_status == 200);
    CHECK(r.body == good_policy);
    CHECK(r.content_type == "text/plain");
    CHECK(r.host == "mta-sts.good.fetch.test");
    CHECK(r.url == "https://mta-sts.good.fetch.test/.well-known/mta-sts.txt");
    CHECK(r.address == world.address("good"));
    CHECK(r.dns == dns_status::ok);
    CHECK(r.certificate.present);
    CHECK(r.certificate.trusted);
    CHECK(r.certificate.name_matches);
    CHECK_FALSE(r.certificate.expired);
    CHECK(r.certificate.subject_names == std::vector<std::string>{"mta-sts.good.fetch.test"});
    CHECK(r.certificate.sha256.size() == 64);
    CHECK(r.certificate.days_to_expiry >= 89);
    CHECK(r.certificate.days_to_expiry <= 90);

    const auto charset = world.fetch("charset");
    INFO(charset.error);
    CHECK(charset.status == policy_fetch_status::ok);
    CHECK(charset.content_type == "Text/Plain; charset=utf-8");

    const auto at_cap = world.fetch("atcap");
    INFO(at_cap.error);
    CHECK(at_cap.status == policy_fetch_status::ok);
    CHECK(at_cap.body.size() == 65536);
}

TEST_CASE("fetch_policy: certificates that senders refuse")
{
    fetch_world world({
        with_cert("selfsigned", [](const std::string& host) { return make_test_cert({host}, -1, 90, true); }),
        with_cert("expired", [](const std::string& host) { return make_test_cert({host}, -30, -1); }),
        with_cert("wrongname", [](const std::string&) { return make_test_cert({"www.fetch.test"}); }),
    });

    const auto self_signed = world.fetch("selfsigned");
    INFO(self_signed.error);
    CHECK(self_signed.status == policy_fetch_status::cert_invalid);
    CHECK(self_signed.certificate.present);
    CHECK_FALSE(self_signed.certificate.trusted);
    CHECK(self_signed.certificate.name_matches);
    CHECK_FALSE(self_signed.certificate.verify_error.empty());
    CHECK_THAT(self_signed.error, Catch::Contains("not trusted"));
    CHECK(self_signed.body.empty());   // nothing is read from a host that is not trusted

    const auto expired = world.fetch("expired");
    INFO(expired.error);
    CHECK(expired.status == policy_fetch_status::cert_invalid);
    CHECK(expired.certificate.expired);
    CHECK(expired.certificate.days_to_expiry < 0);
    CHECK_FALSE(expired.certificate.trusted);
    CHECK_THAT(expired.error, Catch::Contains("expired on"));

    const auto wrong_name = world.fetch("wrongname");
    INFO(wrong_name.error);
    CHECK(wrong_name.status == policy_fetch_status::cert_invalid);
    CHECK(wrong_name.certificate.trusted);
    CHECK_FALSE(wrong_name.certificate.name_matches);
    CHECK(wrong_name.certificate.subject_names == std::vector<std::string>{"www.fetch.test"});
    CHECK_THAT(wrong_name.error, Catch::Contains("not valid for mta-sts.wrongname.fetch.test (names: www.fetch.test)"));

    SECTION("without the test CA the good chain is untrusted too")
    {
        auto options = fetch_world::default_options();
        options.ca_file.clear();
        const auto r = world.fetch("wrongname", options);
        CHECK(r.status == policy_fetch_status::cert_invalid);
        CHECK_FALSE(r.certificate.trusted);
    }
}

TEST_CASE("fetch_policy: HTTP answers other than a text/plain 200")
{
    fetch_world world({
        answering("notfound", 404),
        answering("moved", 301, "https://elsewhere.fetch.test/mta-sts.txt"),
        answering("broken", 500),
        serving("html", "<html>policy</html>", "text/html"),
        serving("notype", good_policy, ""),
        serving("big", std::string(65537, 'x')),
    });

    const auto not_found = world.fetch("notfound");
    INFO(not_found.error);
    CHECK(not_found.status == policy_fetch_status::http_status);
    CHECK(not_found.http_status == 404);
    CHECK_THAT(not_found.error, Catch::Contains("404"));

    const auto moved = world.fetch("moved");
    INFO(moved.error);
    CHECK(moved.status == policy_fetch_status::redirect);
    CHECK(moved.http_status == 301);
    CHECK(moved.location == "https://elsewhere.fetch.test/mta-sts.txt");
    CHECK_THAT(moved.error, Catch::Contains("https://elsewhere.fetch.test/mta-sts.txt"));

    const auto broken = world.fetch("broken");
    CHECK(broken.status == policy_fetch_status::http_status);
    CHECK(broken.http_status == 500);

    const auto html = world.fetch("html");
    INFO(html.error);
    CHECK(html.status == policy_fetch_status::content_type);
    CHECK(html.content_type == "text/html");
    CHECK(html.body == "<html>policy</html>");   // the first bytes, for the message
    CHECK_THAT(html.error, Catch::Contains("text/html"));

    const auto no_type = world.fetch("notype");
    INFO(no_type.error);
    CHECK(no_type.status == policy_fetch_status::content_type);
    CHECK_THAT(no_type.error, Catch::Contains("without a Content-Type"));

    const auto big = world.fetch("big");
    INFO(big.error);
    CHECK(big.status == policy_fetch_status::too_large);
    CHECK(big.body.size() <= 65536);
    CHECK_THAT(big.error, Catch::Contains("65536"));

    SECTION("a smaller cap applies to the same body")
    {
        auto options = fetch_world::default_options();
        options.max_bytes = 100;
        const auto r = world.fetch("html", options);
        CHECK(r.status == policy_fetch_status::content_type);
        const auto small = world.fetch("big", options);
        CHECK(small.status == policy_fetch_status::too_large);
    }
}

TEST_CASE("fetch_policy: a policy host that does not answer in time")
{
    fetch_world world({{"slow", [](const std::string& host) {
                            policy_vhost v;
                            v.cert = make_test_cert({host});
                            v.body = good_policy;
                            v.delay_ms = 5000;
                            return v;
                        }}});
    auto options = fetch_world::default_options();
    options.timeout_ms = 500;
    const auto started = std::chrono::steady_clock::now();
    const auto r = world.fetch("slow", options);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    INFO(r.error);
    CHECK(r.status == policy_fetch_status::bad_response);
    CHECK_THAT(r.error, Catch::Contains("within 500 ms"));
    CHECK(elapsed < std::chrono::seconds(3));
}

TEST_CASE("fetch_policy: addresses refused, missing or unreachable")
{
    // Nothing listens on the "refused" address; "private" has a listener of ours to see that
    // the guard makes no connection.
    const std::string refused_address = unique_loopback_address();
    const std::string private_address = unique_loopback_address();
    fetch_world world({}, "mta-sts.refused A " + refused_address + "\nmta-sts.private A " + private_address +
                              "\nmta-sts.txtonly TXT \"no address here\"\n");

    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    REQUIRE(listener >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(443);
    ::inet_pton(AF_INET, private_address.c_str(), &a.sin_addr);
    const int one = 1;
    ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(listener, 8) == 0);

    auto strict = fetch_world::default_options();
    strict.allow_private = false;
    const auto refused_private = world.fetch("private", strict);
    INFO(refused_private.error);
    CHECK(refused_private.status == policy_fetch_status::private_address);
    CHECK(refused_private.address == private_address);
    CHECK_THAT(refused_private.error, Catch::Contains(private_address));
    CHECK(::accept(listener, nullptr, nullptr) < 0);   // no connection was made
    CHECK((errno == EAGAIN || errno == EWOULDBLOCK));
    ::close(listener);

    const auto refused = world.fetch("refused");
    INFO(refused.error);
    CHECK(refused.status == policy_fetch_status::connect_failed);
    CHECK(refused.address == refused_address);
    CHECK_THAT(refused.error, Catch::Contains("refused"));

    const auto missing = world.fetch("missing");
    INFO(missing.error);
    CHECK(missing.status == policy_fetch_status::no_address);
    CHECK(missing.dns == dns_status::nxdomain);
    CHECK_THAT(missing.error, Catch::Contains("mta-sts.missing.fetch.test"));

    const auto txt_only = world.fetch("txtonly");
    INFO(txt_only.error);
    CHECK(txt_only.status == policy_fetch_status::no_address);
    CHECK(txt_only.dns == dns_status::nodata);
}

TEST_CASE("fetch_policy: DNS itself unavailable")
{
    dns_options o;
    o.server = "127.0.0.1:" + std::to_string(free_port());   // nothing answers there
    o.timeout_ms = 1000;
    dns_resolver resolver(o);
    const auto r = fetch_policy("example.test", resolver, fetch_world::default_options());
    INFO(r.error);
    CHECK(r.status == policy_fetch_status::no_address);
    CHECK(r.dns == dns_status::temporary_failure);
    CHECK_THAT(r.error, Catch::Contains("cannot resolve mta-sts.example.test"));
}

namespace {

// A scripted_peer on port 443 of an address of its own.
std::pair<std::unique_ptr<scripted_peer>, std::string> start_peer(scripted_peer_options options)
{
    options.port = 443;
    return on_own_address([&](const std::string& address) {
        options.address = address;
        return std::make_pair(std::make_unique<scripted_peer>(options), address);
    });
}

// Zone lines: an A record of mta-sts.<label> for each address.
std::string a_records(const std::string& label, const std::vector<std::string>& addresses)
{
    std::string lines;
    for (const auto& a : addresses) lines += "mta-sts." + label + " A " + a + "\n";
    return lines;
}

std::size_t occurrences(const std::string& text, const std::string& word)
{
    std::size_t n = 0;
    for (auto at = text.find(word); at != std::string::npos; at = text.find(word, at + word.size())) ++n;
    return n;
}

} // namespace

TEST_CASE("fetch_policy: an answer that is not HTTP is the host's own, one cut short is not")
{
    const auto cert = make_test_cert({"mta-sts.garbage.fetch.test", "mta-sts.cut.fetch.test"});
    scripted_peer_options o;
    o.cert_file = cert.cert_file;
    o.key_file = cert.key_file;
    o.script = {{false, 0, "", true}, {true, 0, "SSH-2.0-OpenSSH_9.2\r\nnot http at all\r\n\r\n"}};
    const auto [garbage, garbage_address] = start_peer(o);
    // A 200 head announcing 1000 bytes, 10 of them, then the connection closes.
    o.script = {{false, 0, "", true},
                {true, 0, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n0123456789"},
                {false, 0, "", false, 0, true}};
    const auto [cut, cut_address] = start_peer(o);
    fetch_world world({}, "mta-sts.garbage A " + garbage_address + "\nmta-sts.cut A " + cut_address + "\n");

    const auto g = world.fetch("garbage", fetch_world::default_options());
    INFO(g.error);
    CHECK(g.status == policy_fetch_status::invalid_response);
    CHECK_THAT(g.error, Catch::Contains("not valid HTTP"));

    const auto c = world.fetch("cut", fetch_world::default_options());
    INFO(c.error);
    CHECK(c.status == policy_fetch_status::bad_response);
    CHECK(c.http_status == 200);
}

TEST_CASE("fetch_policy: a policy host that trickles its body")
{
    // A valid certificate and a 200 head at once, then one byte of the body every 200 ms.
    const auto cert = make_test_cert({"mta-sts.drip.fetch.test"});
    scripted_peer_options o;
    o.cert_file = cert.cert_file;
    o.key_file = cert.key_file;
    o.script = {{false, 0, "", true},
                {true, 0, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n"},
                {false, 0, "x", false, 200}};
    const auto [peer, address] = start_peer(o);
    fetch_world world({}, "mta-sts.drip A " + address + "\n");

    auto options = fetch_world::default_options();
    options.timeout_ms = 1000;
    const auto started = std::chrono::steady_clock::now();
    const auto r = world.fetch("drip", options);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    INFO(r.error);
    CHECK(r.status == policy_fetch_status::bad_response);
    CHECK(r.http_status == 200);
    CHECK_THAT(r.error, Catch::Contains("no complete response"));
    CHECK(peer->connections() == 1);
    CHECK(elapsed < std::chrono::milliseconds(2 * 1000 + 2000));
}

TEST_CASE("fetch_policy: a name with more addresses than are tried")
{
    SECTION("six addresses that refuse: four are tried")
    {
        std::vector<std::string> addresses;
        for (int i = 0; i < 6; ++i) addresses.push_back(unique_loopback_address());
        fetch_world world({}, a_records("many", addresses));
        const auto r = world.fetch("many");
        INFO(r.error);
        CHECK(r.status == policy_fetch_status::connect_failed);
        CHECK(occurrences(r.error, "refused") == policy_fetch_max_addresses);
        CHECK_THAT(r.error, Catch::Contains("2 more addresses not tried: at most 4 are tried"));
    }
    SECTION("six addresses whose connects hang: one deadline for the whole fetch")
    {
        std::vector<std::string> addresses;
        std::vector<std::unique_ptr<unanswering_listener>> listeners;
        while (addresses.size() < 6)
            addresses.push_back(on_own_address([&](const std::string& address) {
                listeners.push_back(std::make_unique<unanswering_listener>(address, 443));
                return address;
            }));
        fetch_world world({}, a_records("hanging", addresses));
        auto options = fetch_world::default_options();
        options.timeout_ms = 500;
        const auto started = std::chrono::steady_clock::now();
        const auto r = world.fetch("hanging", options);
        const auto elapsed = std::chrono::steady_clock::now() - started;
        INFO(r.error);
        CHECK(r.status == policy_fetch_status::connect_failed);
        CHECK(occurrences(r.error, "timed out") == 2);   // 500 ms each, then the fetch's 1000 ms are over
        CHECK_THAT(r.error, Catch::Contains("4 more addresses not tried: the whole fetch exceeded 1000 ms"));
        CHECK(elapsed < std::chrono::milliseconds(2 * 500 + 2000));
    }
}
