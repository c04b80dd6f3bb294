// The CUDA backend against the CPU reference (ctest label `gpu`; scripts/gpu-check.sh runs these
// on a lent GPU). Without a usable GPU every test reports itself skipped with the probe's reason.
//
// Tolerances (docs/cuda-backend.md "Verification"): in fp32 the GPU computes what the CPU does in
// another order of summation — losses and gradients agree to 1e-4 relative to the tensor's
// largest gradient; in bf16 the weights and activations are rounded to 8 bits of mantissa —
// losses agree to 2 %, gradients to 5 % of the largest and a cosine similarity above 0.99.

#include "bcd/backend.h"
#include "bcd/blocks.h"
#include "bcd/rng.h"

#include <QtTest>
#include <cmath>
#include <cuda_runtime_api.h>

using namespace bcd;

namespace {

ModelConfig config(const QString& kind) {
    ModelConfig c = ModelConfig::preset("tiny");
    c.vocab_size = 512;
    c.hidden_size = 128;
    c.intermediate_size = 352;
    c.num_layers = 3;
    c.num_heads = 8;
    c.num_kv_heads = 2;
    c.head_dim = 16;
    if (kind == "qwen2") { // biases on q/k/v and a tied head
        c.architecture = "Qwen2ForCausalLM";
        c.model_type = "qwen2";
        c.qkv_bias = true;
        c.tie_word_embeddings = true;
        c.rope_theta = 1000000.0;
    }
    return c;
}

void randomise(Model& m, std::uint64_t seed) {
    Rng rng(seed);
    for (std::size_t i = 0; i < m.layout().params().size(); ++i) {
        const auto& p = m.layout().params()[i];
        for (auto& x : m.tensor(static_cast<int>(i)))
            x = p.kind == ParamKind::Norm ? 1.0f + 0.1f * static_cast<float>(rng.normal())
                                          : 0.05f * static_cast<float>(rng.normal());
    }
}

struct Batch {
    int B = 2, T = 48;
    std::vector<std::int32_t> in, tg;
};
Batch make_batch(int V, std::uint64_t seed) {
    Batch b;
    Rng rng(seed);
    for (int i = 0; i < b.B * b.T; ++i) {
        b.in.push_back(static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(V))));
        b.tg.push_back(i % 5 == 1
                           ? -100
                           : static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(V))));
    }
    return b;
}

BackendOptions options(const Model& m, const std::string& device, TrainPrecision p) {
    BackendOptions o;
    o.device = device;
    o.precision = p;
    o.threads = 2;
    o.blocks = default_blocks(m.layout(), 1, true, true);
    Block full; // the whole model: mode full
    full.id = static_cast<int>(o.blocks.size());
    full.name = "full";
    for (int i = 0; i < static_cast<int>(m.layout().params().size()); ++i)
        full.tensors.push_back(i);
    full.lowest_layer = -1;
    o.blocks.push_back(full);
    o.max_batch = 2;
    o.max_seq = 48;
    return o;
}

std::vector<float> host_gradients(Backend& be) {
    const GradientView g = be.gradients();
    std::vector<float> out(g.count);
    if (g.on_device) // gradients() returns a finished view
        cudaMemcpy(out.data(), g.data, g.count * sizeof(float), cudaMemcpyDeviceToHost);
    else
        std::copy_n(g.data, g.count, out.data());
    return out;
}

struct Diff {
    double max_rel = 0.0; // max |a - b| / max |b|
    double cosine = 1.0;
};
Diff compare(const std::vector<float>& got, const std::vector<float>& want) {
    double mx = 0.0, d = 0.0, ab = 0.0, aa = 0.0, bb = 0.0;
    for (std::size_t i = 0; i < want.size(); ++i) {
        mx = std::max(mx, std::abs(static_cast<double>(want[i])));
        d = std::max(d, std::abs(static_cast<double>(got[i]) - want[i]));
        ab += static_cast<double>(got[i]) * want[i];
        aa += static_cast<double>(got[i]) * got[i];
        bb += static_cast<double>(want[i]) * want[i];
    }
    Diff r;
    r.max_rel = mx > 0 ? d / mx : d;
    r.cosine = aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : (aa == bb ? 1.0 : 0.0);
    return r;
}

TrainPrecision precision_of(const QString& s) {
    return s == "bf16" ? TrainPrecision::BF16 : TrainPrecision::FP32;
}

} // namespace

