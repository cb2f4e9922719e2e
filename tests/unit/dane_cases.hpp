// TLSA record sets and presented chains, with what a DANE sender makes of them. Shared by
// tests/unit/test_dane.cpp and the fuzzer's seeds (tests/fuzz/seeds_dane.cpp). Digests are
// the FIPS 180-2 test vectors of "abc", independent of the code under test.
#pragma once

#include "mtasts/dane.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace stswatch::test {

inline std::string unhex(const std::string& hex)
{
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
        out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    return out;
}

inline const std::string sha256_abc = unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
inline const std::string sha512_abc = unhex(
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");

// A leaf whose SPKI is "abc" and an issuer whose DER is "abc".
inline const presented_certificate leaf_spki_abc{"leaf-der", "abc"};
inline const presented_certificate issuer_der_abc{"abc", "issuer-spki"};

struct dane_case {
    const char* name;
    std::vector<tlsa_association> records;
    std::vector<presented_certificate> chain;   // leaf first
    std::vector<std::size_t> unusable, matching;
};

inline std::vector<dane_case> dane_cases()
{
    return {
        {"DANE-EE by key digest", {{3, 1, 1, sha256_abc}}, {leaf_spki_abc}, {}, {0}},
        {"DANE-EE by key sha512 and by full key", {{3, 1, 2, sha512_abc}, {3, 1, 0, "abc"}}, {leaf_spki_abc}, {}, {0, 1}},
        {"DANE-EE by full certificate", {{3, 0, 0, "leaf-der"}}, {leaf_spki_abc}, {}, {0}},
        {"DANE-EE selector 0 digests the certificate not the key", {{3, 0, 1, sha256_abc}}, {leaf_spki_abc}, {}, {}},
        {"nothing presented matches nothing", {{3, 1, 1, sha256_abc}}, {}, {}, {}},
        {"DANE-TA matches the issuer", {{2, 0, 1, sha256_abc}}, {{"leaf-der", "leaf-spki"}, issuer_der_abc}, {}, {0}},
        {"DANE-TA never matches the leaf", {{2, 0, 1, sha256_abc}}, {{"abc", "leaf-spki"}}, {}, {}},
        {"PKIX usages and unknown parameters are unusable",
         {{0, 1, 1, sha256_abc}, {1, 1, 1, sha256_abc}, {4, 1, 1, sha256_abc}, {3, 2, 1, sha256_abc},
          {3, 1, 3, sha256_abc}},
         {leaf_spki_abc}, {0, 1, 2, 3, 4}, {}},
        {"digest of the wrong length is unusable",
         {{3, 1, 1, sha256_abc.substr(0, 31)}, {3, 1, 2, sha256_abc}}, {leaf_spki_abc}, {0, 1}, {}},
        {"unusable, usable without match, usable with match",
         {{1, 1, 1, sha256_abc}, {3, 1, 1, std::string(32, '\0')}, {3, 1, 1, sha256_abc}}, {leaf_spki_abc}, {0}, {2}},
    };
}

} // namespace stswatch::test
