// The NCCL communicator (libbcd_dist_nccl.so, built with the CUDA backend and loaded at run time
// by make_nccl_communicator): all-reduces and broadcasts on device memory, on its own stream.
// Rank 0 makes the NCCL unique id and the host communicator (MPI) broadcasts it.
//
// The backend computes the gradients on streams of its own, which this library does not see: an
// all-reduce waits for the whole device first and returns once its result is in place. Overlapping
// the reduction with the backward needs the backend's stream and is not done yet
// (docs/data-parallel.md).

#include "bcd/communicator.h"

#include <cstdio>
#include <cstdlib>
#include <cuda_runtime.h>
#include <nccl.h>
#include <stdexcept>
#include <string>

namespace bcd {

namespace {

void cuda_check(cudaError_t e, const char* what) {
    if (e != cudaSuccess)
        throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}

void nccl_check(ncclResult_t r, const char* what) {
    if (r != ncclSuccess)
        throw std::runtime_error(std::string(what) + ": " + ncclGetErrorString(r));
}

class NcclCommunicator final : public Communicator {
public:
    NcclCommunicator(Communicator& host, int device) : host_(host), device_(device) {
        cuda_check(cudaSetDevice(device), "cudaSetDevice");
        ncclUniqueId id{};
        if (host.rank() == 0) nccl_check(ncclGetUniqueId(&id), "ncclGetUniqueId");
        host.broadcast(std::as_writable_bytes(std::span<ncclUniqueId>(&id, 1)), 0);
        cuda_check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
        nccl_check(ncclCommInitRank(&comm_, host.size(), id, host.rank()), "ncclCommInitRank");
        int version = 0;
        ncclGetVersion(&version);
        version_ = std::to_string(version / 10000) + "." + std::to_string(version / 100 % 100) +
                   "." + std::to_string(version % 100);
    }

    ~NcclCommunicator() override {
        if (comm_) ncclCommDestroy(comm_);
        if (stream_) cudaStreamDestroy(stream_);
    }

    int rank() const override { return host_.rank(); }
    int size() const override { return host_.size(); }
    std::string describe() const override {
        return "NCCL " + version_ + " on cuda:" + std::to_string(device_) + ", " + host_.describe();
    }

    void all_reduce_sum(std::span<float> data) override {
        reduce(data.data(), data.size(), ncclFloat32, sizeof(float));
    }
    void all_reduce_sum(std::span<double> data) override {
        reduce(data.data(), data.size(), ncclFloat64, sizeof(double));
    }

    void broadcast(std::span<std::byte> data, int root) override {
        cuda_check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
        nccl_check(
            ncclBroadcast(data.data(), data.data(), data.size(), ncclUint8, root, comm_, stream_),
            "ncclBroadcast");
        cuda_check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
    }

    void barrier() override { host_.barrier(); }

    [[noreturn]] void abort(int code) override {
        ncclCommAbort(comm_);
        comm_ = nullptr;
        host_.abort(code);
        std::_Exit(code); // not reached: the host communicator ends the job
    }

private:
    void reduce(void* data, std::size_t count, ncclDataType_t type, std::size_t elem) {
        bytes_reduced_ += count * elem;
        cuda_check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
        nccl_check(ncclAllReduce(data, data, count, type, ncclSum, comm_, stream_),
                   "ncclAllReduce");
        cuda_check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
    }

    Communicator& host_;
    int device_ = 0;
    cudaStream_t stream_ = nullptr;
    ncclComm_t comm_ = nullptr;
    std::string version_;
};

} // namespace

} // namespace bcd

// The library's one export (make_nccl_communicator in communicator.cpp finds it by name).
extern "C" __attribute__((visibility("default"))) bcd::Communicator*
bcd_make_nccl_communicator(bcd::Communicator* host, int device, char* why, std::size_t why_len) {
    try {
        return new bcd::NcclCommunicator(*host, device);
    } catch (const std::exception& e) {
        std::snprintf(why, why_len, "%s", e.what());
        return nullptr;
    }
}
