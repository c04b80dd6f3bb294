#include "bcd/gpus.h"

#include "bcd/errors.h"
#include "core/json_reader.h"
#include "plan/tables.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace fs = std::filesystem;
using nlohmann::json;

namespace bcd {

namespace {

// Names compare without case, spaces, '-' and '_': "RTX 4090" = "rtx-4090" = "RTX4090".
std::string normalise(std::string_view s) {
    std::string out;
    for (char c : s)
        if (c != ' ' && c != '-' && c != '_' && c != '\t')
            out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string trim(std::string_view s) {
    std::size_t a = 0, b = s.size();
    while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
    while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
    return std::string(s.substr(a, b - a));
}

GpuType gpu_from_json(const json& e, const std::string& file, const std::string& path) {
    const JsonObject o(e, file, path);
    o.reject_unknown({"name", "aliases", "memory_mib", "memory", "bf16_tflops", "fp32_tflops",
                      "memory_gbps", "link", "price"});
    GpuType g;
    g.name = o.string("name");
    if (o.has("aliases")) {
        const auto& a = o.raw("aliases");
        if (!a.is_array()) o.fail("aliases", "expected a list of names, got " + json_brief(a));
        for (const auto& n : a) {
            if (!n.is_string()) o.fail("aliases", "expected a list of names, got " + json_brief(n));
            g.aliases.push_back(n.get<std::string>());
        }
    }
    if (o.has("memory_mib")) {
        g.memory_bytes = static_cast<std::uint64_t>(o.integer("memory_mib", 1, 1LL << 30)) << 20;
    } else if (o.has("memory")) {
        const auto m = parse_memory_size(o.string("memory"));
        if (!m) o.fail("memory", "expected a size with a unit, e.g. \"24GiB\"");
        g.memory_bytes = *m;
    } else {
        o.fail("memory_mib", "is required (or \"memory\": \"24GiB\")");
    }
    g.bf16_tflops = o.number("bf16_tflops", 0.0, 0.0, 1e6);
    g.fp32_tflops = o.number("fp32_tflops", 0.0, 0.0, 1e6);
    g.memory_gbps = o.number("memory_gbps", 0.0, 0.0, 1e6);
    g.link = o.string("link", "pcie4");
    g.price_key = o.string("price", g.name);
    return g;
}

} // namespace

GpuTable GpuTable::builtin() {
    GpuTable t;
    t.merge(json::parse(plan_tables::kGpusJson), "resources/gpus.json (built in)");
    return t;
}

void GpuTable::merge(const json& j, const std::string& file) {
    const JsonObject top(j, file, "");
    top.reject_unknown({"about", "gpus", "links"});
    if (top.has("gpus")) {
        const auto& a = top.raw("gpus");
        if (!a.is_array()) top.fail("gpus", "expected a list of GPU entries, got " + json_brief(a));
        for (std::size_t i = 0; i < a.size(); ++i) {
            GpuType g = gpu_from_json(a[i], file, "gpus[" + std::to_string(i) + "]");
            auto it = std::find_if(gpus_.begin(), gpus_.end(), [&](const GpuType& x) {
                return normalise(x.name) == normalise(g.name);
            });
            if (it != gpus_.end())
                *it = std::move(g);
            else
                gpus_.push_back(std::move(g));
        }
    }
    if (top.has("links")) {
        const auto& a = top.raw("links");
        if (!a.is_array())
            top.fail("links", "expected a list of interconnects, got " + json_brief(a));
        for (std::size_t i = 0; i < a.size(); ++i) {
            const JsonObject o(a[i], file, "links[" + std::to_string(i) + "]");
            o.reject_unknown({"name", "gbps", "about"});
            Interconnect l{o.string("name"), o.number("gbps", 1e-6, 1e6), o.string("about", "")};
            auto it = std::find_if(links_.begin(), links_.end(), [&](const Interconnect& x) {
                return normalise(x.name) == normalise(l.name);
            });
            if (it != links_.end())
                *it = std::move(l);
            else
                links_.push_back(std::move(l));
        }
    }
    for (const auto& g : gpus_)
        if (!link(g.link))
            throw InputError(file, "gpus: " + g.name + ": link",
                             "unknown interconnect '" + g.link + "' (expected one of the links)");
}

std::vector<const GpuType*> GpuTable::matches(std::string_view name) const {
    const std::string n = normalise(name);
    std::vector<const GpuType*> out;
    for (const auto& g : gpus_) {
        bool hit = normalise(g.name) == n;
        for (const auto& a : g.aliases) hit = hit || normalise(a) == n;
        if (hit) out.push_back(&g);
    }
    return out;
}

const Interconnect* GpuTable::link(std::string_view name) const {
    const std::string n = normalise(name);
    for (const auto& l : links_)
        if (normalise(l.name) == n) return &l;
    return nullptr;
}

PriceTable PriceTable::builtin() {
    PriceTable t;
    t.merge(json::parse(plan_tables::kPricesJson), "resources/gpu-prices.json (built in)");
    return t;
}

void PriceTable::merge(const json& j, const std::string& file) {
    const JsonObject top(j, file, "");
    top.reject_unknown({"about", "date", "currency", "unit", "sources", "prices"});
    if (top.has("currency") && top.string("currency") != "USD")
        top.fail("currency", "expected \"USD\" (prices are USD per GPU-hour)");
    if (top.has("date")) {
        const std::string d = top.string("date");
        date_ = date_.empty() ? d : date_ + "; " + file + ": " + d;
    }
    if (top.has("sources")) {
        const auto& s = top.raw("sources");
        if (!s.is_array()) top.fail("sources", "expected a list of strings");
        for (const auto& x : s) {
            if (!x.is_string()) top.fail("sources", "expected a list of strings");
            sources_.push_back(x.get<std::string>());
        }
    }
    const JsonObject p = top.object("prices");
    for (auto it = p.raw_object().begin(); it != p.raw_object().end(); ++it) {
        const double usd = p.number(it.key(), 0.0, 1e6);
        auto e = std::find_if(prices_.begin(), prices_.end(), [&](const auto& x) {
            return normalise(x.first) == normalise(it.key());
        });
        if (e != prices_.end())
            e->second = usd;
        else
            prices_.emplace_back(it.key(), usd);
    }
}

std::optional<double> PriceTable::usd_per_hour(std::string_view key) const {
    const std::string n = normalise(key);
    for (const auto& [k, v] : prices_)
        if (normalise(k) == n) return v;
    return std::nullopt;
}

fs::path default_user_table_dir() {
    if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x)
        return fs::path(x) / "bcd-workbench";
    if (const char* h = std::getenv("HOME"); h && *h)
        return fs::path(h) / ".config" / "bcd-workbench";
    return {};
}

GpuTable load_gpu_table(const fs::path& dir) {
    GpuTable t = GpuTable::builtin();
    std::error_code ec;
    if (!dir.empty() && fs::exists(dir / "gpus.json", ec))
        t.merge(read_json_file(dir / "gpus.json"), (dir / "gpus.json").string());
    return t;
}

PriceTable load_price_table(const fs::path& dir) {
    PriceTable t = PriceTable::builtin();
    std::error_code ec;
    if (!dir.empty() && fs::exists(dir / "gpu-prices.json", ec))
        t.merge(read_json_file(dir / "gpu-prices.json"), (dir / "gpu-prices.json").string());
    return t;
}

std::optional<std::uint64_t> parse_memory_size(std::string_view text) {
    const std::string s = trim(text);
    std::size_t i = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == 0) return std::nullopt;
    double value = 0.0;
    try {
        std::size_t pos = 0;
        value = std::stod(s.substr(0, i), &pos);
        if (pos != i) return std::nullopt;
    } catch (const std::logic_error&) {
        return std::nullopt;
    }
    std::string unit = normalise(trim(s.substr(i)));
    const std::pair<const char*, double> units[] = {{"b", 1.0},
                                                    {"kb", 1e3},
                                                    {"kib", 1024.0},
                                                    {"mb", 1e6},
                                                    {"mib", 1048576.0},
                                                    {"gb", 1e9},
                                                    {"gib", 1073741824.0},
                                                    {"tb", 1e12},
                                                    {"tib", 1099511627776.0}};
    for (const auto& [u, f] : units)
        if (unit == u) {
            const double bytes = value * f;
            if (!(bytes >= 1.0) || bytes > 1e18) return std::nullopt;
            return static_cast<std::uint64_t>(std::llround(bytes));
        }
    return std::nullopt;
}

