// JSON and line-oriented output of the programs under test (`stswatch ... --json`), read
// so that output that is not what it should be fails the test, showing the text.
#pragma once

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <catch2/catch.hpp>

#include <sstream>
#include <string>
#include <vector>

namespace stswatch::test {

// text as one JSON value of type Ptr (an object or an array, named what); FAILs when it is not one.
template <typename Ptr>
Ptr json_value(const std::string& text, const char* what)
{
    Ptr value;
    try {
        Poco::JSON::Parser parser;
        value = parser.parse(text).extract<Ptr>();
    } catch (const Poco::Exception& e) {
        FAIL("not a JSON " << what << " (" << e.displayText() << "): " << text);
    }
    if (!value)
        FAIL("not a JSON " << what << ": " << text);
    return value;
}

// text as one JSON object; FAILs when it is not one.
inline Poco::JSON::Object::Ptr json_object(const std::string& text)
{
    return json_value<Poco::JSON::Object::Ptr>(text, "object");
}

// text as one JSON array; FAILs when it is not one.
inline Poco::JSON::Array::Ptr json_array(const std::string& text)
{
    return json_value<Poco::JSON::Array::Ptr>(text, "array");
}

// The lines of text that are not empty, without their "\n".
inline std::vector<std::string> nonempty_lines(const std::string& text)
{
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (!line.empty())
            out.push_back(line);
    return out;
}

} // namespace stswatch::test
