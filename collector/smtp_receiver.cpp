// SMTP report intake on Poco's TCPServer (Poco has no SMTP server class): one session per
// connection, a line reader with its own buffer (so that STARTTLS can drop what was
// pipelined before the handshake), and intake_mail() after DATA.
#include "collector/smtp_receiver.hpp"

#include "mail/smtp_command.hpp"
#include "collector/intake_metrics.hpp"
#include "collector/spool.hpp"
#include "net/tcp_service.hpp"
#include "common/domain.hpp"
#include "common/log.hpp"
#include "common/memory.hpp"
#include "common/text.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>

#include <unistd.h>

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/Net/TCPServerConnection.h>
#include <Poco/Net/TCPServerConnectionFactory.h>
#include <Poco/Net/TCPServerParams.h>

namespace stswatch {

namespace {

using steady = std::chrono::steady_clock;
constexpr std::string_view component = "smtp";
// How often a waiting session looks at the stop flag.
constexpr auto stop_check = std::chrono::milliseconds(200);

std::string local_host_name()
{
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) == 0 && name[0] != '\0') return name;
    return "localhost";
}

struct receiver_context {
    const smtp_receiver_options& options;
    report_store& store;
    Poco::Net::Context::Ptr tls;            // null: no STARTTLS
    std::atomic<bool> stopping{false};
};

enum class read_status { line, too_long, timed_out, session_over, closed, stopping };

// One SMTP session: its socket (plain, then TLS after STARTTLS), its input buffer and its
// transaction state.
class session {
public:
    session(receiver_context& ctx, Poco::Net::StreamSocket& socket)
        : ctx_(ctx), o_(ctx.options), plain_(socket), io_(&socket),
          started_(steady::now()), deadline_(started_ + std::chrono::seconds(o_.session_timeout))
    {
        try {
            peer_ = socket.peerAddress().host().toString();
        } catch (const Poco::Exception&) {
            peer_ = "unknown";
        }
        hostname_ = o_.hostname.empty() ? local_host_name() : o_.hostname;
    }

    void run()
    {
        reply("220 " + hostname_ + " ESMTP stswatch ready for TLS reports");
        while (!closed_) {
            std::string line;
            const auto status = read_line(line, o_.max_line_length);
            if (status == read_status::line) {
                handle(line);
            } else if (status == read_status::too_long) {
                // RFC 5321 §4.5.3.1.4 and §4.2.2: 500 with "line too long".
                error("500 5.5.6 line too long (at most " + std::to_string(o_.max_line_length) + " octets)");
            } else {
                end_for(status);
            }
        }
    }

private:
    receiver_context& ctx_;
    const smtp_receiver_options& o_;
    Poco::Net::StreamSocket& plain_;
    std::optional<Poco::Net::SecureStreamSocket> secure_;
    Poco::Net::StreamSocket* io_;
    std::string peer_, hostname_;
    steady::time_point started_, deadline_;

    std::string in_;            // received, not yet consumed
    std::size_t in_pos_ = 0;
    std::string out_;           // replies not yet sent (RFC 2920: sent when input runs dry)
    bool closed_ = false;
    unsigned errors_ = 0;

    // Session and transaction state (RFC 5321 §4.1.4).
    std::string helo_;
    bool tls_ = false;
    std::optional<std::string> mail_from_;
    std::vector<std::string> rcpts_;

    void reply(const std::string& line)
    {
        out_ += line;
        out_ += "\r\n";
    }

    void flush()
    {
        if (out_.empty()) return;
        std::size_t sent = 0;
        while (sent < out_.size()) {
            const int n = io_->sendBytes(out_.data() + sent, static_cast<int>(out_.size() - sent));
            if (n <= 0) throw Poco::Net::ConnectionResetException("the peer closed the connection");
            sent += static_cast<std::size_t>(n);
        }
        out_.clear();
    }

    void error(const std::string& line)
    {
        reply(line);
        // A client that keeps sending nonsense is not an SMTP client (or is an attack).
        if (++errors_ >= o_.max_errors) {
            reply("421 4.7.0 " + hostname_ + " too many errors, closing");
            close();
        }
    }

    void close()
    {
        try {
            flush();
        } catch (const Poco::Exception&) {
            // The peer is gone; nothing else to tell it.
        }
        closed_ = true;
    }

