// The NCCL communicator on a GPU (label `gpu`): all-reduce and broadcast of device buffers, the
// unique id broadcast over MPI. Alone it is a world of one (the sums are the inputs); under
// `mpirun -np N` on a node with N GPUs each rank takes its own GPU and the sums cross them.
// Without a usable GPU, or with fewer GPUs than ranks, it says why it is skipped.

#include "bcd/communicator.h"

#include <QtTest>
#include <cuda_runtime.h>
#include <vector>

namespace {

#define CUDA_OK(call) QCOMPARE(cudaError_t(call), cudaSuccess)

} // namespace

class TestNcclCommunicator : public QObject {
    Q_OBJECT

    std::unique_ptr<bcd::Communicator> host_, nccl_;
    int device_ = 0;

private slots:
    void initTestCase() {
        int gpus = 0;
        if (const cudaError_t e = cudaGetDeviceCount(&gpus); e != cudaSuccess || gpus == 0)
            QSKIP(qPrintable(QString("skipped: no GPU (%1)")
                                 .arg(e != cudaSuccess ? cudaGetErrorString(e) : "none found")));
        const bcd::LauncherEnvironment env = bcd::launcher_environment();
        if (env.world_size > 1 && !bcd::built_with_mpi())
            QSKIP("skipped: several ranks need an engine with MPI");
        if (env.world_size > gpus)
            QSKIP(qPrintable(QString("skipped: %1 ranks on %2 GPU(s); NCCL needs a GPU per rank")
                                 .arg(env.world_size)
                                 .arg(gpus)));
        host_ = bcd::make_communicator();
        device_ = bcd::device_for_local_rank(env.local_rank, gpus);
        try {
            nccl_ = bcd::make_nccl_communicator(*host_, device_);
        } catch (const std::exception& e) {
            QFAIL(qPrintable(QString("a GPU is there but NCCL is not usable: %1").arg(e.what())));
        }
        QCOMPARE(nccl_->size(), host_->size());
        QCOMPARE(nccl_->rank(), host_->rank());
        qInfo("%s", nccl_->describe().c_str());
    }

    void all_reduce_sums_device_floats() {
        const int n = nccl_->size(), r = nccl_->rank();
        std::vector<float> h(1 << 20);
        for (std::size_t i = 0; i < h.size(); ++i) h[i] = static_cast<float>(r + 1) + i % 5;
        float* d = nullptr;
        CUDA_OK(cudaSetDevice(device_));
        CUDA_OK(cudaMalloc(&d, h.size() * sizeof(float)));
        CUDA_OK(cudaMemcpy(d, h.data(), h.size() * sizeof(float), cudaMemcpyHostToDevice));
        nccl_->all_reduce_sum(std::span<float>(d, h.size()));
        QCOMPARE(nccl_->bytes_reduced(), std::uint64_t{h.size() * sizeof(float)});
        CUDA_OK(cudaMemcpy(h.data(), d, h.size() * sizeof(float), cudaMemcpyDeviceToHost));
        CUDA_OK(cudaFree(d));
        const float ranks = static_cast<float>(n * (n + 1) / 2);
        for (std::size_t i = 0; i < h.size(); ++i)
            if (h[i] != ranks + static_cast<float>(n * static_cast<int>(i % 5)))
                QFAIL(qPrintable(QString("element %1: %2").arg(i).arg(h[i])));
    }

    void broadcast_copies_root_device_bytes() {
        std::vector<std::byte> h(4096);
        for (std::size_t i = 0; i < h.size(); ++i)
            h[i] = std::byte(nccl_->rank() == 0 ? i * 3 + 1 : 0);
        std::byte* d = nullptr;
        CUDA_OK(cudaMalloc(&d, h.size()));
        CUDA_OK(cudaMemcpy(d, h.data(), h.size(), cudaMemcpyHostToDevice));
        nccl_->broadcast(std::span<std::byte>(d, h.size()), 0);
        CUDA_OK(cudaMemcpy(h.data(), d, h.size(), cudaMemcpyDeviceToHost));
        CUDA_OK(cudaFree(d));
        for (std::size_t i = 0; i < h.size(); ++i) QCOMPARE(h[i], std::byte(i * 3 + 1));
        nccl_->barrier();
    }

    void cleanupTestCase() {
        nccl_.reset();
        host_.reset();
    }
};

QTEST_APPLESS_MAIN(TestNcclCommunicator)
#include "tst_nccl_communicator.moc"
