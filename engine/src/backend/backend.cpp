// The backend factory, device resolution and the CUDA backend's loader (DESIGN.md §2).

#include "bcd/backend.h"

#include "backend/cuda_entry.h"
#include "bcd/errors.h"
#include "bcd/version.h"

#include <dlfcn.h>
#include <filesystem>
#include <mutex>
#include <unistd.h>

namespace fs = std::filesystem;

namespace bcd {

namespace {

#ifdef BCD_WITH_CUDA
fs::path executable_dir() {
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    return ec ? fs::path() : exe.parent_path();
}

// Where the library may be, in order: $BCD_CUDA_BACKEND, beside the executable (the build tree),
// the install layout (<prefix>/lib/bcd-workbench/), the build folder this engine came from.
std::vector<fs::path> library_candidates() {
    std::vector<fs::path> out;
    if (const char* env = std::getenv("BCD_CUDA_BACKEND"); env && *env) out.emplace_back(env);
    const fs::path dir = executable_dir();
    if (!dir.empty()) {
        out.push_back(dir / "libbcd_backend_cuda.so");
        out.push_back(dir.parent_path() / "lib" / "bcd-workbench" / "libbcd_backend_cuda.so");
    }
#ifdef BCD_CUDA_BACKEND_BUILD_PATH
    out.emplace_back(BCD_CUDA_BACKEND_BUILD_PATH);
#endif
    return out;
}
#endif

struct Loaded {
    const CudaBackendEntry* entry = nullptr;
    std::string why; // when entry is null
};

#ifdef BCD_WITH_CUDA
// Why dlopen failed, in the user's words where the cause is known.
std::string explain_dlerror(const fs::path& lib, const std::string& err) {
    if (err.find("libcuda.so") != std::string::npos)
        return "the NVIDIA driver is not installed (libcuda.so.1 not found; " + err + ")";
    for (const char* name : {"libcudart", "libcublas", "libcudnn", "libnccl"})
        if (err.find(name) != std::string::npos)
            return std::string("a CUDA library is missing: ") + err +
                   " (install the CUDA 13 runtime libraries, or add their folder to "
                   "LD_LIBRARY_PATH)";
    return "cannot load " + lib.string() + ": " + err;
}
#endif

Loaded load_cuda_library() {
    Loaded out;
#ifndef BCD_WITH_CUDA
    out.why = "this engine was built without the CUDA backend (BCD_WITH_CUDA=OFF)";
    return out;
#else
    std::string tried;
    for (const fs::path& lib : library_candidates()) {
        std::error_code ec;
        if (!fs::exists(lib, ec)) {
            tried += (tried.empty() ? "" : ", ") + lib.string();
            continue;
        }
        void* h = ::dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            const char* e = ::dlerror();
            out.why = explain_dlerror(lib, e ? e : "unknown error");
            return out;
        }
        using EntryFn = const CudaBackendEntry* (*)();
        auto fn = reinterpret_cast<EntryFn>(::dlsym(h, BCD_CUDA_ENTRY_SYMBOL));
        if (!fn) {
            out.why = lib.string() + " is not a bcd-train CUDA backend (no " +
                      BCD_CUDA_ENTRY_SYMBOL + ")";
            return out;
        }
        const CudaBackendEntry* e = fn();
        if (!e || e->abi != kCudaBackendAbi || std::string(e->build) != BCD_VERSION) {
            out.why = lib.string() + " belongs to another engine build (" +
                      (e ? std::string(e->build) : std::string("?")) + ", this engine is " +
                      BCD_VERSION + ")";
            return out;
        }
        out.entry = e;
        return out;
    }
    out.why = "the CUDA backend library is not installed (looked for " + tried + ")";
    return out;
#endif
}

const Loaded& cuda_library() {
    static std::once_flag once;
    static Loaded loaded;
    std::call_once(once, [] { loaded = load_cuda_library(); });
    return loaded;
}

} // namespace

CudaProbe probe_cuda() {
#ifdef BCD_WITH_CUDA
    // Without the driver no GPU can be used: say so without loading the backend library, whose
    // cuBLAS would add some 150 MB to the resident memory of every CPU run on `device.kind: auto`.
    static void* const driver = ::dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (!driver) {
        CudaProbe p;
        p.reason = "no NVIDIA driver is installed (libcuda.so.1 was not found)";
        return p;
    }
#endif
    const Loaded& lib = cuda_library();
    if (!lib.entry) {
        CudaProbe p;
        p.reason = lib.why;
        return p;
    }
    return lib.entry->probe();
}

DeviceChoice resolve_device(const std::string& kind) {
    if (kind == "cpu") return {"cpu", ""};
    const bool any = kind == "auto" || kind == "cuda";
    int index = 0;
    if (!any) {
        const std::string prefix = "cuda:";
        std::size_t used = 0;
        try {
            if (!kind.starts_with(prefix)) throw std::invalid_argument(kind);
            index = std::stoi(kind.substr(prefix.size()), &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != kind.size() - prefix.size() || index < 0)
            throw DeviceUnavailable("unknown device '" + kind +
                                    "' (expected auto, cpu, cuda or cuda:N)");
    }
    const CudaProbe p = probe_cuda();
    if (!p.usable) {
        if (kind == "auto") return {"cpu", "no usable GPU: " + p.reason};
        throw DeviceUnavailable("no usable GPU: " + p.reason);
    }
    if (index >= static_cast<int>(p.gpus.size()))
        throw DeviceUnavailable("there is no GPU " + std::to_string(index) + " (this machine has " +
                                std::to_string(p.gpus.size()) + ")");
    return {"cuda:" + std::to_string(index), ""};
}

std::unique_ptr<Backend> make_backend(Model& model, const BackendOptions& opts) {
    if (opts.device == "cpu") return make_cpu_backend(model, opts);
    if (!opts.device.starts_with("cuda:"))
        throw DeviceUnavailable("unknown device '" + opts.device + "' (expected cpu or cuda:N)");
    const Loaded& lib = cuda_library();
    if (!lib.entry) throw DeviceUnavailable(lib.why);
    return lib.entry->create(model, opts);
}

} // namespace bcd