    void end_for(read_status status)
    {
        switch (status) {
        case read_status::timed_out:
            // RFC 5321 §4.5.3.2: the server closes an idle session, with 421 (§3.8).
            reply("421 4.4.2 " + hostname_ + " idle for " + std::to_string(o_.idle_timeout) + " s, closing");
            log::info(component, "session idle, closed", {{"peer", peer_}});
            break;
        case read_status::session_over:
            reply("421 4.4.2 " + hostname_ + " session time limit reached, closing");
            log::info(component, "session too long, closed", {{"peer", peer_}});
            break;
        case read_status::stopping:
            reply("421 4.3.2 " + hostname_ + " shutting down, try again later");
            break;
        default:
            break;
        }
        if (status == read_status::closed) closed_ = true;
        else close();
    }

    // Waits until the socket has bytes, the idle time passes, the session ends or the receiver
    // stops. TLS may hold decrypted bytes the socket does not show: they count as readable.
    read_status wait_readable()
    {
        const auto idle_until = steady::now() + std::chrono::seconds(o_.idle_timeout);
        for (;;) {
            if (secure_ && secure_->available() > 0) return read_status::line;
            if (ctx_.stopping.load()) return read_status::stopping;
            const auto now = steady::now();
            if (now >= deadline_) return read_status::session_over;
            if (now >= idle_until) return read_status::timed_out;
            const auto slice = std::min({idle_until - now, deadline_ - now,
                                         std::chrono::duration_cast<steady::duration>(stop_check)});
            const auto us = std::chrono::duration_cast<std::chrono::microseconds>(slice).count();
            if (io_->poll(Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(std::max<long long>(us, 1000))),
                          Poco::Net::Socket::SELECT_READ | Poco::Net::Socket::SELECT_ERROR))
                return read_status::line;
        }
    }

    // Reads more input into in_; returns line on success.
    read_status fill()
    {
        if (in_pos_ > 0 && in_pos_ >= in_.size() / 2) {
            in_.erase(0, in_pos_);
            in_pos_ = 0;
        }
        // RFC 2920 §3.1: replies to a pipelined group go out when no more input is waiting.
        flush();
        const auto ready = wait_readable();
        if (ready != read_status::line) return ready;
        char chunk[16384];
        int n = 0;
        try {
            n = io_->receiveBytes(chunk, sizeof chunk);
        } catch (const Poco::TimeoutException&) {
            return read_status::timed_out;
        }
        if (n <= 0) return read_status::closed;
        in_.append(chunk, static_cast<std::size_t>(n));
        return read_status::line;
    }

    // One line without its end. Commands may end in a bare LF (tolerated); crlf tells how the
    // line ended, for the end of DATA. A line over max is consumed whole and reported.
    read_status read_line(std::string& line, std::size_t max, bool* crlf = nullptr)
    {
        bool too_long = false;
        for (;;) {
            const auto lf = in_.find('\n', in_pos_);
            if (lf != std::string::npos) {
                if (too_long || lf - in_pos_ > max) {
                    in_pos_ = lf + 1;
                    return read_status::too_long;
                }
                line.assign(in_, in_pos_, lf - in_pos_);
                in_pos_ = lf + 1;
                const bool cr = !line.empty() && line.back() == '\r';
                if (cr) line.pop_back();
                if (crlf) *crlf = cr;
                return read_status::line;
            }
            if (in_.size() - in_pos_ > max + 1) {
                // Dropped as it comes, so that an endless line costs no memory.
                too_long = true;
                in_.erase(in_pos_);
            }
            const auto status = fill();
            if (status != read_status::line) return status;
        }
    }

    void reset_transaction()
    {
        mail_from_.reset();
        rcpts_.clear();
    }

    void handle(const std::string& line)
    {
        const auto parsed = parse_smtp_command(line);
        if (!parsed.command) {
            const auto& e = parsed.error;
            return error(std::to_string(e.code) + " " + e.enhanced + " " + text::one_line(text::ascii_words(e.reason), 300));
        }
        const auto& cmd = *parsed.command;
        switch (cmd.verb) {
        case smtp_verb::ehlo: return ehlo(cmd, true);
        case smtp_verb::helo: return ehlo(cmd, false);
        case smtp_verb::mail: return mail(cmd);
        case smtp_verb::rcpt: return rcpt(cmd);
        case smtp_verb::data: return data();
        case smtp_verb::rset:
            reset_transaction();
            reply("250 2.0.0 OK");
            return;
        case smtp_verb::noop:
            reply("250 2.0.0 OK");
            return;
        case smtp_verb::quit:
            reply("221 2.0.0 " + hostname_ + " closing connection");
            close();
            return;
        case smtp_verb::vrfy:
        case smtp_verb::expn:
            // RFC 5321 §3.5.3: a server may refuse to verify; this one delivers nowhere.
            reply("502 5.5.1 " + cmd.verb_text + " not offered");
            return;
        case smtp_verb::help:
            reply("214 2.0.0 stswatch accepts TLS reports (RFC 8460) for its report addresses");
            return;
        case smtp_verb::starttls: return starttls();
        case smtp_verb::unknown: break;
        }
        error("500 5.5.2 command not recognized: " + text::one_line(cmd.verb_text, 16));
    }

    void ehlo(const smtp_command& cmd, bool extended)
    {
        // RFC 5321 §4.1.4: EHLO/HELO resets the transaction.
        reset_transaction();
        helo_ = cmd.argument;
        if (!extended) {
            reply("250 " + hostname_);
            return;
        }
        std::vector<std::string> lines{hostname_ + " greets " + peer_, "PIPELINING", "8BITMIME",
                                       // RFC 1870 §4: the largest message accepted.
                                       "SIZE " + std::to_string(o_.max_message_bytes), "ENHANCEDSTATUSCODES"};
        // RFC 3207 §4.2: STARTTLS is not offered again once TLS is on.
        if (ctx_.tls && !tls_) lines.emplace_back("STARTTLS");
        for (std::size_t i = 0; i < lines.size(); ++i)
            reply(std::string("250") + (i + 1 < lines.size() ? "-" : " ") + lines[i]);
    }

    void mail(const smtp_command& cmd)
    {
        if (helo_.empty()) return error("503 5.5.1 send EHLO or HELO first");
        if (mail_from_) return error("503 5.5.1 a transaction is already open (RSET first)");
        // RFC 1870 §6.1: a declared size over the limit is refused at MAIL.
        if (cmd.size && *cmd.size > o_.max_message_bytes) {
            reply("552 5.3.4 message size " + std::to_string(*cmd.size) + " exceeds the limit of "
                  + std::to_string(o_.max_message_bytes) + " octets");
            return;
        }
        mail_from_ = cmd.path;
        reply("250 2.1.0 sender OK");
    }

    void rcpt(const smtp_command& cmd)
    {
        if (!mail_from_) return error("503 5.5.1 MAIL first");
        // Never a relay: only the report addresses. Postmaster too is refused: this receiver
        // takes reports only, and RFC 5321 §4.5.1's postmaster belongs to the domain's MTA.
        if (cmd.postmaster || !smtp_recipient_matches(cmd.path, o_.recipients)) {
            log::info(component, "recipient refused", {{"peer", peer_}, {"rcpt", text::one_line(cmd.path, 200)}});
            return error("550 5.7.1 <" + text::one_line(cmd.path, 200) + ">: not a report address here, relaying denied");
        }
        // RFC 5321 §4.5.3.1.10: 452 for too many recipients; the sender retries the rest.
        if (rcpts_.size() >= o_.max_recipients) {
            reply("452 4.5.3 too many recipients");
            return;
        }
        rcpts_.push_back(cmd.path);
        reply("250 2.1.5 recipient OK");
    }

    void starttls()
    {
        if (!ctx_.tls) return error("502 5.5.1 STARTTLS not offered");
        if (tls_) return error("503 5.5.1 TLS is already active");
        // RFC 3207 §4.2 and CVE-2011-0411: whatever the client pipelined after STARTTLS was
        // sent in clear and must not be taken as sent under TLS.
        const auto dropped = in_.size() - in_pos_;
        in_.clear();
        in_pos_ = 0;
        if (dropped > 0)
            log::warning(component, "discarded input pipelined after STARTTLS",
                         {{"peer", peer_}, {"bytes", std::to_string(dropped)}});
        reply("220 2.0.0 ready to start TLS");
        flush();
        try {
            secure_.emplace(Poco::Net::SecureStreamSocket::attach(plain_, ctx_.tls));
            secure_->setReceiveTimeout(Poco::Timespan(static_cast<long>(o_.idle_timeout), 0));
            secure_->setSendTimeout(Poco::Timespan(static_cast<long>(o_.idle_timeout), 0));
            secure_->completeHandshake();
        } catch (const Poco::Exception& e) {
            log::info(component, "TLS handshake failed", {{"peer", peer_}, {"error", text::one_line(e.displayText(), 300)}});
            closed_ = true;   // nothing can be said in clear any more
            return;
        }
        io_ = &*secure_;
        tls_ = true;
        // RFC 3207 §4.2: the session starts over; the client sends EHLO again.
        helo_.clear();
        reset_transaction();
    }

    void data()
    {
        if (!mail_from_) return error("503 5.5.1 MAIL first");
        if (rcpts_.empty()) return error("503 5.5.1 no valid recipients");
        reply("354 end data with <CR><LF>.<CR><LF>");
        const auto began = steady::now();
        std::string message;
        bool too_large = false, previous_crlf = true;
        for (;;) {
            std::string line;
            bool crlf = false;
            // Lines are bounded by the message size only: base64 sent unwrapped is seen.
            const auto status = read_line(line, o_.max_message_bytes + 2, &crlf);
            if (status == read_status::too_long) {
                too_large = true;
                previous_crlf = false;
                continue;
            }
            if (status != read_status::line) {
                log::info(component, "message not completed",
                          {{"peer", peer_}, {"from", text::one_line(*mail_from_, 200)}, {"bytes", std::to_string(message.size())}});
                return end_for(status);
            }
            // RFC 5321 §4.1.1.4: the end is <CRLF>.<CRLF>; a bare-LF "." is data, which is
            // what keeps SMTP smuggling (a second message hidden in the first) out.
            if (line == "." && crlf && previous_crlf) break;
            previous_crlf = crlf;
            if (too_large) continue;   // read to the end and dropped (RFC 1870 §6.3)
            // RFC 5321 §4.5.2: a leading dot was doubled by the sender.
            std::string_view text(line);
            if (!text.empty() && text.front() == '.') text.remove_prefix(1);
            if (message.size() + text.size() + 2 > o_.max_message_bytes) {
                too_large = true;
                message.clear();
                message.shrink_to_fit();
                continue;
            }
            message.append(text);
            message.append(crlf ? "\r\n" : "\n");
        }
        const auto from = *mail_from_;
        std::string rcpt;
        for (const auto& r : rcpts_) rcpt += (rcpt.empty() ? "" : ",") + r;
        reset_transaction();

        if (too_large) {
            // RFC 1870 §6.3: 552 after DATA when the message is over the limit.
            reply("552 5.3.4 message exceeds the limit of " + std::to_string(o_.max_message_bytes) + " octets");
            write_log(from, rcpt, 0, "too_large", "", 0, 552, began);
            count_received(transport::smtp, "too-large");
            observe_ingest(transport::smtp, began);
            return;
        }
        const auto size = message.size();
        mail_intake_result result;
        int code = 0;
        try {
            result = intake_mail(message, transport::smtp, peer_, o_.intake, ctx_.store, o_.spool);
        } catch (const std::exception& e) {
            log::error(component, "intake failed", {{"peer", peer_}, {"error", text::one_line(e.what(), 300)}});
            reply("451 4.3.0 internal error; try again later");
            write_log(from, rcpt, size, "error", "", 0, 451, began);
            count_received(transport::smtp, "error");
            observe_ingest(transport::smtp, began);
            return;
        }
        // The parser's reasons name RFC sections with a section sign: replies stay ASCII
        // (RFC 5321 §4.2), in words.
        const auto summary = text::one_line(text::ascii_words(result.summary), 400);
        std::string verdict;
        const auto answer = [&](int reply_code, const char* reply_verdict, const std::string& line) {
            code = reply_code;
            verdict = reply_verdict;
            reply(line);
        };
        switch (result.verdict) {
        case mail_verdict::stored:
            answer(250, "stored", "250 2.0.0 " + summary);
            break;
        case mail_verdict::no_report:
            // RFC 3463 X.6.0: the content is not what this address takes.
            answer(554, "no_report", "554 5.6.0 " + summary);
            break;
        case mail_verdict::rejected: {
            const bool policy = std::any_of(result.reports.begin(), result.reports.end(),
                                            [](const mail_report_outcome& r) { return r.refused_by_policy; });
            // X.7.1: refused by this site's policy (domain not accepted, DKIM required);
            // X.6.0: reports that cannot be read.
            answer(policy ? 550 : 554, "rejected", std::string(policy ? "550 5.7.1 " : "554 5.6.0 ") + summary);
            break;
        }
        case mail_verdict::try_later:
            answer(451, "try_later", "451 4.3.0 " + summary);
            break;
        }
        write_log(from, rcpt, size, verdict, to_string(result.dkim.status), result.reports.size(), code, began);
        observe_ingest(transport::smtp, began);
        std::string().swap(message);
        result = {};
        release_free_memory_after(size);
    }

    void write_log(const std::string& from, const std::string& rcpt, std::size_t size, const std::string& verdict,
                   const std::string& dkim, std::size_t reports, int code, steady::time_point began) const
    {
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - began).count();
        // A refusal is the sender's matter; only "try later" means something here needs care.
        const auto level = code == 451 ? log::level::warning : log::level::info;
        log::write(level, component, "message",
                   {{"peer", peer_}, {"from", text::one_line(from, 200)}, {"rcpt", text::one_line(rcpt, 300)},
                    {"size", std::to_string(size)}, {"reports", std::to_string(reports)}, {"verdict", verdict},
                    {"dkim", dkim}, {"code", std::to_string(code)}, {"tls", tls_ ? "yes" : "no"},
                    {"ms", std::to_string(ms)}});
    }
};

