// Training throughput of the engine on one device through the Backend interface, BCD against
// full, on a model shape given by its dimensions (random weights, random tokens): tokens/s,
// MFU from the executed FLOPs (the planner's FLOP model: BCD's forward of every layer plus the
// truncated backward, averaged over the block schedule) and from the 6·N rule, and the device
// memory the backend reports against the planner's prediction. Prints one JSON object.
// scripts/gpu-check.sh runs it on a GPU beside PyTorch and BAdam (bench/gpu/torch_peer.py);
// on the CPU it rehearses the same path.
//
//   bench_train_device [--device auto] [--precision bf16] [--mode bcd|full] [--layers 16]
//       [--hidden 2048] [--heads 16] [--kv-heads 16] [--ffn 5632] [--vocab 32000] [--seq 2048]
//       [--batch 4] [--steps-per-block 2] [--warmup 2] [--gpu NAME] [--threads 0]

#include "bcd/backend.h"
#include "bcd/blocks.h"
#include "bcd/errors.h"
#include "bcd/gpus.h"
#include "bcd/plan.h"
#include "bcd/rng.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
    std::string device = "auto", precision = "bf16", mode = "bcd", gpu;
    int layers = 16, hidden = 2048, heads = 16, kv_heads = 16, ffn = 5632, vocab = 32000;
    int seq = 2048, batch = 4, steps_per_block = 2, warmup = 2, threads = 0;
};

Options parse(int argc, char** argv) {
    Options o;
    std::map<std::string, std::string*> strings{
        {"device", &o.device}, {"precision", &o.precision}, {"mode", &o.mode}, {"gpu", &o.gpu}};
    std::map<std::string, int*> ints{{"layers", &o.layers},
                                     {"hidden", &o.hidden},
                                     {"heads", &o.heads},
                                     {"kv-heads", &o.kv_heads},
                                     {"ffn", &o.ffn},
                                     {"vocab", &o.vocab},
                                     {"seq", &o.seq},
                                     {"batch", &o.batch},
                                     {"warmup", &o.warmup},
                                     {"threads", &o.threads},
                                     {"steps-per-block", &o.steps_per_block}};
    for (int i = 1; i < argc; i += 2) {
        const std::string a = argv[i];
        if (!a.starts_with("--") || i + 1 >= argc)
            throw bcd::InputError("bench_train_device", a, "expected --NAME VALUE pairs");
        const std::string k = a.substr(2);
        if (auto it = strings.find(k); it != strings.end()) {
            *it->second = argv[i + 1];
        } else if (auto jt = ints.find(k); jt != ints.end()) {
            *jt->second = std::stoi(argv[i + 1]);
            if (*jt->second < 0) throw bcd::InputError("bench_train_device", a, "expected >= 0");
        } else {
            throw bcd::InputError("bench_train_device", a, "unknown option");
        }
    }
    if (o.mode != "bcd" && o.mode != "full")
        throw bcd::InputError("bench_train_device", "--mode", "expected bcd or full");
    return o;
}

bcd::ModelConfig shape(const Options& o) {
    bcd::ModelConfig c = bcd::ModelConfig::preset("tiny");
    c.num_layers = o.layers;
    c.hidden_size = o.hidden;
    c.num_heads = o.heads;
    c.num_kv_heads = o.kv_heads;
    c.head_dim = o.hidden / o.heads;
    c.intermediate_size = o.ffn;
    c.vocab_size = o.vocab;
    c.max_position_embeddings = std::max(o.seq, 2048);
    c.tie_word_embeddings = false;
    return c;
}

} // namespace

