#pragma once
// Data parallelism (DESIGN.md §2, docs/data-parallel.md): the ranks of one run and the collectives
// the trainer needs between them. One process is a world of size 1 (SingleCommunicator, every
// collective a no-op); several processes started by mpirun talk over MPI on host buffers; GPUs
// reduce device buffers over NCCL, its unique id broadcast over MPI. The trainer all-reduces only
// the active block's gradients (Backend::gradients()) plus a few scalars per step.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace bcd {

class Communicator {
public:
    virtual ~Communicator() = default;

    virtual int rank() const = 0;
    virtual int size() const = 0;
    // One line for train.log: the transport and where this rank runs.
    virtual std::string describe() const = 0;

    // Element-wise sums over every rank, in place; every rank ends with the same values.
    virtual void all_reduce_sum(std::span<float> data) = 0;
    virtual void all_reduce_sum(std::span<double> data) = 0;
    // Copies `root`'s bytes into every rank's `data` (same size on every rank).
    virtual void broadcast(std::span<std::byte> data, int root) = 0;
    virtual void barrier() = 0;
    // Ends every rank of the job with exit code `code`: a failing rank must not leave the others
    // waiting in a collective. A world of one simply exits.
    [[noreturn]] virtual void abort(int code) = 0;

    // Bytes this rank has handed to all-reduces so far (the payload, not the wire traffic, which
    // depends on the algorithm: a ring sends about 2·(N-1)/N of it).
    std::uint64_t bytes_reduced() const { return bytes_reduced_; }

protected:
    std::uint64_t bytes_reduced_ = 0;
};

// A world of one process.
std::unique_ptr<Communicator> make_single_communicator();

// What the launcher (mpirun, mpiexec, srun with PMI) says about this process: the world size and
// rank, and the variable that said it. world_size 1 when no launcher variable is set.
struct LauncherEnvironment {
    int world_size = 1;
    int rank = 0;
    int local_rank = 0;   // rank among the processes on this node (GPU choice)
    std::string variable; // e.g. "OMPI_COMM_WORLD_SIZE"; empty when none
};
LauncherEnvironment launcher_environment();

// True when this engine was built with MPI (BCD_WITH_MPI).
bool built_with_mpi();

// The communicator of this process: MPI when a launcher started several ranks, else a world of
// one. `with_mpi` is built_with_mpi() outside tests. Started as one of several ranks by an engine
// without MPI, it throws InputError instead of training alone N times into one run folder.
std::unique_ptr<Communicator> make_communicator(bool with_mpi = built_with_mpi());

// The MPI communicator over MPI_COMM_WORLD (initialises MPI, finalises it when destroyed). Throws
// InternalError in an engine built without MPI.
std::unique_ptr<Communicator> make_mpi_communicator();

// The GPU a rank uses when device.kind is "cuda" or "auto": its rank on the node modulo the
// node's GPU count, so that `mpirun -np G` on a node with G GPUs gives each rank its own.
int device_for_local_rank(int local_rank, int gpu_count);

// The NCCL communicator of this rank on GPU `device`: all-reduces and broadcasts act on device
// memory; the NCCL unique id is made by rank 0 and broadcast over `host` (MPI). Loaded at run
// time from libbcd_dist_nccl.so (built with the CUDA backend). Throws InternalError with the
// reason when it cannot be had (an engine without CUDA, a missing libnccl).
std::unique_ptr<Communicator> make_nccl_communicator(Communicator& host, int device);

} // namespace bcd