class connection : public Poco::Net::TCPServerConnection {
public:
    connection(const Poco::Net::StreamSocket& socket, receiver_context& ctx)
        : Poco::Net::TCPServerConnection(socket), ctx_(ctx)
    {
    }

    void run() override
    {
        // A connection handler catches at its boundary: one broken session never stops others.
        try {
            socket().setNoDelay(true);
            socket().setSendTimeout(Poco::Timespan(static_cast<long>(ctx_.options.idle_timeout), 0));
            socket().setReceiveTimeout(Poco::Timespan(static_cast<long>(ctx_.options.idle_timeout), 0));
            session s(ctx_, socket());
            s.run();
        } catch (const Poco::Exception& e) {
            log::info(component, "session ended", {{"error", text::one_line(e.displayText(), 300)}});
        } catch (const std::exception& e) {
            log::error(component, "session failed", {{"error", text::one_line(e.what(), 300)}});
        }
    }

private:
    receiver_context& ctx_;
};

class connection_factory : public Poco::Net::TCPServerConnectionFactory {
public:
    explicit connection_factory(receiver_context& ctx) : ctx_(ctx) {}
    Poco::Net::TCPServerConnection* createConnection(const Poco::Net::StreamSocket& socket) override
    {
        return new connection(socket, ctx_);
    }

private:
    receiver_context& ctx_;
};

} // namespace

