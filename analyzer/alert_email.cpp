// The email output (docs/alerts.md): the message through the SMTP relay of
// alerts.email.relay (RFC 5321), upgraded with STARTTLS (RFC 3207; required unless
// alerts.email.starttls=false), AUTH PLAIN (RFC 4954, RFC 4616) only under TLS. Every read
// and write is bounded by alerts.email.timeout. A 4xx reply or a broken connection is tried
// again; a 5xx reply, a relay without STARTTLS when it is required, or a refused AUTH is
// given up at once.
#include "analyzer/alert_tls.hpp"
#include "analyzer/alerts.hpp"

#include "common/text.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include <ctime>
#include <stdexcept>
#include <string>

namespace stswatch::alerts {

using namespace stswatch::text;

namespace {

struct smtp_reply {
    int code = 0;
    std::string text;   // every line, without the codes, joined by "\n"
};

// A reply the dialogue cannot go on with: retry for 4xx, give up for 5xx.
struct smtp_refusal : std::runtime_error {
    smtp_refusal(const std::string& what, bool again) : std::runtime_error(what), retry(again) {}
    bool retry;
};

class smtp_dialogue {
public:
    smtp_dialogue(const std::string& host, std::uint16_t port, unsigned timeout_s) : host_(host), timeout_(timeout_s, 0)
    {
        socket_.connect(Poco::Net::SocketAddress(host, port), timeout_);
        socket_.setReceiveTimeout(timeout_);
        socket_.setSendTimeout(timeout_);
    }

    smtp_reply read_reply()
    {
        smtp_reply r;
        for (;;) {
            const auto line = read_line();
            // RFC 5321 §4.2: "250-" continues, "250 " (or a bare code) ends the reply.
            if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]))
                throw std::runtime_error("not an SMTP reply: \"" + one_line(line, 100) + "\"");
            r.code = std::stoi(line.substr(0, 3));
            if (!r.text.empty())
                r.text += "\n";
            r.text += line.size() > 4 ? line.substr(4) : std::string();
            if (line.size() < 4 || line[3] != '-')
                return r;
        }
    }

    // Sends line (CRLF added) and expects a reply of class 2 or 3 (or code expect when set).
    smtp_reply command(const std::string& line, const std::string& step, int expect = 0)
    {
        send(line + "\r\n");
        return expect_reply(step, expect);
    }

    smtp_reply expect_reply(const std::string& step, int expect = 0)
    {
        auto r = read_reply();
        const bool good = expect ? r.code == expect : (r.code >= 200 && r.code < 400);
        if (!good)
            throw smtp_refusal(step + ": " + std::to_string(r.code) + " " + one_line(r.text, 200), r.code < 500);
        return r;
    }

    void send(const std::string& bytes)
    {
        std::size_t done = 0;
        while (done < bytes.size()) {
            const int n = socket_.sendBytes(bytes.data() + done, static_cast<int>(bytes.size() - done));
            if (n <= 0)
                throw std::runtime_error("connection closed while sending");
            done += static_cast<std::size_t>(n);
        }
    }

    void start_tls(const Poco::Net::Context::Ptr& context)
    {
        // RFC 3207 §4.2 (and the STARTTLS injection of 2011): what came before the
        // handshake is not read after it.
        if (!buffer_.empty())
            throw std::runtime_error("the relay sent data after its STARTTLS reply");
        socket_ = Poco::Net::SecureStreamSocket::attach(socket_, host_, context);
        socket_.setReceiveTimeout(timeout_);
        socket_.setSendTimeout(timeout_);
        tls_ = true;
    }

    bool tls() const { return tls_; }

    void close() noexcept
    {
        try {
            socket_.close();
        } catch (...) {
        }
    }

private:
    std::string read_line()
    {
        for (;;) {
            if (const auto end = buffer_.find('\n'); end != std::string::npos) {
                auto line = buffer_.substr(0, end);
                buffer_.erase(0, end + 1);
                if (!line.empty() && line.back() == '\r')
                    line.pop_back();
                return line;
            }
            if (buffer_.size() > 64 * 1024)
                throw std::runtime_error("reply line too long");
            char chunk[4096];
            const int n = socket_.receiveBytes(chunk, sizeof chunk);
            if (n <= 0)
                throw std::runtime_error("connection closed by the relay");
            buffer_.append(chunk, static_cast<std::size_t>(n));
        }
    }

    std::string host_;
    Poco::Timespan timeout_;
    Poco::Net::StreamSocket socket_;
    std::string buffer_;
    bool tls_ = false;
};