std::string format_bytes(std::uint64_t bytes) {
    char buf[48];
    const double b = static_cast<double>(bytes);
    if (b >= 1073741824.0)
        std::snprintf(buf, sizeof buf, "%.2f GiB", b / 1073741824.0);
    else if (b >= 1048576.0)
        std::snprintf(buf, sizeof buf, "%.1f MiB", b / 1048576.0);
    else if (b >= 1024.0)
        std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
    else
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
    return buf;
}

namespace {

// Splits a trailing node count "@N" off `s` (spaces allowed around '@').
std::optional<long> take_nodes(std::string& s, bool* malformed) {
    const auto at = s.rfind('@');
    if (at == std::string::npos) return std::nullopt;
    const std::string num = trim(s.substr(at + 1));
    if (num.empty() || num.size() > 9 || !std::all_of(num.begin(), num.end(), [](char c) {
            return std::isdigit(static_cast<unsigned char>(c));
        })) {
        *malformed = true;
        return std::nullopt;
    }
    s = trim(s.substr(0, at));
    return std::stol(num);
}

// Splits a trailing GPU count off `s`: "xN" (N right after the x) preceded by a space, a digit
// or a ":MEM" ("RTX 4090 x8", "RTX 4090x8", "RTX 4090:24GiBx8"), or "×N". "RTX 4090" and
// "rtx4090" keep their x.
std::optional<long> take_count(std::string& s, bool* malformed) {
    std::size_t end = s.size();
    std::size_t d = end;
    while (d > 0 && std::isdigit(static_cast<unsigned char>(s[d - 1]))) --d;
    const std::string times = "\xC3\x97"; // ×
    std::size_t p = d;
    while (p > 0 && std::isspace(static_cast<unsigned char>(s[p - 1]))) --p;
    if (p >= times.size() && s.compare(p - times.size(), times.size(), times) == 0) {
        if (d == end || end - d > 9) {
            *malformed = true;
            return std::nullopt;
        }
        const long n = std::stol(s.substr(d));
        s = trim(s.substr(0, p - times.size()));
        return n;
    }
    if (d == end || d == 0 || s[d - 1] != 'x') return std::nullopt;
    const std::size_t x = d - 1;
    const bool after_mem = s.find(':') != std::string::npos && s.find(':') < x;
    const bool boundary = x == 0 || std::isspace(static_cast<unsigned char>(s[x - 1])) ||
                          std::isdigit(static_cast<unsigned char>(s[x - 1])) || after_mem;
    if (!boundary) return std::nullopt;
    if (end - d > 9) {
        *malformed = true;
        return std::nullopt;
    }
    const long n = std::stol(s.substr(d));
    s = trim(s.substr(0, x));
    return n;
}

} // namespace