smtp_receiver_options smtp_receiver_options::from(const settings& s)
{
    smtp_receiver_options o;
    o.listen = s.smtp_listen;
    o.hostname = s.smtp_hostname;
    o.recipients = s.smtp_recipients;
    o.cert_file = s.smtp_cert;
    o.key_file = s.smtp_key;
    o.max_message_bytes = s.max_body_bytes;
    o.max_recipients = s.smtp_max_recipients;
    o.max_sessions = s.smtp_max_sessions;
    o.idle_timeout = s.smtp_idle_timeout;
    o.session_timeout = s.smtp_session_timeout;
    o.max_line_length = s.smtp_max_line_length;
    o.intake.max_report_bytes = s.max_report_bytes;
    o.intake.max_json_depth = s.max_json_depth;
    for (const auto& d : s.accept_domains) o.intake.accept_domains.push_back(normalize_domain(d));
    o.intake.require_dkim = s.smtp_require_dkim;
    return o;
}

struct smtp_receiver::impl {
    impl(smtp_receiver_options o, report_store& s)
        : options(std::move(o)), context{options, s, nullptr, {}},
          // No new sessions; waiting ones say 421 and close; one in intake finishes its message.
          service(component, [this] { context.stopping = true; })
    {
    }

    ssl_library ssl;
    smtp_receiver_options options;
    // Declared before the service: destroyed after it, as the service's threads run in it.
    receiver_context context;
    tcp_service service;
};

