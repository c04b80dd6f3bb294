// Forward + backward throughput of the CPU engine on a model folder, full gradients, as the
// peer comparison in bench/fwdbwd_vs_torch.py runs it. Prints one JSON line.
//
//   bench_fwdbwd --model DIR [--batch 8] [--seq 256] [--threads 2] [--warmup 2] [--iters 5]

#include "bcd/model.h"
#include "bcd/rng.h"
#include "bcd/transformer.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    std::string dir;
    int B = 8, T = 256, threads = 2, warmup = 2, iters = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i], v = argv[i + 1];
        if (a == "--model")
            dir = v;
        else if (a == "--batch")
            B = std::stoi(v);
        else if (a == "--seq")
            T = std::stoi(v);
        else if (a == "--threads")
            threads = std::stoi(v);
        else if (a == "--warmup")
            warmup = std::stoi(v);
        else if (a == "--iters")
            iters = std::stoi(v);
        else {
            std::fprintf(stderr, "bench_fwdbwd: unknown option %s\n", a.c_str());
            return 2;
        }
    }
    if (dir.empty()) {
        std::fprintf(stderr,
                     "usage: bench_fwdbwd --model DIR [--batch B] [--seq T] [--threads N]\n");
        return 2;
    }
    bcd::set_cpu_threads(threads);
    bcd::Model m = bcd::Model::load(dir);
    bcd::FloatBuffer grads(m.num_floats());
    std::vector<float*> targets;
    for (const auto& p : m.layout().params()) targets.push_back(grads.data() + p.offset);
    auto tf = bcd::make_cpu_transformer(m);
    tf->set_grad_targets(targets);

    bcd::Rng rng(1);
    std::vector<std::int32_t> in(static_cast<std::size_t>(B) * T), tg(in.size());
    for (auto& x : in)
        x = static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(m.config().vocab_size)));
    for (auto& x : tg)
        x = static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(m.config().vocab_size)));

    std::vector<double> times;
    for (int i = 0; i < warmup + iters; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        const auto l = tf->forward(in.data(), tg.data(), B, T);
        tf->backward(1.0f / static_cast<float>(l.count));
        const double s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (i >= warmup) times.push_back(s);
    }
    std::sort(times.begin(), times.end());
    const double median = times[times.size() / 2];
    std::printf(
        "{\"impl\": \"bcd-engine\", \"step_s\": %.6f, \"tok_s\": %.1f, \"batch\": %d, \"seq\": %d, "
        "\"threads\": %d, \"act_bytes\": %zu}\n",
        median, B * T / median, B, T, threads, tf->memory().activations);
    return 0;
}
