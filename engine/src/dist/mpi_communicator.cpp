// The MPI communicator (BCD_WITH_MPI): MPI_COMM_WORLD, host buffers. Ranks are started by mpirun
// (locally or over SSH with OpenMPI's own launcher); nothing here starts processes.

#include "bcd/communicator.h"
#include "bcd/errors.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <mpi.h>

namespace bcd {

namespace {

// MPI counts are ints: larger buffers go in pieces.
constexpr std::size_t kMaxCount = INT_MAX / 2;

void check(int rc, const char* what) {
    if (rc == MPI_SUCCESS) return;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    throw InternalError(std::string(what) +
                        " failed: " + std::string(msg, static_cast<std::size_t>(len)));
}

class MpiCommunicator final : public Communicator {
public:
    MpiCommunicator() {
        int initialised = 0;
        MPI_Initialized(&initialised);
        if (!initialised) {
            // Only the main thread calls MPI (OpenMP threads compute, they do not communicate).
            int provided = 0;
            check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided),
                  "MPI_Init_thread");
            owns_ = true;
        }
        // Errors come back as codes and become exceptions with the MPI's words; a rank that
        // throws ends the job through abort().
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
        MPI_Comm_size(MPI_COMM_WORLD, &size_);
        char host[MPI_MAX_PROCESSOR_NAME];
        int len = 0;
        MPI_Get_processor_name(host, &len);
        host_.assign(host, static_cast<std::size_t>(len));
        char version[MPI_MAX_LIBRARY_VERSION_STRING];
        MPI_Get_library_version(version, &len);
        library_.assign(version, static_cast<std::size_t>(len));
        if (const auto comma = library_.find_first_of(",\n"); comma != std::string::npos)
            library_.resize(comma);
    }

    ~MpiCommunicator() override {
        int finalised = 0;
        MPI_Finalized(&finalised);
        if (owns_ && !finalised) MPI_Finalize();
    }

    int rank() const override { return rank_; }
    int size() const override { return size_; }
    std::string describe() const override {
        return "MPI (" + library_ + "), rank " + std::to_string(rank_) + " of " +
               std::to_string(size_) + " on " + host_;
    }

    void all_reduce_sum(std::span<float> data) override {
        reduce(data.data(), data.size(), MPI_FLOAT, sizeof(float));
    }
    void all_reduce_sum(std::span<double> data) override {
        reduce(data.data(), data.size(), MPI_DOUBLE, sizeof(double));
    }

    void broadcast(std::span<std::byte> data, int root) override {
        for (std::size_t off = 0; off < data.size(); off += kMaxCount) {
            const std::size_t n = std::min(kMaxCount, data.size() - off);
            check(MPI_Bcast(data.data() + off, static_cast<int>(n), MPI_BYTE, root, MPI_COMM_WORLD),
                  "MPI_Bcast");
        }
    }

    void barrier() override { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }

    [[noreturn]] void abort(int code) override {
        MPI_Abort(MPI_COMM_WORLD, code);
        std::_Exit(code); // MPI_Abort does not return; this is for the compiler
    }

private:
    void reduce(void* data, std::size_t count, MPI_Datatype type, std::size_t elem) {
        bytes_reduced_ += count * elem;
        if (size_ == 1) return;
        auto* p = static_cast<char*>(data);
        // Every rank gets the same sums: OpenMPI's reduction algorithms combine the ranks'
        // pieces in one order and hand every rank the same result.
        for (std::size_t off = 0; off < count; off += kMaxCount) {
            const std::size_t n = std::min(kMaxCount, count - off);
            check(MPI_Allreduce(MPI_IN_PLACE, p + off * elem, static_cast<int>(n), type, MPI_SUM,
                                MPI_COMM_WORLD),
                  "MPI_Allreduce");
        }
    }

    bool owns_ = false;
    int rank_ = 0, size_ = 1;
    std::string host_, library_;
};

} // namespace

std::unique_ptr<Communicator> make_mpi_communicator() {
    return std::make_unique<MpiCommunicator>();
}

} // namespace bcd
