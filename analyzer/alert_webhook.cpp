// The webhook output (docs/alerts.md): a POST of the message's JSON body, signed with
// HMAC-SHA256 over the exact body, on Poco's HTTP(S) client with alerts.webhook.timeout per
// attempt and alerts.ca_file as extra trust. 2xx is success; 408, 429, 5xx and failures to
// connect or to hear an answer are tried again; any other answer is given up at once.
#include "analyzer/alerts.hpp"
#include "analyzer/alert_tls.hpp"

#include <Poco/Base64Encoder.h>
#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLException.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <istream>
#include <memory>
#include <ostream>
#include <sstream>

namespace stswatch::alerts {

Poco::Net::Context::Ptr alert_client_context(const std::string& ca_file)
{
    Poco::Net::Context::Ptr context = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", ca_file,
                                                             Poco::Net::Context::VERIFY_RELAXED, 9, true);
    context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
    return context;
}

std::string base64(const std::string& bytes)
{
    std::ostringstream out;
    Poco::Base64Encoder encoder(out);
    encoder.rdbuf()->setLineLength(0);
    encoder << bytes;
    encoder.close();
    return out.str();
}

send_result send_webhook(const settings& s, const message& m)
{
    send_result result;
    try {
        const Poco::URI uri(s.alerts_webhook_url);
        std::unique_ptr<Poco::Net::HTTPClientSession> session;
        if (uri.getScheme() == "https")
            session = std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort(),
                                                                      alert_client_context(s.alerts_ca_file));
        else
            session = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
        session->setTimeout(Poco::Timespan(static_cast<long>(s.alerts_webhook_timeout), 0));

        const auto body = webhook_body(m);
        Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, uri.getPathAndQuery().empty() ? "/" : uri.getPathAndQuery(),
                                       Poco::Net::HTTPMessage::HTTP_1_1);
        request.setContentType("application/json");
        request.setContentLength(static_cast<std::streamsize>(body.size()));
        request.set("User-Agent", "stswatch");
        request.set("X-Stswatch-Event", m.id);
        request.set("X-Stswatch-Kind", m.kind);
        if (!s.alerts_webhook_secret.empty())
            request.set("X-Stswatch-Signature", signature(s.alerts_webhook_secret, body));
        session->sendRequest(request) << body;

        Poco::Net::HTTPResponse response;
        std::istream& in = session->receiveResponse(response);
        std::ostringstream answer;
        Poco::StreamCopier::copyStream(in, answer, 4096);
        const int status = static_cast<int>(response.getStatus());
        if (status >= 200 && status < 300) {
            result.ok = true;
            return result;
        }
        result.error = "HTTP " + std::to_string(status) + " " + response.getReason();
        result.retry = status == 408 || status == 429 || status >= 500;
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
    return result;
}

} // namespace stswatch::alerts
