// bcd-train plan: memory, time and cost of a run config on given GPUs (or this machine's CPU),
// full training against BCD (docs/planner.md).

#include "bcd/errors.h"
#include "bcd/gpus.h"
#include "bcd/model_config.h"
#include "bcd/plan.h"
#include "bcd/run_config.h"
#include "cli.h"
#include "core/json_reader.h"

#include <iostream>
#include <nlohmann/json.hpp>

namespace bcd::cli {

int cmd_plan(const std::vector<std::string>& argv) {
    Args args("plan", argv,
              {"config", "gpu", "link", "network", "efficiency", "margin", "sharding", "offload",
               "gpu-table", "prices", "ranks", "nodes"},
              {"json"});
    const std::string where = "bcd-train plan";
    const RunConfig cfg = RunConfig::load(args.required("config"));
    const ModelConfig model = load_model_config(cfg.model.path);
    PlanInput in = PlanInput::from_run_config(cfg, model);

    GpuTable gpus = load_gpu_table();
    PriceTable prices = load_price_table();
    if (auto f = args.value("gpu-table")) gpus.merge(read_json_file(*f), *f);
    if (auto f = args.value("prices")) prices.merge(read_json_file(*f), *f);

    const auto specs = args.values("gpu");
    if (specs.empty()) {
        // The local devices. The CUDA backend is not in this build: the CPU.
        for (const char* o : {"link", "network", "sharding", "offload"})
            if (args.value(o))
                throw InputError(where, std::string("--") + o,
                                 "applies to GPUs only (expected --gpu as well)");
        in.hardware = Hardware::local_cpu(cfg.device.threads);
        // Data parallel on CPUs: processes per node (mpirun -np) and nodes like this one.
        if (args.value("ranks"))
            in.hardware.cpu.ranks = static_cast<int>(args.number("ranks", 1, 1, 1024));
        if (args.value("nodes"))
            in.hardware.cpu.nodes = static_cast<int>(args.number("nodes", 1, 1, 100000));
    } else {
        for (const char* o : {"ranks", "nodes"})
            if (args.value(o))
                throw InputError(where, std::string("--") + o,
                                 "applies to the CPU only (GPUs: --gpu \"NAME xPER_NODE @NODES\")");
        std::vector<GpuGroup> groups;
        groups.reserve(specs.size());
        for (const auto& s : specs) groups.push_back(parse_gpu_spec(s, gpus, where));
        in.hardware =
            Hardware::from_gpus(std::move(groups), gpus, prices, args.value("link").value_or(""),
                                args.value("network").value_or(""));
    }
    if (args.value("efficiency")) in.efficiency = args.number("efficiency", 0.4, 0.001, 1.0);
    if (args.value("margin")) in.safety_margin = args.number("margin", 0.1, 0.0, 0.9);
    if (auto s = args.value("sharding")) {
        if (*s == "none")
            in.force_sharding = Sharding::None;
        else if (*s == "zero1")
            in.force_sharding = Sharding::Zero1;
        else if (*s == "zero2")
            in.force_sharding = Sharding::Zero2;
        else if (*s == "zero3")
            in.force_sharding = Sharding::Zero3;
        else
            throw InputError(where, "--sharding",
                             "expected none, zero1, zero2 or zero3, got '" + *s + "'");
    }
    if (auto o = args.value("offload")) {
        if (*o == "none")
            in.force_offload = Offload::None;
        else if (*o == "optimizer")
            in.force_offload = Offload::Optimizer;
        else if (*o == "params")
            in.force_offload = Offload::OptimizerAndParams;
        else
            throw InputError(where, "--offload",
                             "expected none, optimizer or params, got '" + *o + "'");
        if (in.force_offload == Offload::OptimizerAndParams && in.force_sharding &&
            in.force_sharding != Sharding::Zero3)
            throw InputError(where, "--offload params",
                             "needs --sharding zero3 (parameters offload with ZeRO-3)");
    }

    PlanPair plan = make_plan(in);
    if (specs.empty() && cfg.device.kind == "cuda")
        for (Plan* p : {&plan.full, &plan.bcd})
            p->notes.emplace_back(
                "device.kind is \"cuda\" but this build has no CUDA backend: planned for the "
                "CPU (give --gpu to plan for GPUs)");
    if (args.flag("json"))
        std::cout << to_json(plan).dump(2) << "\n";
    else
        std::cout << format_table(plan, in);
    return kExitOk;
}

} // namespace bcd::cli