bool offers(const smtp_reply& ehlo, const std::string& keyword)
{
    std::size_t start = 0;
    while (start <= ehlo.text.size()) {
        auto end = ehlo.text.find('\n', start);
        if (end == std::string::npos)
            end = ehlo.text.size();
        const auto line = ehlo.text.substr(start, end - start);
        if (istarts_with(line, keyword) && (line.size() == keyword.size() || line[keyword.size()] == ' '))
            return true;
        start = end + 1;
    }
    return false;
}

std::string domain_of(const std::string& address)
{
    const auto at = address.rfind('@');
    auto d = at == std::string::npos ? std::string("localhost") : address.substr(at + 1);
    if (!d.empty() && d.back() == '>')
        d.pop_back();
    return d.empty() ? std::string("localhost") : d;
}

// The address inside "Name <a@b>", or the whole text.
std::string bare_address(const std::string& text)
{
    const auto open = text.find('<'), close = text.rfind('>');
    if (open != std::string::npos && close != std::string::npos && close > open)
        return text.substr(open + 1, close - open - 1);
    return std::string(trim(text));
}

std::string rfc5322_date()
{
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    static const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
                  months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

// RFC 5321 §4.5.2: a line that begins with "." gets another.
std::string dot_stuffed(const std::string& message)
{
    std::string out;
    out.reserve(message.size() + 16);
    bool line_start = true;
    for (const char c : message) {
        if (line_start && c == '.')
            out += '.';
        out += c;
        line_start = c == '\n';
    }
    if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0)
        out += "\r\n";
    return out + ".\r\n";
}

} // namespace

send_result send_email(const settings& s, const message& m)
{
    send_result result;
    const auto colon = s.alerts_email_relay.rfind(':');
    if (colon == std::string::npos) {
        result.error = "alerts.email.relay is not HOST:PORT";
        return result;
    }
    auto host = s.alerts_email_relay.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    const auto port = static_cast<std::uint16_t>(std::stoul(s.alerts_email_relay.substr(colon + 1)));
    const auto from = bare_address(s.alerts_email_from);
    const auto helo = domain_of(from);
    try {
        smtp_dialogue smtp(host, port, s.alerts_email_timeout);
        try {
            smtp.expect_reply("greeting", 220);
            auto ehlo = smtp.command("EHLO " + helo, "EHLO", 250);
            if (offers(ehlo, "STARTTLS")) {
                smtp.command("STARTTLS", "STARTTLS", 220);
                smtp.start_tls(alert_client_context(s.alerts_ca_file));
                ehlo = smtp.command("EHLO " + helo, "EHLO", 250);
            } else if (s.alerts_email_starttls) {
                throw smtp_refusal("the relay offers no STARTTLS (alerts.email.starttls=false sends in clear text)",
                                   false);
            }
            if (!s.alerts_email_username.empty()) {
                if (!smtp.tls())
                    throw smtp_refusal("AUTH refused without TLS", false);
                smtp.command("AUTH PLAIN " + base64(std::string(1, '\0') + s.alerts_email_username +
                                                    std::string(1, '\0') + s.alerts_email_password),
                             "AUTH", 235);
            }
            smtp.command("MAIL FROM:<" + from + ">", "MAIL FROM", 250);
            for (const auto& to : s.alerts_email_to) {
                const auto r = smtp.command("RCPT TO:<" + bare_address(to) + ">", "RCPT TO " + bare_address(to));
                if (r.code != 250 && r.code != 251)
                    throw smtp_refusal("RCPT TO: " + std::to_string(r.code), r.code < 500);
            }
            smtp.command("DATA", "DATA", 354);
            const std::string message_id = "<" + m.id + "@" + helo + ">";
            smtp.send(dot_stuffed(email_message(m, s.alerts_email_from, s.alerts_email_to, rfc5322_date(), message_id)));
            smtp.expect_reply("end of data", 250);
            result.ok = true;
            try {
                smtp.command("QUIT", "QUIT");
            } catch (...) {
                // Sent is sent: a relay that hangs up before answering QUIT changes nothing.
            }
        } catch (...) {
            smtp.close();
            throw;
        }
        smtp.close();
    } catch (const smtp_refusal& e) {
        result.error = e.what();
        result.retry = e.retry;
    } catch (const Poco::TimeoutException& e) {
        result.error = "timeout: " + e.displayText();
        result.retry = true;
    } catch (const Poco::Exception& e) {
        result.error = e.displayText();
        result.retry = true;
    } catch (const std::exception& e) {
        result.error = e.what();
        result.retry = true;
    }
    if (!result.ok)
        result.error = "relay " + s.alerts_email_relay + ": " + result.error;
    return result;
}

} // namespace stswatch::alerts