int main(int argc, char** argv) try {
    const Options o = parse(argc, argv);
    const bcd::DeviceChoice dc = bcd::resolve_device(o.device);
    bcd::Model model(shape(o));
    model.init_random(1);
    // The device's free memory before the backend exists (the probe has made the CUDA context),
    // and again after the timed steps: their difference is what this run holds on the GPU.
    const bool gpu = dc.device != "cpu";
    const int gpu_index = gpu ? std::stoi(dc.device.substr(5)) : 0;
    auto free_bytes = [&] {
        const bcd::CudaProbe p = bcd::probe_cuda();
        return gpu ? p.gpus.at(static_cast<std::size_t>(gpu_index)).free_bytes : 0;
    };
    const std::uint64_t free_before = free_bytes();

    bcd::BackendOptions bo;
    bo.device = dc.device;
    bo.precision = bcd::parse_precision(o.precision);
    bo.threads = o.threads;
    bo.max_batch = o.batch;
    bo.max_seq = o.seq;
    const bool full = o.mode == "full";
    bo.blocks = full ? bcd::prefix_blocks(model.layout(), {{"model.", "lm_head."}}, "bench", "mode")
                     : bcd::default_blocks(model.layout(), 1, true, true);
    auto be = bcd::make_backend(model, bo);

    bcd::Rng rng(2);
    const std::size_t N = static_cast<std::size_t>(o.batch) * o.seq;
    std::vector<std::int32_t> in(N), tg(N);
    for (std::size_t i = 0; i < N; ++i) {
        in[i] = static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(o.vocab)));
        tg[i] = static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(o.vocab)));
    }
    bcd::OptimizerSettings opt;
    opt.weight_decay = 0.1;
    std::size_t peak_mem = 0;
    auto step = [&](int block) {
        const int ids[] = {block};
        be->activate(ids, true);
        be->zero_grads();
        const bcd::LossSum l = be->forward(in.data(), tg.data(), o.batch, o.seq);
        be->backward(1.0f / static_cast<float>(std::max(1L, l.count)));
        const double norm = be->grad_norm(); // synchronises the device: the step is done
        be->clip_gradients(norm, 1.0);
        be->optimizer_step(opt, 1e-4);
        peak_mem = std::max(peak_mem, be->memory().total());
        return l.mean();
    };

    // Every block in turn (BCD's mean over the schedule; one block for full), the first
    // `warmup` steps untimed; block switches are part of the time, as in a run that switches
    // every `steps-per-block` steps.
    const int D = static_cast<int>(bo.blocks.size());
    for (int i = 0; i < o.warmup; ++i) step(full ? 0 : (D / 2));
    double secs = 0.0, loss = 0.0;
    int steps = 0;
    for (int b = 0; b < D; ++b)
        for (int k = 0; k < o.steps_per_block; ++k) {
            const auto t0 = Clock::now();
            loss = step(b);
            secs += std::chrono::duration<double>(Clock::now() - t0).count();
            ++steps;
        }
    // The last step's loss is read after the timing so that every step is synchronised by
    // grad_norm() alone.
    const double tokens_per_s = static_cast<double>(N) * steps / secs;
    const std::uint64_t used = gpu ? free_before - std::min(free_before, free_bytes()) : 0;

    bcd::PlanInput pin;
    pin.model = model.config();
    pin.seq_len = o.seq;
    pin.batch_size = o.batch;
    pin.precision = bo.precision == bcd::TrainPrecision::BF16 ? bcd::Precision::Bf16Mixed
                                                              : bcd::Precision::Fp32;
    const bcd::GpuTable table = bcd::GpuTable::builtin();
    std::string gpu_name = o.gpu;
    const bcd::CudaProbe probe = bcd::probe_cuda();
    if (gpu_name.empty() && gpu) gpu_name = probe.gpus.at(static_cast<std::size_t>(gpu_index)).name;
    double peak = 0.0;
    if (!gpu_name.empty()) {
        for (const bcd::GpuType* t : table.matches(gpu_name))
            peak = (bo.precision == bcd::TrainPrecision::BF16 ? t->bf16_tflops : t->fp32_tflops) *
                   1e12;
        if (peak == 0.0)
            for (const auto& t : table.gpus())
                if (gpu_name.find(t.name) != std::string::npos)
                    peak = (bo.precision == bcd::TrainPrecision::BF16 ? t.bf16_tflops
                                                                      : t.fp32_tflops) *
                           1e12;
        pin.hardware =
            bcd::Hardware::from_gpus({bcd::parse_gpu_spec(gpu_name, table, "bench_train_device")},
                                     table, bcd::PriceTable::builtin());
    } else {
        pin.hardware = bcd::Hardware::local_cpu(o.threads);
        peak = pin.hardware.peak_flops(pin.precision, pin.constants);
    }
    bcd::Setting setting;
    setting.micro_batch = o.batch;
    const bcd::Mode mode = full ? bcd::Mode::Full : bcd::Mode::Bcd;
    const double fpt = bcd::flops_per_token(pin, mode, setting);
    const double fpt6 = 6.0 * static_cast<double>(model.num_params());
    const bcd::Plan plan = bcd::evaluate_setting(pin, mode, setting);

    nlohmann::ordered_json out{
        {"engine", "bcd-train"},
        {"mode", o.mode},
        {"device", be->describe()},
        {"gpu", gpu_name},
        {"precision", o.precision},
        {"params", model.num_params()},
        {"shape",
         {{"layers", o.layers},
          {"hidden", o.hidden},
          {"heads", o.heads},
          {"kv_heads", o.kv_heads},
          {"ffn", o.ffn},
          {"vocab", o.vocab}}},
        {"seq", o.seq},
        {"batch", o.batch},
        {"timed_steps", steps},
        {"step_s", secs / steps},
        {"tokens_per_s", tokens_per_s},
        {"last_loss", loss},
        {"flops_per_token_executed", fpt},
        {"flops_per_token_6n", fpt6},
        {"peak_flops", peak},
        {"mfu_executed", peak > 0 ? tokens_per_s * fpt / peak : 0.0},
        {"mfu_6n", peak > 0 ? tokens_per_s * fpt6 / peak : 0.0},
        {"backend_memory_bytes", peak_mem},
        {"device_memory_used_bytes", used},
        {"planner_memory_bytes", plan.memory.total()},
        {"planner_over_measured",
         used > 0 ? static_cast<double>(plan.memory.total()) / static_cast<double>(used) : 0.0}};
    std::cout << out.dump() << std::endl;
    return 0;
} catch (const bcd::InputError& e) {
    std::cerr << "bench_train_device: " << e.what() << "\n";
    return 2;
} catch (const std::exception& e) {
    std::cerr << "bench_train_device: " << e.what() << "\n";
    return 1;
}
