// HTTPS hosts serving MTA-STS policy files (RFC 8461 §3.3) to the checks under test: a real
// nginx, so that the fetcher meets a real-world TLS and HTTP stack.
#pragma once

#include "tests/support/test_certs.hpp"

#include <string>
#include <sys/types.h>
#include <vector>

namespace stswatch::test {

// HTTPS policy hosts served by a real nginx (one nginx process per object,
// one server block per vhost, each on its own address:443; temp dir; stopped in the destructor)
struct policy_vhost {
    std::string address;                 // 127.x.y.z; port 443
    std::string server_name;             // "mta-sts.example.test"
    test_cert cert;
    int status = 200;                    // 200, 404, 500, 301/302 (with location)…
    std::string content_type = "text/plain";   // exact Content-Type header ("" = none)
    std::string body;                    // served at /.well-known/mta-sts.txt (any size)
    std::string location;                // for 3xx
    // Delay before answering (timeouts), 0 = none. nginx waits this long on an upstream that
    // never answers, then gives the configured answer (status, type, body) as if there had
    // been no delay. Any other path answers 404 at once.
    unsigned delay_ms = 0;
};

// nginx is also stopped when the thread that made the object ends (PR_SET_PDEATHSIG), so a
// crashed test leaves no server behind: keep the object in the thread that made it.
class policy_hosts {
public:
    explicit policy_hosts(std::vector<policy_vhost> vhosts);   // FAILs the test when nginx cannot start
    ~policy_hosts();
    policy_hosts(const policy_hosts&) = delete; policy_hosts& operator=(const policy_hosts&) = delete;

private:
    void stop();

    std::string dir_;
    pid_t pid_ = -1;
    int silent_upstream_ = -1;   // a listening socket never accepted from: the delay
};

} // namespace stswatch::test
