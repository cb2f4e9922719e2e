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

// text as one JSON object; FAILs when it is not one.
inline Poco::JSON::Object::Ptr json_object(const std::string& text)
{
    Poco::JSON::Object::Ptr object;
    try {
        Poco::JSON::Parser parser;
        object = parser.parse(text).extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception& e) {
        FAIL("not a JSON object (" << e.displayText() << "): " << text);
    }
    if (!object)
        FAIL("not a JSON object: " << text);
    return object;
}

// text as one JSON array; FAILs when it is not one.
inline Poco::JSON::Array::Ptr json_array(const std::string& text)
{
    Poco::JSON::Array::Ptr array;
    try {
        Poco::JSON::Parser parser;
        array = parser.parse(text).extract<Poco::JSON::Array::Ptr>();
    } catch (const Poco::Exception& e) {
        FAIL("not a JSON array (" << e.displayText() << "): " << text);
    }
    if (!array)
        FAIL("not a JSON array: " << text);
    return array;
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
