#include "bcd/errors.h"
#include "cli.h"

#include <stdexcept>

namespace bcd::cli {

Args::Args(std::string command, const std::vector<std::string>& argv,
           std::set<std::string> value_options, std::set<std::string> flags)
    : command_(std::move(command)) {
    for (std::size_t i = 0; i < argv.size(); ++i) {
        std::string a = argv[i];
        if (!a.starts_with("--"))
            throw InputError("bcd-train " + command_, a,
                             "unexpected argument (see bcd-train --help)");
        std::optional<std::string> inline_value;
        if (auto eq = a.find('='); eq != std::string::npos) {
            inline_value = a.substr(eq + 1);
            a = a.substr(0, eq);
        }
        const std::string name = a.substr(2);
        if (flags.count(name)) {
            if (inline_value) throw InputError("bcd-train " + command_, a, "takes no value");
            flags_.insert(name);
        } else if (value_options.count(name)) {
            if (inline_value) {
                values_[name].push_back(*inline_value);
            } else {
                if (i + 1 >= argv.size())
                    throw InputError("bcd-train " + command_, a, "expects a value");
                values_[name].push_back(argv[++i]);
            }
        } else {
            throw InputError("bcd-train " + command_, a, "unknown option (see bcd-train --help)");
        }
    }
}

std::optional<std::string> Args::value(const std::string& name) const {
    auto it = values_.find(name);
    if (it == values_.end()) return std::nullopt;
    if (it->second.size() > 1)
        throw InputError("bcd-train " + command_, "--" + name, "given more than once");
    return it->second.front();
}

std::vector<std::string> Args::values(const std::string& name) const {
    auto it = values_.find(name);
    return it == values_.end() ? std::vector<std::string>{} : it->second;
}

std::string Args::required(const std::string& name) const {
    auto v = value(name);
    if (!v) throw InputError("bcd-train " + command_, "--" + name, "is required");
    return *v;
}

long Args::integer(const std::string& name, long fallback, long min, long max) const {
    auto v = value(name);
    if (!v) return fallback;
    const std::string expect =
        "expected an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
    try {
        std::size_t pos = 0;
        const long x = std::stol(*v, &pos);
        if (pos != v->size() || x < min || x > max) throw std::out_of_range("");
        return x;
    } catch (const std::logic_error&) {
        throw InputError("bcd-train " + command_, "--" + name, expect + ", got '" + *v + "'");
    }
}

double Args::number(const std::string& name, double fallback, double min, double max) const {
    auto v = value(name);
    if (!v) return fallback;
    try {
        std::size_t pos = 0;
        const double x = std::stod(*v, &pos);
        if (pos != v->size() || !(x >= min && x <= max)) throw std::out_of_range("");
        return x;
    } catch (const std::logic_error&) {
        throw InputError("bcd-train " + command_, "--" + name,
                         "expected a number in [" + std::to_string(min) + ", " +
                             std::to_string(max) + "], got '" + *v + "'");
    }
}

std::unique_ptr<Backend> command_backend(const Args& args, Model& model) {
    const std::string where = "bcd-train " + args.command();
    const std::string kind = args.value("device").value_or("auto");
    DeviceChoice dc;
    try {
        dc = resolve_device(kind);
    } catch (const DeviceUnavailable& e) {
        throw InputError(where, "--device", "\"" + kind + "\" cannot be used: " + e.what());
    }
    BackendOptions o;
    o.device = dc.device;
    o.threads = static_cast<int>(args.integer("threads", 0, 0, 4096));
    const std::string prec = args.value("precision").value_or("fp32");
    try {
        o.precision = parse_precision(prec);
    } catch (const std::invalid_argument&) {
        throw InputError(where, "--precision", "expected fp32 or bf16, got '" + prec + "'");
    }
    if (dc.device == "cpu" && o.precision != TrainPrecision::FP32)
        throw InputError(where, "--precision",
                         "bf16 needs a GPU; the CPU computes in fp32" +
                             (dc.note.empty() ? std::string() : " (" + dc.note + ")"));
    try {
        return make_backend(model, o);
    } catch (const DeviceUnavailable& e) {
        throw InputError(where, "--device", "\"" + dc.device + "\" cannot be used: " + e.what());
    }
}

} // namespace bcd::cli
