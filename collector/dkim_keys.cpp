// Cached DKIM key lookups (collector/dkim_keys.hpp).
#include "collector/dkim_keys.hpp"

#include "net/dns.hpp"

#include <algorithm>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace stswatch {

namespace {

class key_cache {
public:
    using clock = std::chrono::steady_clock;

    key_cache(dkim_key_lookup fetch, std::size_t max_entries, std::chrono::seconds max_age)
        : fetch_(std::move(fetch)), max_entries_(std::max<std::size_t>(1, max_entries)), max_age_(max_age)
    {
    }

    std::vector<std::string> lookup(const std::string& name)
    {
        if (auto cached = find(name))
            return std::move(*cached);
        // Outside the lock: a slow answer for one name holds up no other. A temporary
        // failure throws past keep().
        auto records = fetch_(name);
        keep(name, records);
        return records;
    }

private:
    struct entry {
        std::vector<std::string> records;
        clock::time_point fetched;
        std::list<std::string>::iterator age;   // in order_
    };

    std::optional<std::vector<std::string>> find(const std::string& name)
    {
        std::lock_guard lock(mutex_);
        const auto it = entries_.find(name);
        if (it == entries_.end())
            return std::nullopt;
        if (expired(it->second)) {
            order_.erase(it->second.age);
            entries_.erase(it);
            return std::nullopt;
        }
        return it->second.records;
    }

    void keep(const std::string& name, const std::vector<std::string>& records)
    {
        std::lock_guard lock(mutex_);
        // Another thread may have kept the same name meanwhile: the first answer stays.
        if (entries_.count(name))
            return;
        order_.push_back(name);
        entries_.emplace(name, entry{records, clock::now(), std::prev(order_.end())});
        if (entries_.size() > max_entries_) {
            entries_.erase(order_.front());
            order_.pop_front();
        }
    }

    bool expired(const entry& e) const
    {
        return max_age_ > std::chrono::seconds::zero() && clock::now() - e.fetched >= max_age_;
    }

    dkim_key_lookup fetch_;
    std::size_t max_entries_;
    std::chrono::seconds max_age_;
    std::mutex mutex_;
    std::unordered_map<std::string, entry> entries_;
    std::list<std::string> order_;   // oldest first, for eviction
};

} // namespace

dkim_key_lookup caching_dkim_lookup(dkim_key_lookup fetch, std::size_t max_entries, std::chrono::seconds max_age)
{
    auto cache = std::make_shared<key_cache>(std::move(fetch), max_entries, max_age);
    return [cache](const std::string& name) { return cache->lookup(name); };
}

dkim_key_lookup caching_dkim_lookup(std::shared_ptr<dns_resolver> resolver, std::size_t max_entries,
                                    std::chrono::seconds max_age)
{
    auto fetch = [resolver = std::move(resolver)](const std::string& name) {
        auto answer = resolver->txt(name);
        if (answer.status == dns_status::temporary_failure)
            throw dkim_temporary_failure("TXT " + name + ": " + answer.error);
        // RFC 6376 §6.1.2: nothing found (NXDOMAIN, no TXT) is "no key", an empty answer.
        std::vector<std::string> records;
        if (answer.status == dns_status::ok)
            records = std::move(answer.records);
        return records;
    };
    return caching_dkim_lookup(dkim_key_lookup(std::move(fetch)), max_entries, max_age);
}

} // namespace stswatch
