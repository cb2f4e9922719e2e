// The STARTTLS probe of one MX (RFC 3207, RFC 5321, RFC 8461 §4). See starttls_probe.hpp.
#include "checks/starttls_probe.hpp"
#include "net/smtp_reply.hpp"
#include "net/tls.hpp"
#include "common/domain.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>

namespace stswatch {

const char* to_string(starttls_status s)
{
    switch (s) {
    case starttls_status::ok: return "ok";
    case starttls_status::unreachable: return "unreachable";
    case starttls_status::smtp_error: return "smtp_error";
    case starttls_status::starttls_missing: return "starttls_missing";
    case starttls_status::starttls_refused: return "starttls_refused";
    case starttls_status::tls_failed: return "tls_failed";
    }
    return "unknown";
}

namespace {

std::string local_host_name()
{
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
    return name;
}

// Reads one reply from the plain connection. Bytes after it stay in `buffer`.
struct reply_read {
    enum { ok, closed, timeout, io_error, bad } outcome = ok;
    smtp_reply reply;
    std::string error;
};

reply_read read_reply(int fd, std::string& buffer, net::clock::time_point deadline)
{
    reply_read r;
    while (true) {
        const auto parsed = parse_smtp_reply(buffer);
        if (parsed.state == smtp_reply_state::complete) {
            r.reply = parsed.reply;
            buffer.erase(0, parsed.consumed);
            return r;
        }
        if (parsed.state == smtp_reply_state::error) {
            r.outcome = reply_read::bad;
            r.error = parsed.error;
            return r;
        }
        try {
            if (!net::read_some(fd, buffer, 4096, deadline)) {
                r.outcome = reply_read::closed;
                return r;
            }
        } catch (const net::network_error& e) {
            // A read fails only by the deadline or an I/O error.
            r.outcome = e.kind() == net::network_error_kind::timeout ? reply_read::timeout : reply_read::io_error;
            if (r.outcome == reply_read::io_error) r.error = e.what();
            return r;
        }
    }
}

// The limit for one whole probe, from the start of the connect: three steps' worth.
unsigned overall_limit_ms(const starttls_probe_options& options)
{
    return options.timeout_ms > ~0u / 3 ? ~0u : 3 * options.timeout_ms;
}

std::string first_line(const smtp_reply& reply)
{
    std::string line = std::to_string(reply.code);
    if (!reply.lines.empty() && !reply.lines.front().empty()) line += " " + reply.lines.front();
    return line;
}

class probe {
public:
    probe(const std::string& host, const std::string& address, const starttls_probe_options& options)
        : options_(options), start_(net::clock::now()),
          overall_(start_ + std::chrono::milliseconds(overall_limit_ms(options)))
    {
        result_.host = normalize_domain(host);
        result_.address = address;
    }

    starttls_probe_result run()
    {
        steps();
        result_.elapsed_ms = static_cast<unsigned>(
            std::chrono::duration_cast<std::chrono::milliseconds>(net::clock::now() - start_).count());
        return std::move(result_);
    }

private:
    std::string where() const { return result_.host + " (" + result_.address + " port " + std::to_string(options_.port) + ")"; }

    // Every step has timeout_ms, but none ends after the deadline of the whole exchange: a
    // peer that answers each step just in time, or trickles a reply, cannot hold the probe.
    net::clock::time_point step_deadline() const { return std::min(net::deadline_after(options_.timeout_ms), overall_); }
    // Less than a millisecond left is none: the waits count in whole milliseconds.
    bool out_of_time() const { return overall_ - net::clock::now() < std::chrono::milliseconds(1); }

    // A step that ran out of time, saying so when the limit of the whole exchange ended it.
    void timed_out(starttls_status status, std::string step_error)
    {
        result_.timed_out = true;
        if (out_of_time())
            step_error += ": the whole exchange exceeded " + std::to_string(overall_limit_ms(options_)) + " ms";
        set(status, std::move(step_error));
    }

    void set(starttls_status status, std::string error)
    {
        result_.status = status;
        result_.error = std::move(error);
    }

    // A reply failure as the status it means at this step.
    void reply_failed(const reply_read& r, const std::string& step)
    {
        switch (r.outcome) {
        case reply_read::closed:
            set(step == "greeting" ? starttls_status::unreachable : starttls_status::smtp_error,
                where() + " closed the connection " + (step == "greeting" ? "before a greeting" : "after " + step));
            break;
        case reply_read::timeout:
            timed_out(step == "greeting" ? starttls_status::unreachable : starttls_status::smtp_error,
                      "no " + (step == "greeting" ? std::string("greeting") : "reply to " + step) + " from " + where() +
                          (out_of_time() ? std::string() : " within " + std::to_string(options_.timeout_ms) + " ms"));
            break;
        case reply_read::io_error:
            set(starttls_status::smtp_error, "reading from " + where() + " failed: " + r.error);
            break;
        case reply_read::bad:
            set(starttls_status::smtp_error, "the " + (step == "greeting" ? std::string("greeting") : "reply to " + step) +
                                                 " from " + where() + " is not SMTP: " + r.error);
            break;
        case reply_read::ok:
            break;
        }
    }

    bool send(const std::string& line, const std::string& step)
    {
        try {
            net::write_all(fd_.get(), line, step_deadline());
            return true;
        } catch (const net::network_error& e) {
            if (e.kind() == net::network_error_kind::timeout)
                timed_out(starttls_status::smtp_error, "sending " + step + " to " + where() + " timed out");
            else
                set(starttls_status::smtp_error, "sending " + step + " to " + where() + " failed: " + e.what());
            return false;
        }
    }