GpuGroup parse_gpu_spec(std::string_view spec_in, const GpuTable& table, const std::string& where) {
    const std::string spec = trim(spec_in);
    const std::string key = "--gpu \"" + std::string(spec_in) + "\"";
    const std::string grammar = "expected NAME[:MEM][ xCOUNT][ @NODES], e.g. \"RTX 4090:24GiB x8\"";
    if (spec.empty()) throw InputError(where, key, "is empty (" + grammar + ")");
    std::string s = spec;
    bool bad = false;
    GpuGroup g;
    if (auto n = take_nodes(s, &bad)) g.nodes = static_cast<int>(*n);
    if (bad || s.find('@') != std::string::npos)
        throw InputError(where, key, "malformed node count after '@' (" + grammar + ")");
    if (auto n = take_count(s, &bad)) g.per_node = static_cast<int>(*n);
    if (bad) throw InputError(where, key, "malformed GPU count after 'x' (" + grammar + ")");
    if (g.per_node < 1 || g.per_node > 4096 || g.nodes < 1 || g.nodes > 100000)
        throw InputError(where, key, "expected 1 to 4096 GPUs per node and 1 to 100000 nodes");

    std::optional<std::uint64_t> memory;
    if (auto colon = s.rfind(':'); colon != std::string::npos) {
        const std::string mem = trim(s.substr(colon + 1));
        memory = parse_memory_size(mem);
        if (!memory)
            throw InputError(
                where, key,
                "malformed memory size '" + mem +
                    "' (expected a number with a unit after ':', e.g. 24GiB, 80GB, 48000MiB)");
        s = trim(s.substr(0, colon));
    }
    if (s.empty()) throw InputError(where, key, "has no GPU name (" + grammar + ")");

    auto found = table.matches(s);
    if (found.size() > 1 && memory) {
        // Shared alias ("A100"): the memory size decides, within 10 %.
        const GpuType* best = nullptr;
        double best_err = 0.1;
        for (const GpuType* t : found) {
            const double err =
                std::fabs(static_cast<double>(t->memory_bytes) - static_cast<double>(*memory)) /
                static_cast<double>(t->memory_bytes);
            if (err <= best_err) {
                best = t;
                best_err = err;
            }
        }
        found = best ? std::vector<const GpuType*>{best} : std::vector<const GpuType*>{};
        if (!best) {
            g.type.name = s;
            g.known = false;
        }
    }
    if (found.size() > 1) {
        std::string names;
        for (const GpuType* t : found)
            names += (names.empty() ? "" : " or ") + t->name + " (" +
                     format_bytes(t->memory_bytes) + ")";
        throw InputError(where, key,
                         "'" + s + "' is ambiguous: " + names +
                             " (expected the full name, or NAME:MEM)");
    }
    if (found.empty()) {
        if (!memory) {
            std::string known;
            for (const auto& t : table.gpus()) known += (known.empty() ? "" : ", ") + t.name;
            throw InputError(where, key,
                             "unknown GPU '" + s + "' (expected a known name — " + known +
                                 " — or the GPU's memory, e.g. \"" + s + ":24GiB\")");
        }
        g.type = GpuType{};
        g.type.name = s;
        g.type.link = "pcie4";
        g.type.price_key = s;
        g.known = false;
    } else {
        g.type = *found.front();
    }
    if (memory) g.type.memory_bytes = *memory;
    return g;
}

} // namespace bcd