class TstCudaBackend : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() {
        const CudaProbe p = probe_cuda();
        if (!p.usable) QSKIP(qPrintable("no GPU: " + QString::fromStdString(p.reason)));
        set_cpu_threads(2);
    }

    void loss_and_gradients_match_cpu_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("precision");
        QTest::addColumn<int>("block");
        for (const char* m : {"llama", "qwen2"})
            for (const char* p : {"fp32", "bf16"})
                for (int b : {0, 1, 2, 4, 5}) // embedding, layers 0 and 1, head, full
                    QTest::newRow(qPrintable(QString("%1 %2 block %3").arg(m, p).arg(b)))
                        << QString(m) << QString(p) << b;
    }
    void loss_and_gradients_match_cpu() {
        QFETCH(QString, model);
        QFETCH(QString, precision);
        QFETCH(int, block);
        Model a(config(model)), b(config(model));
        randomise(a, 3);
        randomise(b, 3);
        auto cpu = make_backend(a, options(a, "cpu", TrainPrecision::FP32));
        auto gpu = make_backend(b, options(b, "cuda:0", precision_of(precision)));
        const Batch x = make_batch(a.config().vocab_size, 4);
        const int ids[] = {block};
        double loss[2];
        std::vector<float> grads[2];
        int k = 0;
        for (Backend* be : {cpu.get(), gpu.get()}) {
            be->activate(ids, true);
            be->zero_grads();
            const LossSum l = be->forward(x.in.data(), x.tg.data(), x.B, x.T);
            be->backward(1.0f / static_cast<float>(l.count));
            loss[k] = l.mean();
            grads[k] = host_gradients(*be);
            ++k;
        }
        const bool bf16 = precision == "bf16";
        const double rel_loss = std::abs(loss[1] - loss[0]) / loss[0];
        QVERIFY2(rel_loss < (bf16 ? 2e-2 : 1e-5),
                 qPrintable(QString("loss %1 vs %2").arg(loss[1]).arg(loss[0])));
        QCOMPARE(grads[1].size(), grads[0].size());
        const Diff d = compare(grads[1], grads[0]);
        QVERIFY2(
            d.max_rel < (bf16 ? 5e-2 : 1e-4) && d.cosine > (bf16 ? 0.99 : 0.99999),
            qPrintable(QString("gradients: max rel %1, cosine %2").arg(d.max_rel).arg(d.cosine)));
        QVERIFY(gpu->gradients().on_device);
        // The norm the trainer clips with.
        const double n0 = cpu->grad_norm(), n1 = gpu->grad_norm();
        QVERIFY2(std::abs(n1 - n0) / n0 < (bf16 ? 5e-2 : 1e-5),
                 qPrintable(QString("norm %1 vs %2").arg(n1).arg(n0)));
    }

    // 100 BCD steps (ascending, a switch every 10, AdamW with kept state): the loss curve
    // follows the CPU's, and the trained weights agree.
    void training_follows_cpu_data() {
        QTest::addColumn<QString>("precision");
        QTest::newRow("fp32") << "fp32";
        QTest::newRow("bf16") << "bf16";
    }
    void training_follows_cpu() {
        QFETCH(QString, precision);
        const bool bf16 = precision == "bf16";
        Model a(config("llama")), b(config("llama"));
        randomise(a, 5);
        randomise(b, 5);
        auto cpu = make_backend(a, options(a, "cpu", TrainPrecision::FP32));
        auto gpu = make_backend(b, options(b, "cuda:0", precision_of(precision)));
        OptimizerSettings s;
        s.weight_decay = 0.01;
        double worst = 0.0, first = 0.0, last = 0.0;
        for (int step = 0; step < 100; ++step) {
            const Batch x = make_batch(a.config().vocab_size, 100 + step % 8);
            const int ids[] = {(step / 10) % 5};
            double loss[2];
            int k = 0;
            for (Backend* be : {cpu.get(), gpu.get()}) {
                be->activate(ids, false);
                be->zero_grads();
                const LossSum l = be->forward(x.in.data(), x.tg.data(), x.B, x.T);
                be->backward(1.0f / static_cast<float>(l.count));
                const double n = be->grad_norm();
                be->clip_gradients(n, 1.0);
                be->optimizer_step(s, 3e-3);
                loss[k++] = l.mean();
            }
            worst = std::max(worst, std::abs(loss[1] - loss[0]) / loss[0]);
            if (step == 0) first = loss[0];
            last = loss[0];
        }
        QVERIFY2(last < first, "the CPU run itself did not learn");
        QVERIFY2(worst < (bf16 ? 3e-2 : 1e-4), qPrintable(QString("worst step %1").arg(worst)));
        gpu->sync_to_host();
        std::vector<float> wa(a.params(), a.params() + a.num_floats()),
            wb(b.params(), b.params() + b.num_floats());
        const Diff d = compare(wb, wa);
        QVERIFY2(d.cosine > (bf16 ? 0.999 : 0.9999999),
                 qPrintable(QString("weights cosine %1").arg(d.cosine)));
        // The same blocks carry state, with the same step counts.
        QCOMPARE(gpu->blocks_with_state(), cpu->blocks_with_state());
        for (int id : cpu->blocks_with_state())
            QCOMPARE(gpu->read_state(id).t, cpu->read_state(id).t);
    }

    void evaluation_and_decoding() {
        Model a(config("qwen2")), b(config("qwen2"));
        randomise(a, 7);
        randomise(b, 7);
        auto cpu = make_backend(a, options(a, "cpu", TrainPrecision::FP32));
        auto gpu = make_backend(b, options(b, "cuda:0", TrainPrecision::FP32));
        const Batch x = make_batch(a.config().vocab_size, 8);
        const LossSum e0 = cpu->evaluate(x.in.data(), x.tg.data(), x.B, x.T);
        const LossSum e1 = gpu->evaluate(x.in.data(), x.tg.data(), x.B, x.T);
        QCOMPARE(e1.count, e0.count);
        QVERIFY(std::abs(e1.sum - e0.sum) / e0.sum < 1e-5);
        gpu->end_evaluation();
        cpu->start_decoding(16);
        gpu->start_decoding(16);
        for (int t = 0; t < 16; ++t) {
            const auto l0 = cpu->decode_next(x.in[static_cast<std::size_t>(t)]);
            const std::vector<float> want(l0.begin(), l0.end());
            const auto l1 = gpu->decode_next(x.in[static_cast<std::size_t>(t)]);
            const Diff d = compare(std::vector<float>(l1.begin(), l1.end()), want);
            QVERIFY2(d.max_rel < 1e-4,
                     qPrintable(QString("position %1: %2").arg(t).arg(d.max_rel)));
        }
    }

    void recomputation_gives_the_same_gradients() {
        Model a(config("llama")), b(config("llama"));
        randomise(a, 9);
        randomise(b, 9);
        BackendOptions oa = options(a, "cuda:0", TrainPrecision::BF16), ob = oa;
        ob.recompute = true;
        auto plain = make_backend(a, oa);
        auto rec = make_backend(b, ob);
        const Batch x = make_batch(a.config().vocab_size, 10);
        const int ids[] = {1};
        std::vector<float> g[2];
        int k = 0;
        for (Backend* be : {plain.get(), rec.get()}) {
            be->activate(ids, true);
            be->zero_grads();
            const LossSum l = be->forward(x.in.data(), x.tg.data(), x.B, x.T);
            be->backward(1.0f / static_cast<float>(l.count));
            g[k++] = host_gradients(*be);
        }
        QCOMPARE(compare(g[1], g[0]).max_rel, 0.0);
        QVERIFY(rec->memory().activations < plain->memory().activations);
    }

    void state_round_trip_and_memory() {
        Model a(config("llama"));
        randomise(a, 11);
        auto gpu = make_backend(a, options(a, "cuda:0", TrainPrecision::BF16));
        const Batch x = make_batch(a.config().vocab_size, 12);
        OptimizerSettings s;
        for (int block : {1, 2, 1}) {
            const int ids[] = {block};
            gpu->activate(ids, false);
            gpu->zero_grads();
            const LossSum l = gpu->forward(x.in.data(), x.tg.data(), x.B, x.T);
            gpu->backward(1.0f / static_cast<float>(l.count));
            gpu->optimizer_step(s, 1e-3);
        }
        QCOMPARE(gpu->blocks_with_state(), std::vector<int>({1, 2}));
        QCOMPARE(gpu->read_state(1).t, 2L);
        BlockState s2 = gpu->read_state(2); // offloaded in host memory
        BlockState s1 = gpu->read_state(1); // on the device
        double sum = 0.0;
        for (float v : s2.v.span()) sum += v;
        QVERIFY(sum > 0.0);
        const std::vector<float> m1(s1.m.data(), s1.m.data() + s1.m.size());
        gpu->write_state(1, std::move(s1));
        const BlockState again = gpu->read_state(1);
        QVERIFY(std::equal(m1.begin(), m1.end(), again.m.data()));
        const MemoryStats mem = gpu->memory();
        QVERIFY(mem.weights >= a.num_floats() * 2);
        QVERIFY(mem.gradients > 0 && mem.optimizer == 2 * mem.gradients);
        QVERIFY(mem.activations > 0);
    }

    void refuses_a_missing_gpu() {
        Model a(config("llama"));
        QVERIFY_THROWS_EXCEPTION(DeviceUnavailable,
                                 make_backend(a, options(a, "cuda:99", TrainPrecision::BF16)));
    }
};

QTEST_GUILESS_MAIN(TstCudaBackend)
#include "tst_cuda_backend.moc"
