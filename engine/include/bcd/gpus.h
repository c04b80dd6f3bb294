#pragma once
// The hardware the planner knows: GPU types (memory, dense peaks, bandwidth, default interconnect),
// interconnects, and the dated price table. The built-in tables are resources/gpus.json and
// resources/gpu-prices.json, compiled into the engine; users add or override entries with files
// of the same format (default_user_table_dir()). `--gpu` specifications are parsed here.

#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bcd {

struct GpuType {
    std::string name; // canonical, e.g. "RTX 4090"
    std::vector<std::string>
        aliases; // other spellings; an alias may be shared (then memory decides)
    std::uint64_t memory_bytes = 0;
    double bf16_tflops = 0.0; // dense bf16 tensor peak (fp32 accumulate), 0 = unknown
    double fp32_tflops = 0.0; // non-tensor fp32 peak, 0 = unknown
    double memory_gbps = 0.0; // DRAM bandwidth in GB/s, 0 = unknown
    std::string link;         // default intra-node interconnect (Interconnect::name)
    std::string price_key;    // key into the price table (defaults to name)
};

// A link's usable bandwidth for collectives: NCCL's all-reduce "bus bandwidth" in GB/s.
struct Interconnect {
    std::string name;
    double gbps = 0.0;
    std::string about;
};

// The GPU and interconnect tables.
class GpuTable {
public:
    // resources/gpus.json as built into the engine.
    static GpuTable builtin();
    // Adds or replaces entries from a file of the same format ({"gpus": [...], "links": [...]});
    // `file` names it in errors.
    void merge(const nlohmann::json& j, const std::string& file);

    // Every type whose name or alias matches (case, spaces, '-' and '_' ignored).
    std::vector<const GpuType*> matches(std::string_view name) const;
    const Interconnect* link(std::string_view name) const;
    const std::vector<GpuType>& gpus() const { return gpus_; }
    const std::vector<Interconnect>& links() const { return links_; }

private:
    std::vector<GpuType> gpus_;
    std::vector<Interconnect> links_;
};

// USD per GPU-hour, with the date and sources of the figures.
class PriceTable {
public:
    static PriceTable builtin(); // resources/gpu-prices.json as built into the engine
    // Adds or replaces entries ({"date": ..., "prices": {"NAME": usd}}); a user file's date, when
    // given, is recorded beside the built-in one.
    void merge(const nlohmann::json& j, const std::string& file);
    std::optional<double> usd_per_hour(std::string_view key) const;
    const std::string& date() const { return date_; }
    const std::vector<std::string>& sources() const { return sources_; }
    const std::vector<std::pair<std::string, double>>& entries() const { return prices_; }

private:
    std::string date_;
    std::vector<std::string> sources_;
    std::vector<std::pair<std::string, double>> prices_;
};

// The folder of the user's own tables: $XDG_CONFIG_HOME/bcd-workbench, else
// ~/.config/bcd-workbench. Files there: gpus.json, gpu-prices.json.
std::filesystem::path default_user_table_dir();

// The built-in tables merged with the user's files in `dir` (absent files are skipped; a file
// that exists but is malformed is an InputError naming it).
GpuTable load_gpu_table(const std::filesystem::path& dir = default_user_table_dir());
PriceTable load_price_table(const std::filesystem::path& dir = default_user_table_dir());

// One `--gpu` entry: a GPU type, GPUs per node, nodes.
struct GpuGroup {
    GpuType type;
    int per_node = 1;
    int nodes = 1;
    bool known = true; // false: a name the table does not know (memory given by the user)
};

// Parses a GPU specification (docs/planner.md#gpu):
//   NAME[:MEM][ xCOUNT][ @NODES]
// e.g. "RTX 4090", "RTX 4090:24GiB x8", "A100-80GB x8 @4", "MyCard:48GB x2". MEM is a number
// with a unit (GB, GiB, MB, MiB, TB, TiB); it overrides the table's memory and is required for
// names the table does not know. Errors are InputErrors whose file is `where` (e.g.
// "bcd-train plan") and whose key is "--gpu SPEC".
GpuGroup parse_gpu_spec(std::string_view spec, const GpuTable& table, const std::string& where);

// "24GiB" → bytes; nullopt when malformed.
std::optional<std::uint64_t> parse_memory_size(std::string_view text);
// Bytes as "23.99 GiB".
std::string format_bytes(std::uint64_t bytes);

} // namespace bcd
