// The SMTP sink of tests/support/smtp_sink.hpp: plain sockets and OpenSSL.
#include "tests/support/smtp_sink.hpp"

#include "tests/support/test_certs.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <thread>

namespace stswatch::test {

struct smtp_sink::state {
    smtp_sink_options options;
    int listener = -1;
    std::uint16_t port = 0;
    ssl_ctx_ptr tls;
    std::atomic<bool> stopping{false};
    mutable std::mutex mutex;
    std::vector<sink_message> received;
    std::thread thread;

    // One client connection: the socket, TLS once started, a read buffer.
    struct connection {
        int fd = -1;
        SSL* ssl = nullptr;
        std::string buffer;
        ~connection()
        {
            if (ssl) {
                SSL_shutdown(ssl);
                SSL_free(ssl);
            }
            if (fd >= 0)
                ::close(fd);
        }
        bool send(const std::string& s)
        {
            if (ssl)
                return SSL_write(ssl, s.data(), static_cast<int>(s.size())) > 0;
            return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
        }
        bool read_line(std::string& line)
        {
            for (;;) {
                if (const auto end = buffer.find("\r\n"); end != std::string::npos) {
                    line = buffer.substr(0, end);
                    buffer.erase(0, end + 2);
                    return true;
                }
                char chunk[4096];
                int n = 0;
                if (ssl) {
                    n = SSL_read(ssl, chunk, sizeof chunk);
                } else {
                    pollfd p{fd, POLLIN, 0};
                    if (::poll(&p, 1, 10000) <= 0)
                        return false;
                    n = static_cast<int>(::recv(fd, chunk, sizeof chunk, 0));
                }
                if (n <= 0)
                    return false;
                buffer.append(chunk, static_cast<std::size_t>(n));
            }
        }
    };

    void serve(connection& c)
    {
        sink_message m;
        c.send("220 sink.test ESMTP\r\n");
        for (std::string line; c.read_line(line);) {
            const std::string verb = line.substr(0, line.find(' '));
            if (verb == "EHLO") {
                std::string reply = "250-sink.test\r\n";
                if (tls && !c.ssl)
                    reply += "250-STARTTLS\r\n";
                if (c.ssl)
                    reply += "250-AUTH PLAIN\r\n";
                c.send(reply + "250 8BITMIME\r\n");
            } else if (verb == "STARTTLS" && tls && !c.ssl) {
                c.send("220 go ahead\r\n");
                c.ssl = SSL_new(tls.get());
                SSL_set_fd(c.ssl, c.fd);
                if (SSL_accept(c.ssl) != 1)
                    return;
                c.buffer.clear();
                m = {};
                m.tls = true;
            } else if (verb == "AUTH") {
                m.auth = line.size() > 11 ? line.substr(11) : std::string();
                c.send("235 ok\r\n");
            } else if (verb == "MAIL") {
                m.mail_from = line.substr(line.find(':') + 1);
                c.send("250 ok\r\n");
            } else if (verb == "RCPT") {
                m.rcpt_to.push_back(line.substr(line.find(':') + 1));
                c.send("250 ok\r\n");
            } else if (verb == "DATA") {
                c.send("354 go on\r\n");
                std::string data;
                for (std::string l; c.read_line(l) && l != ".";)
                    data += (l.rfind("..", 0) == 0 ? l.substr(1) : l) + "\r\n";
                {
                    std::lock_guard lock(mutex);
                    m.data = data;
                    received.push_back(m);
                }
                c.send("250 queued\r\n");
                const bool was_tls = m.tls;
                m = {};
                m.tls = was_tls;
            } else if (verb == "QUIT") {
                c.send("221 bye\r\n");
                return;
            } else {
                c.send("502 not here\r\n");
            }
        }
    }

    void run()
    {
        while (!stopping) {
            pollfd p{listener, POLLIN, 0};
            if (::poll(&p, 1, 100) <= 0)
                continue;
            connection c;
            c.fd = ::accept(listener, nullptr, nullptr);
            if (c.fd < 0)
                continue;
            serve(c);
        }
    }
};

smtp_sink::smtp_sink(smtp_sink_options options) : state_(std::make_unique<state>())
{
    state_->options = std::move(options);
    if (!state_->options.cert_file.empty())
        state_->tls = server_tls_context(state_->options.cert_file, state_->options.key_file, "smtp sink");
    state_->listener = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(state_->listener >= 0);
    const int one = 1;
    ::setsockopt(state_->listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(state_->options.port);
    REQUIRE(::inet_pton(AF_INET, state_->options.address.c_str(), &a.sin_addr) == 1);
    if (::bind(state_->listener, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(state_->listener, 16) != 0)
        FAIL("smtp sink: cannot listen on " << state_->options.address << ": " << std::strerror(errno));
    socklen_t len = sizeof a;
    ::getsockname(state_->listener, reinterpret_cast<sockaddr*>(&a), &len);
    state_->port = ntohs(a.sin_port);
    state_->thread = std::thread([s = state_.get()] { s->run(); });
}

smtp_sink::~smtp_sink()
{
    state_->stopping = true;
    state_->thread.join();
    ::close(state_->listener);
}

std::uint16_t smtp_sink::port() const { return state_->port; }

std::vector<sink_message> smtp_sink::messages() const
{
    std::lock_guard lock(state_->mutex);
    return state_->received;
}

} // namespace stswatch::test
