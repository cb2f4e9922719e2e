// HTTPS report intake (RFC 8460 §5.4): the server. What a body is answered is decided in
// collector/intake.hpp.
#pragma once

#include "collector/intake.hpp"

#include <cstdint>
#include <memory>

namespace stswatch {

class https_receiver {
public:
    https_receiver(https_receiver_options options, report_store& store);
    ~https_receiver();   // stops
    https_receiver(const https_receiver&) = delete;
    https_receiver& operator=(const https_receiver&) = delete;

    void start();
    void stop();
    std::uint16_t port() const;   // the bound port (useful with port 0)

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace stswatch
