#include "bcd/state_file.h"

#include "bcd/atomic_file.h"
#include "bcd/errors.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <unistd.h>
#include <utility>

namespace bcd {

namespace {

constexpr char kMagic[8] = {'B', 'C', 'D', 'S', 'T', 'A', 'T', 'E'};
constexpr std::uint32_t kVersion = 1;
constexpr std::uint64_t kMaxHeader = 64ULL << 20;

struct Fnv {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    void add(const void* p, std::size_t n) {
        const auto* b = static_cast<const unsigned char*>(p);
        for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ULL;
    }
};

} // namespace

void write_state_file(const std::filesystem::path& path, nlohmann::json header,
                      std::span<const StateArray> arrays) {
    header["arrays"] = nlohmann::json::array();
    for (const auto& a : arrays)
        header["arrays"].push_back({{"name", a.name}, {"count", a.data.size()}});
    const std::string h = header.dump();
    AtomicFileWriter f(path);
    Fnv fnv;
    auto put = [&](const void* p, std::size_t n) {
        f.write(p, n);
        fnv.add(p, n);
    };
    const std::uint32_t version = kVersion, zero = 0;
    const std::uint64_t hlen = h.size();
    put(kMagic, sizeof kMagic);
    put(&version, 4);
    put(&zero, 4);
    put(&hlen, 8);
    put(h.data(), h.size());
    for (const auto& a : arrays) put(a.data.data(), a.data.size_bytes());
    f.write(&fnv.h, 8);
    f.commit();
}

const FloatBuffer* LoadedState::find(const std::string& name) const {
    for (std::size_t i = 0; i < names.size(); ++i)
        if (names[i] == name) return &arrays[i];
    return nullptr;
}

FloatBuffer* LoadedState::find(const std::string& name) {
    return const_cast<FloatBuffer*>(std::as_const(*this).find(name));
}

LoadedState read_state_file(const std::filesystem::path& path) {
    const std::string file = path.string();
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(file, "", "cannot open the checkpoint state");
    Fnv fnv;
    auto get = [&](void* p, std::size_t n, const char* what) {
        in.read(static_cast<char*>(p), static_cast<std::streamsize>(n));
        if (static_cast<std::size_t>(in.gcount()) != n)
            throw InputError(file, what, "file is truncated (an interrupted checkpoint?)");
        fnv.add(p, n);
    };
    char magic[8];
    std::uint32_t version = 0, zero = 0;
    std::uint64_t hlen = 0;
    get(magic, 8, "magic");
    if (std::memcmp(magic, kMagic, 8) != 0)
        throw InputError(file, "magic", "not a bcd-train state file");
    get(&version, 4, "version");
    if (version != kVersion)
        throw InputError(file, "version",
                         "expected state format " + std::to_string(kVersion) + ", got " +
                             std::to_string(version));
    get(&zero, 4, "header");
    get(&hlen, 8, "header");
    if (hlen > kMaxHeader) throw InputError(file, "header", "length out of range");
    std::string h(hlen, '\0');
    get(h.data(), h.size(), "header");
    LoadedState st;
    try {
        st.header = nlohmann::json::parse(h);
    } catch (const nlohmann::json::exception&) {
        throw InputError(file, "header", "expected JSON");
    }
    if (!st.header.is_object() || !st.header.contains("arrays") || !st.header["arrays"].is_array())
        throw InputError(file, "header.arrays", "expected a list of arrays");
    for (const auto& a : st.header["arrays"]) {
        if (!a.is_object() || !a.contains("name") || !a["name"].is_string() ||
            !a.contains("count") || !a["count"].is_number_unsigned())
            throw InputError(file, "header.arrays", "expected {name, count} entries");
        const auto count = a["count"].get<std::uint64_t>();
        if (count > (1ULL << 40)) throw InputError(file, "header.arrays", "array too large");
        st.names.push_back(a["name"].get<std::string>());
        FloatBuffer b(count);
        get(b.data(), b.bytes(), "arrays");
        st.arrays.push_back(std::move(b));
    }
    std::uint64_t stored = 0;
    const std::uint64_t computed = fnv.h;
    in.read(reinterpret_cast<char*>(&stored), 8);
    if (in.gcount() != 8) throw InputError(file, "checksum", "file is truncated");
    if (stored != computed)
        throw InputError(file, "checksum", "does not match the content (corrupt file)");
    if (in.peek() != EOF) throw InputError(file, "", "unexpected bytes after the checksum");
    return st;
}

} // namespace bcd