smtp_receiver::smtp_receiver(smtp_receiver_options options, report_store& store)
    : impl_(std::make_unique<impl>(std::move(options), store))
{
}

smtp_receiver::~smtp_receiver() = default;

void smtp_receiver::start()
{
    auto& m = *impl_;
    if (m.service.running()) return;
    const auto& o = m.options;

    if (o.cert_file.empty() != o.key_file.empty())
        throw std::runtime_error("SMTP receiver: collector.smtp.cert and collector.smtp.key must be set together");
    if (!o.cert_file.empty()) m.context.tls = server_tls_context(o.cert_file, o.key_file, "SMTP receiver");
    if (o.recipients.empty())
        log::warning(component, "collector.smtp.recipients is empty: every recipient is refused");

    Poco::Net::ServerSocket socket;
    listen_on(socket, o.listen, o.max_sessions, "SMTP receiver");

    m.context.stopping = false;
    // As many accepted connections again may wait for a session thread.
    m.service.start(socket, new connection_factory(m.context), new Poco::Net::TCPServerParams, o.max_sessions,
                    o.max_sessions);
    log::info(component, "listening",
              {{"address", socket.address().toString()}, {"starttls", m.context.tls ? "yes" : "no"},
               {"require_dkim", o.intake.require_dkim ? "yes" : "no"}, {"dkim", o.intake.dkim_lookup ? "verified" : "not verified"}});
}

void smtp_receiver::stop()
{
    impl_->service.stop();
}

std::uint16_t smtp_receiver::port() const
{
    return impl_->service.port();
}

} // namespace stswatch
