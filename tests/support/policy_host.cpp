#include "tests/support/policy_host.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace stswatch::test {

namespace {

const char* const nginx_binary = "/usr/sbin/nginx";

// A double-quoted nginx configuration string.
std::string quoted(const std::string& s)
{
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"' || c == '\\')
            out += '\\';
        out += c;
    }
    return out + "\"";
}

std::string read_tail(const std::string& path, std::size_t max = 2000)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    const std::string all = s.str();
    return all.size() > max ? all.substr(all.size() - max) : all;
}

bool can_connect(const std::string& address, std::uint16_t port)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, address.c_str(), &a.sin_addr);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
}

// The answer of a vhost for its policy path: a static file, a redirect or a bare status.
std::string answer_block(const policy_vhost& v, const std::string& root)
{
    std::ostringstream c;
    if (v.status >= 300 && v.status < 400) {
        c << "            return " << v.status << " " << quoted(v.location) << ";\n";
    } else if (v.status == 200) {
        // No mime.types and an empty types{}: the Content-Type is exactly default_type, and
        // an empty one means no Content-Type header at all.
        c << "            types { }\n"
          << "            default_type " << quoted(v.content_type) << ";\n"
          << "            root " << quoted(root) << ";\n";
    } else {
        c << "            return " << v.status << ";\n";
    }
    return c.str();
}

} // namespace

policy_hosts::policy_hosts(std::vector<policy_vhost> vhosts)
{
    REQUIRE_FALSE(vhosts.empty());
    char tmpl[] = "/tmp/stswatch-nginx.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr)
        FAIL("cannot make a folder for nginx under /tmp: " << std::strerror(errno));
    dir_ = tmpl;
    std::filesystem::create_directories(dir_ + "/tmp");

    std::uint16_t upstream_port = 0;
    for (const auto& v : vhosts) {
        if (v.delay_ms == 0 || silent_upstream_ >= 0)
            continue;
        // Connections complete in the kernel's backlog and nginx then waits for a reply that
        // never comes: proxy_read_timeout is the delay.
        silent_upstream_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (silent_upstream_ < 0 || ::bind(silent_upstream_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
            ::listen(silent_upstream_, 128) != 0 ||
            ::getsockname(silent_upstream_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
            const std::string why = std::strerror(errno);
            stop();
            FAIL("cannot make the silent upstream for delayed policy hosts: " << why);
        }
        upstream_port = ntohs(a.sin_port);
    }

    std::ostringstream conf;
    if (::geteuid() == 0)
        conf << "user root;\n";   // the files live in a 0700 folder of root
    conf << "worker_processes 1;\n"
         << "daemon off;\n"
         << "pid " << quoted(dir_ + "/nginx.pid") << ";\n"
         << "error_log " << quoted(dir_ + "/error.log") << " warn;\n"
         << "events { worker_connections 256; }\n"
         << "http {\n"
         << "    access_log off;\n"
         << "    server_tokens off;\n"
         << "    client_body_temp_path " << quoted(dir_ + "/tmp/body") << ";\n"
         << "    proxy_temp_path " << quoted(dir_ + "/tmp/proxy") << ";\n"
         << "    fastcgi_temp_path " << quoted(dir_ + "/tmp/fastcgi") << ";\n"
         << "    uwsgi_temp_path " << quoted(dir_ + "/tmp/uwsgi") << ";\n"
         << "    scgi_temp_path " << quoted(dir_ + "/tmp/scgi") << ";\n"
         << "    ssl_protocols TLSv1.2 TLSv1.3;\n";
    std::set<std::string> addresses;
    for (std::size_t i = 0; i < vhosts.size(); ++i) {
        const auto& v = vhosts[i];
        const std::string root = dir_ + "/vhost" + std::to_string(i);
        std::filesystem::create_directories(root + "/.well-known");
        std::ofstream(root + "/.well-known/mta-sts.txt", std::ios::binary) << v.body;
        const bool first_on_address = addresses.insert(v.address).second;

        conf << "    server {\n"
             << "        listen " << v.address << ":443 ssl" << (first_on_address ? " default_server" : "") << ";\n"
             << "        server_name " << quoted(v.server_name) << ";\n"
             << "        ssl_certificate " << quoted(v.cert.cert_file) << ";\n"
             << "        ssl_certificate_key " << quoted(v.cert.key_file) << ";\n"
             << "        location = /.well-known/mta-sts.txt {\n";
        if (v.delay_ms > 0) {
            conf << "            proxy_pass http://127.0.0.1:" << upstream_port << ";\n"
                 << "            proxy_read_timeout " << v.delay_ms << "ms;\n"
                 << "            proxy_send_timeout " << v.delay_ms << "ms;\n"
                 << "            error_page 504 = @answer" << i << ";\n"
                 << "        }\n"
                 << "        location @answer" << i << " {\n";
        }
        conf << answer_block(v, root)
             << "        }\n"
             << "        location / { return 404; }\n"
             << "    }\n";
    }
    conf << "}\n";
    const std::string conf_file = dir_ + "/nginx.conf";
    std::ofstream(conf_file) << conf.str();

    const std::string out_file = dir_ + "/nginx.out", error_file = dir_ + "/error.log";
    pid_ = ::fork();
    if (pid_ < 0) {
        stop();
        FAIL("fork for nginx: " << std::strerror(errno));
    }
    if (pid_ == 0) {
        // nginx goes with the test process, even when that one dies without cleaning up.
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        const int out = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (out >= 0) {
            ::dup2(out, 1);
            ::dup2(out, 2);
        }
        ::execl(nginx_binary, nginx_binary, "-p", dir_.c_str(), "-c", conf_file.c_str(), "-e",
                error_file.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            const std::string why = read_tail(out_file) + read_tail(error_file);
            stop();
            FAIL("nginx exited at start (" << (WIFEXITED(status) ? WEXITSTATUS(status) : -1) << "): " << why);
        }
        bool all = true;
        for (const auto& a : addresses)
            all = all && can_connect(a, 443);
        if (all)
            break;
        if (std::chrono::steady_clock::now() > deadline) {
            const std::string why = read_tail(error_file);
            stop();
            FAIL("nginx is not listening on every policy host after 10 s: " << why);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

policy_hosts::~policy_hosts()
{
    stop();
}

void policy_hosts::stop()
{
    if (pid_ > 0) {
        // SIGTERM: nginx's fast shutdown, workers included.
        ::kill(pid_, SIGTERM);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        int status = 0;
        while (::waitpid(pid_, &status, WNOHANG) == 0) {
            if (std::chrono::steady_clock::now() > deadline) {
                ::kill(pid_, SIGKILL);
                ::waitpid(pid_, &status, 0);
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        pid_ = -1;
    }
    if (silent_upstream_ >= 0) {
        ::close(silent_upstream_);
        silent_upstream_ = -1;
    }
    if (!dir_.empty()) {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
        dir_.clear();
    }
}

} // namespace stswatch::test