    // Sends one command on the plain connection and reads its reply; nullopt, with the
    // failure set, when either does not work.
    std::optional<smtp_reply> command(const std::string& line, const std::string& step)
    {
        if (!send(line + "\r\n", step)) return std::nullopt;
        auto r = read_reply(fd_.get(), buffer_, step_deadline());
        if (r.outcome != reply_read::ok) {
            reply_failed(r, step);
            return std::nullopt;
        }
        return std::move(r.reply);
    }

    // The QUIT at the end: best effort and short, the outcome is already known.
    net::clock::time_point bye_deadline() const
    {
        return std::min(net::deadline_after(std::min(options_.timeout_ms, 1000u)), overall_);
    }

    void quit_plain()
    {
        const auto bye = bye_deadline();
        try {
            net::write_all(fd_.get(), "QUIT\r\n", bye);
        } catch (const net::network_error&) {
            return;
        }
        read_reply(fd_.get(), buffer_, bye);
    }

    // A step of net/ that failed, as this probe's status and message: timed_out when the
    // step's deadline has passed (whatever error ended it).
    void step_failed(starttls_status status, const std::string& what, const net::network_error& e,
                     net::clock::time_point deadline)
    {
        if (net::clock::now() >= deadline)
            timed_out(status, what + e.what());
        else
            set(status, what + e.what());
    }

    void steps()
    {
        const auto connect_deadline = step_deadline();
        try {
            fd_ = net::connect_tcp(result_.address, options_.port, connect_deadline);
        } catch (const net::network_error& e) {
            step_failed(starttls_status::unreachable, "cannot connect to " + where() + ": ", e, connect_deadline);
            return;
        }

        // RFC 5321 §4.3.1: the greeting is 220 (554 refuses service), and may be multi-line.
        auto greeting = read_reply(fd_.get(), buffer_, step_deadline());
        if (greeting.outcome != reply_read::ok) {
            if (greeting.outcome == reply_read::closed && !buffer_.empty()) {
                greeting.outcome = reply_read::bad;
                greeting.error = "the greeting is cut off";
            }
            reply_failed(greeting, "greeting");
            return;
        }
        result_.banner = first_line(greeting.reply);
        if (greeting.reply.code != 220) {
            set(starttls_status::smtp_error, where() + " greets with \"" + std::to_string(greeting.reply.code) + " " +
                                                 greeting.reply.text() + "\" instead of 220");
            quit_plain();
            return;
        }

        const std::string ehlo_name = options_.ehlo_name.empty() ? local_host_name() : options_.ehlo_name;
        const auto ehlo = command("EHLO " + ehlo_name, "EHLO");
        if (!ehlo) return;
        if (ehlo->code != 250) {
            set(starttls_status::smtp_error, where() + " answers EHLO with \"" + first_line(*ehlo) + "\"");
            quit_plain();
            return;
        }
        // RFC 3207 §4: STARTTLS is offered as an EHLO keyword.
        result_.starttls_offered = parse_ehlo_reply(*ehlo).starttls;
        if (!result_.starttls_offered) {
            set(starttls_status::starttls_missing, where() + " does not offer STARTTLS in its EHLO reply");
            quit_plain();
            return;
        }

        const auto starttls = command("STARTTLS", "STARTTLS");
        if (!starttls) return;
        // RFC 3207 §4: 220 means go ahead; 454 (TLS not available) and others refuse.
        if (starttls->code != 220) {
            set(starttls_status::starttls_refused, where() + " answers STARTTLS with \"" + first_line(*starttls) + "\"");
            quit_plain();
            return;
        }
        // RFC 3207 §5 (and CVE-2011-0411): nothing sent before the handshake may be trusted;
        // bytes pipelined after the 220 are dropped.
        buffer_.clear();

        const auto handshake_deadline = step_deadline();
        ssl_ptr ssl;
        try {
            ssl = net::tls_connect(fd_.get(), result_.host, handshake_deadline);
        } catch (const net::network_error& e) {
            step_failed(starttls_status::tls_failed, "TLS with " + where() + " after STARTTLS failed: ", e,
                        handshake_deadline);
            return;
        }
        result_.tls_version = SSL_get_version(ssl.get());
        if (const char* cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(ssl.get()))) result_.cipher = cipher;
        // RFC 8461 §4.1: the certificate must be valid for the MX host name, chain to a
        // trusted root and be unexpired; describing it is enough here, the findings judge.
        result_.certificate = net::describe_peer(ssl.get(), result_.host, options_.ca_file);
        result_.status = starttls_status::ok;

        // QUIT over TLS, best effort and short.
        std::string tls_buffer;
        const auto bye = bye_deadline();
        try {
            net::tls_write_all(ssl.get(), fd_.get(), "QUIT\r\n", bye);
            while (parse_smtp_reply(tls_buffer).state == smtp_reply_state::incomplete &&
                   net::tls_read_some(ssl.get(), fd_.get(), tls_buffer, 4096, bye)) {
            }
        } catch (const net::network_error&) {
            // The outcome is already known.
        }
        SSL_shutdown(ssl.get());
    }

    const starttls_probe_options& options_;
    net::clock::time_point start_;
    net::clock::time_point overall_;   // when the whole exchange must be over
    starttls_probe_result result_;
    unique_fd fd_;
    std::string buffer_;
};

} // namespace

starttls_probe_result probe_starttls(const std::string& host, const std::string& address, const starttls_probe_options& options)
{
    return probe(host, address, options).run();
}

} // namespace stswatch
