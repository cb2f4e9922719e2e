// The message of an exception in the benchmark programs that use Poco.
#pragma once

#include <Poco/Exception.h>

#include <exception>
#include <string>

namespace stswatch::bench {

// Poco::Exception::what() is only the exception's name; displayText() adds its message.
inline std::string poco_aware_text(const std::exception& e)
{
    const auto* poco = dynamic_cast<const Poco::Exception*>(&e);
    return poco ? poco->displayText() : std::string(e.what());
}

} // namespace stswatch::bench
