// The world of one process, the launcher's environment, the choice of communicator and the loader
// of the NCCL communicator library (docs/data-parallel.md).

#include "bcd/communicator.h"

#include "bcd/errors.h"

#include <algorithm>
#include <cstdlib>
#include <dlfcn.h>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;

namespace bcd {

namespace {

class SingleCommunicator final : public Communicator {
public:
    int rank() const override { return 0; }
    int size() const override { return 1; }
    std::string describe() const override { return "single process"; }
    void all_reduce_sum(std::span<float>) override {}
    void all_reduce_sum(std::span<double>) override {}
    void broadcast(std::span<std::byte>, int) override {}
    void barrier() override {}
    [[noreturn]] void abort(int code) override { std::_Exit(code); }
};

// A launcher variable as a non-negative integer; -1 when unset or not a number.
int env_int(const char* name) {
    const char* v = std::getenv(name);
    if (!v || !*v) return -1;
    char* end = nullptr;
    const long n = std::strtol(v, &end, 10);
    if (*end != '\0' || n < 0 || n > 1 << 24) return -1;
    return static_cast<int>(n);
}

} // namespace

std::unique_ptr<Communicator> make_single_communicator() {
    return std::make_unique<SingleCommunicator>();
}

LauncherEnvironment launcher_environment() {
    // OpenMPI's mpirun; MPICH / Intel MPI's Hydra and Slurm's srun with PMI set PMI_*.
    struct Names {
        const char *size, *rank, *local_rank;
    };
    for (const Names& n :
         {Names{"OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_RANK"},
          Names{"PMI_SIZE", "PMI_RANK", "MPI_LOCALRANKID"},
          Names{"PMIX_SIZE", "PMIX_RANK", "PMIX_LOCAL_RANK"}}) {
        const int size = env_int(n.size);
        if (size < 1) continue;
        LauncherEnvironment e;
        e.world_size = size;
        e.rank = std::max(0, env_int(n.rank));
        e.local_rank = std::max(0, env_int(n.local_rank));
        e.variable = n.size;
        return e;
    }
    return {};
}

bool built_with_mpi() {
#ifdef BCD_WITH_MPI
    return true;
#else
    return false;
#endif
}

std::unique_ptr<Communicator> make_communicator(bool with_mpi) {
    const LauncherEnvironment env = launcher_environment();
    if (env.world_size <= 1) return make_single_communicator();
    if (!with_mpi)
        throw InputError(
            "", env.variable,
            "this process was started as rank " + std::to_string(env.rank) + " of " +
                std::to_string(env.world_size) + " (" + env.variable + "=" +
                std::to_string(env.world_size) +
                "), but this bcd-train was built without MPI, so each rank would train alone "
                "into the same run folder; rebuild it with OpenMPI (libopenmpi-dev, "
                "-DBCD_WITH_MPI=ON) or start a single process");
    return make_mpi_communicator();
}

int device_for_local_rank(int local_rank, int gpu_count) {
    if (gpu_count <= 0) return 0;
    return local_rank % gpu_count;
}

#ifndef BCD_WITH_MPI
std::unique_ptr<Communicator> make_mpi_communicator() {
    throw InternalError("this bcd-train was built without MPI (BCD_WITH_MPI is off)");
}
#endif

// --- The NCCL communicator library ----------------------------------------------------------

namespace {

constexpr const char* kNcclLibrary = "libbcd_dist_nccl.so";

std::vector<fs::path> nccl_library_candidates() {
    std::vector<fs::path> out;
    if (const char* env = std::getenv("BCD_DIST_NCCL"); env && *env) out.emplace_back(env);
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        out.push_back(exe.parent_path() / kNcclLibrary);
        out.push_back(exe.parent_path().parent_path() / "lib" / "bcd-workbench" / kNcclLibrary);
    }
#ifdef BCD_DIST_NCCL_BUILD_PATH
    out.emplace_back(BCD_DIST_NCCL_BUILD_PATH);
#endif
    return out;
}

} // namespace

std::unique_ptr<Communicator> make_nccl_communicator(Communicator& host, int device) {
    // The entry point of nccl_communicator.cpp: a new communicator, or null with the reason.
    using MakeFn = Communicator* (*)(Communicator*, int, char*, std::size_t);
    std::string tried;
    for (const fs::path& lib : nccl_library_candidates()) {
        std::error_code ec;
        if (!fs::exists(lib, ec)) {
            tried += (tried.empty() ? "" : ", ") + lib.string();
            continue;
        }
        void* h = ::dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            const char* e = ::dlerror();
            throw InternalError("cannot load " + lib.string() + ": " + (e ? e : "unknown error") +
                                " (NCCL and the CUDA runtime must be installed)");
        }
        auto fn = reinterpret_cast<MakeFn>(::dlsym(h, "bcd_make_nccl_communicator"));
        if (!fn) throw InternalError(lib.string() + " has no bcd_make_nccl_communicator");
        char why[512] = {};
        Communicator* c = fn(&host, device, why, sizeof why);
        if (!c) throw InternalError(std::string("NCCL: ") + why);
        return std::unique_ptr<Communicator>(c);
    }
    throw InternalError(std::string("the NCCL communicator (") + kNcclLibrary +
                        ") is not installed: this bcd-train was built without CUDA, or the "
                        "library is not beside it (looked in " +
                        (tried.empty() ? std::string("no place") : tried) + ")");
}

} // namespace bcd
